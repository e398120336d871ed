"""`bisector demo --narrow` on a small demo: the culprit's five hunks narrowed to the injected one."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bisector.demo import run_demo


@pytest.mark.slow
def test_demo_narrow_names_the_injected_hunk_among_five(tmp_path, c_twin):
    console = Console(file=io.StringIO(), width=200)
    outcome = run_demo(dir=tmp_path / "port", commits=200, size=64, console=console,
                       cache_dir=tmp_path / "cache", scenarios=["benchmark"], narrow=True)
    printed = console.file.getvalue()
    assert outcome.found and outcome.narrowed_right, printed
    n = outcome.narrowing
    assert [h.path for h in n.hunks] == ["src/nbport/cli.py"] * 3 + ["src/nbport/params.py", "src/nbport/simulator.py"]
    (place,) = [n.places[i] for i in n.minimal]
    assert place.path == "src/nbport/cli.py" and place.function == "parse_args"
    assert n.complement is not None and n.complement.outcome.value == "pass"
    assert n.search.tests <= n.bound
    assert "narrow named the injected hunk" in printed
    assert "## Narrowing" in (outcome.report_dir / "culprit_summary.md").read_text()
