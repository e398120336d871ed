"""``simkernel`` / ``python -m simkernel``: nanoBragg's command line on the PyTorch kernel.

The flags are those of the table shared with the C twin (``simkernel --help`` lists them);
both programs print the same parameter lines and write the same files. Writes only the files
asked for (-floatfile and/or -intfile); -noisefile and -pgmfile are accepted but not written
(a note goes to stderr). -device cpu|cuda (default: cuda when available) and -dtype
float32|float64 (default float64: C's double precision; float32 is faster and agrees to
~1e-5) choose where and how the kernel runs. Exit status: 0 ok, 2 bad arguments, 1 other
failures.
"""
from __future__ import annotations

import sys
from typing import Optional

from . import __version__
from .args import parse_command_line
from .describe import describe, summary
from .errors import ArgumentError
from .flags import help_lines, usage
from .io import as_float_image, smv_header_items, write_floatfile, write_smv

PROGRAM = "simkernel"
EXIT_USAGE = 2
EXIT_FAILURE = 1
HELP_FLAGS = ("-h", "--help", "-help")


def _device(requested: Optional[str]) -> str:
    import torch

    if requested is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ArgumentError("-device", "CUDA is not available on this machine; use -device cpu")
    return requested


def _run(argv: list[str]) -> int:
    config, options = parse_command_line(argv)
    import torch  # after parsing: usage errors do not pay for importing torch

    from .kernel import simulate
    from .trace import format_trace, trace_pixel

    device = _device(options.device)
    dtype = torch.float32 if options.dtype == "float32" else torch.float64
    print(f"{PROGRAM} {__version__}: PyTorch nanoBragg kernel on {device}, {options.dtype}")
    for line in describe(config):
        print(line)
    for flag, path in (("-noisefile", options.noisefile), ("-pgmfile", options.pgmfile)):
        if path is not None:
            print(f"note: {flag} is accepted but {PROGRAM} does not write {path}", file=sys.stderr)
    image = as_float_image(simulate(config, device=device, dtype=dtype))
    if options.trace_pixel is not None:
        for line in format_trace(trace_pixel(config, *options.trace_pixel, device=device, dtype=dtype), "TRACE_PY"):
            print(line)
    print()
    if options.floatfile is not None:
        print(f"writing {options.floatfile} as {image.size} 4-byte floats")
        write_floatfile(options.floatfile, image)
    for line in summary(image, config):
        print(line)
    if options.intfile is not None:
        scale = write_smv(options.intfile, image, scale=options.intfile_scale, adc_offset=options.adc_offset,
                          header_items=smv_header_items(config))
        print("intfile_scale = %g" % scale)
        print(f"writing {options.intfile} as 2-byte integers")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    """Run the simulator on nanoBragg-style arguments; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(token in HELP_FLAGS for token in argv):
        print("\n".join([usage(PROGRAM), ""] + help_lines()))
        return 0
    try:
        return _run(argv)
    except ArgumentError as exc:
        print(f"{PROGRAM}: error: {exc}", file=sys.stderr)
        print(usage(PROGRAM), file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"{PROGRAM}: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
