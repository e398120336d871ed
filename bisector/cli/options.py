"""Flags shared by several commands, turned into configuration overrides."""

from __future__ import annotations

from pathlib import Path

from ..config import ConfigOverrides


def overrides_from(*, c_bin: Path | None = None, paths: list[str] | None = None,
                   scenarios: list[str] | None = None, timeout: float | None = None,
                   min_correlation: float | None = None, max_sum_ratio_error: float | None = None,
                   reference: str | None = None, eager: bool | None = None,
                   paranoid: bool | None = None) -> ConfigOverrides:
    return ConfigOverrides(
        c_bin=str(c_bin) if c_bin else None,
        paths=tuple(paths) if paths else None,
        scenarios=tuple(scenarios) if scenarios else None,
        timeout_s=timeout,
        min_correlation=min_correlation,
        max_sum_ratio_error=max_sum_ratio_error,
        reference_kind=reference,
        eager=eager,
        paranoid=paranoid,
    )
