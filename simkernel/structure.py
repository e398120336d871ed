"""Structure factors: the P1 HKL table (dense grid) and F_cell lookup/interpolation.

The table is a dense float64 grid over [h_min..h_max] x [k_min..k_max] x [l_min..l_max];
grid points absent from the file hold default_F (0 when default_F == 0), exactly as nanoBragg
prefills it. F stays float64 (an integer fill value would truncate F).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True, eq=False)
class HklTable:
    """Dense structure-factor grid; ``values[h - h_min, k - k_min, l - l_min]`` is F (electrons)."""

    h_range: tuple[int, int]
    k_range: tuple[int, int]
    l_range: tuple[int, int]
    values: np.ndarray
    entries: int


def _nearest_index(x: float) -> int:
    """nanoBragg's rounding: ceil(x - 0.5), so exact half-integers round down."""
    return int(math.ceil(x - 0.5))


def parse_hkl_text(text: str) -> list[tuple[int, int, int, float]]:
    """Read whitespace-separated ``h k l F`` quads until the first group that fails to parse
    (like nanoBragg's fscanf loop). Returns the entries with h, k, l rounded to integers."""
    tokens = text.split()
    entries = []
    for start in range(0, len(tokens) - 3, 4):
        try:
            h, k, l, f = (float(t) for t in tokens[start:start + 4])
        except ValueError:
            break
        if not all(math.isfinite(v) for v in (h, k, l, f)):
            break
        entries.append((_nearest_index(h), _nearest_index(k), _nearest_index(l), f))
    return entries


def build_table(entries: list[tuple[int, int, int, float]], default_F: float) -> HklTable:
    """Dense grid from entries; later duplicates overwrite earlier ones (second pass of C)."""
    hs, ks, ls = (np.array([e[i] for e in entries], dtype=np.int64) for i in range(3))
    lo = (int(hs.min()), int(ks.min()), int(ls.min()))
    hi = (int(hs.max()), int(ks.max()), int(ls.max()))
    shape = tuple(h - l + 1 for l, h in zip(lo, hi))
    values = np.full(shape, float(default_F), dtype=np.float64)
    for (h, k, l, f) in entries:
        values[h - lo[0], k - lo[1], l - lo[2]] = f
    values.setflags(write=False)
    return HklTable((lo[0], hi[0]), (lo[1], hi[1]), (lo[2], hi[2]), values, len(entries))


def read_hkl(path: str | Path, default_F: float) -> HklTable:
    """Load an HKL text file. Raises OSError if unreadable, ValueError if it holds no entry."""
    text = Path(path).read_text(errors="replace")
    entries = parse_hkl_text(text)
    if not entries:
        raise ValueError("no 'h k l F' entries found")
    return build_table(entries, default_F)


def nearest_lookup(table: HklTable, h0: torch.Tensor, k0: torch.Tensor, l0: torch.Tensor,
                   grid: torch.Tensor, default_F: float) -> torch.Tensor:
    """F at integer indices (int64 tensors of one shape); default_F outside the table.

    ``grid`` is ``table.values`` as a flat tensor on the kernel's device/dtype.
    """
    import torch  # lazily: argument parsing must not pay for importing torch

    (hmin, hmax), (kmin, kmax), (lmin, lmax) = table.h_range, table.k_range, table.l_range
    nk, nl = kmax - kmin + 1, lmax - lmin + 1
    inside = (h0 >= hmin) & (h0 <= hmax) & (k0 >= kmin) & (k0 <= kmax) & (l0 >= lmin) & (l0 <= lmax)
    hi = (h0 - hmin).clamp_(0, hmax - hmin)
    ki = (k0 - kmin).clamp_(0, kmax - kmin)
    li = (l0 - lmin).clamp_(0, lmax - lmin)
    flat = (hi * nk + ki) * nl + li
    values = grid[flat]
    return torch.where(inside, values, torch.full_like(values, default_F))


def _lagrange_weights(t: torch.Tensor) -> list[torch.Tensor]:
    """Weights of the 4-point Lagrange polynomial through nodes -1, 0, 1, 2 evaluated at t."""
    return [
        -t * (t - 1) * (t - 2) / 6,
        (t + 1) * (t - 1) * (t - 2) / 2,
        -(t + 1) * t * (t - 2) / 2,
        (t + 1) * t * (t - 1) / 6,
    ]


def tricubic(table: HklTable, h: torch.Tensor, k: torch.Tensor, l: torch.Tensor,
             grid: torch.Tensor, default_F: float) -> torch.Tensor:
    """Tricubic (4x4x4 Lagrange) interpolation of F around floor(h, k, l).

    Points whose 4x4x4 neighbourhood leaves the table get default_F. (nanoBragg additionally
    switches interpolation off for the rest of the run after the first such point; simkernel
    treats every point on its own, which does not depend on the pixel order.)
    """
    import torch

    (hmin, hmax), (kmin, kmax), (lmin, lmax) = table.h_range, table.k_range, table.l_range
    nk, nl = kmax - kmin + 1, lmax - lmin + 1
    fh, fk, fl = torch.floor(h), torch.floor(k), torch.floor(l)
    inside = ((fh - 1 >= hmin) & (fh + 2 <= hmax) & (fk - 1 >= kmin) & (fk + 2 <= kmax)
              & (fl - 1 >= lmin) & (fl + 2 <= lmax))
    wh, wk, wl = _lagrange_weights(h - fh), _lagrange_weights(k - fk), _lagrange_weights(l - fl)
    hi = (fh.long() - 1 - hmin).clamp_(0, max(hmax - hmin - 3, 0))
    ki = (fk.long() - 1 - kmin).clamp_(0, max(kmax - kmin - 3, 0))
    li = (fl.long() - 1 - lmin).clamp_(0, max(lmax - lmin - 3, 0))
    result = torch.zeros_like(h)
    for a in range(4):
        for b in range(4):
            for c in range(4):
                flat = ((hi + a).clamp_(max=hmax - hmin) * nk + (ki + b).clamp_(max=kmax - kmin)) * nl \
                    + (li + c).clamp_(max=lmax - lmin)
                result += wh[a] * wk[b] * wl[c] * grid[flat]
    return torch.where(inside, result, torch.full_like(result, default_F))
