"""`bisector trace-diff C_TRACE PY_TRACE`: the first quantity where two pixel traces diverge."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from . import options as opt


@app.command("trace-diff", cls=opt.Command, short_help="The first quantity where two pixel traces diverge.")
def trace_diff(
    c_trace: Annotated[Path, typer.Argument(metavar="C_TRACE", help="Trace log of the reference (lines 'TRACE_C: name value ...').")],
    py_trace: Annotated[Path, typer.Argument(metavar="PY_TRACE", help="Trace log of the port (lines 'TRACE_PY: name value ...').")],
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance, against the largest component of each quantity.")] = 1e-6,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance added to the relative one.")] = 0.0,
    out: Annotated[Optional[Path], typer.Option("--out", help="Also write the report to this markdown file.")] = None,
) -> None:
    """Align two per-pixel traces by name and occurrence; name the first divergence (exit 0 agree, 1 diverge, 2 bad input)."""
    from ..diagnose.tracediff import diff_traces, read_trace, report_lines
    from ..report.writable import writable_file

    if out is not None:
        out = writable_file(out, "--out")
    diff = diff_traces(read_trace(c_trace), read_trace(py_trace), rtol=rtol, atol=atol,
                       first_name=c_trace.name, second_name=py_trace.name)
    text = "\n".join(report_lines(diff))
    typer.echo(text)
    if out is not None:
        from ..files import atomic_write

        atomic_write(out, (text + "\n").encode())
    raise typer.Exit(diff.exit_code)
