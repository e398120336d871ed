"""``simkernel`` / ``python -m simkernel``: nanoBragg's command line on the PyTorch kernel.

Writes only the files asked for (-floatfile and/or -intfile). -noisefile and -pgmfile are
accepted for compatibility but not written (a note goes to stderr). Extra options:
-device cpu|cuda (default: cuda when available, else cpu) and -dtype float32|float64
(default float64: the reference image should match C's double-precision arithmetic; float32
is faster and agrees to ~1e-5). Exit status: 0 ok, 2 bad arguments, 1 other failures.
"""
from __future__ import annotations

import sys
from typing import Optional

from . import __version__
from .args import parse_command_line
from .describe import describe, summary
from .errors import ArgumentError
from .io import write_floatfile, write_smv

EXIT_USAGE = 2
EXIT_FAILURE = 1

USAGE = ("usage: simkernel -cell a b c alpha beta gamma (-default_F F | -hkl FILE) [nanoBragg options] "
         "[-floatfile FILE] [-intfile FILE] [-device cpu|cuda] [-dtype float32|float64]")


def _device(requested: Optional[str]) -> str:
    import torch

    if requested is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ArgumentError("-device", "CUDA is not available on this machine; use -device cpu")
    return requested


def _smv_header_items(config) -> dict:
    return {"PIXEL_SIZE": "%g" % (config.pixel_size_m * 1e3), "DISTANCE": "%g" % (config.distance_m * 1e3),
            "WAVELENGTH": "%g" % (config.wavelength_m * 1e10),
            "BEAM_CENTER_X": "%g" % (config.xbeam_m * 1e3), "BEAM_CENTER_Y": "%g" % (config.ybeam_m * 1e3)}


def _run(argv: list[str]) -> int:
    config, options = parse_command_line(argv)
    import torch  # after parsing: usage errors do not pay for importing torch

    from .simulate import simulate

    device = _device(options.device)
    dtype = torch.float32 if options.dtype == "float32" else torch.float64
    print(f"simkernel {__version__} (PyTorch nanoBragg kernel) on {device}, {options.dtype}")
    for line in describe(config):
        print(line)
    for flag, path in (("-noisefile", options.noisefile), ("-pgmfile", options.pgmfile)):
        if path is not None:
            print(f"note: {flag} is accepted but simkernel does not write {path}", file=sys.stderr)
    image = simulate(config, device=device, dtype=dtype).cpu()
    print()
    if options.floatfile is not None:
        print(f"writing {options.floatfile} as {image.numel()} 4-byte floats")
        write_floatfile(options.floatfile, image)
    for line in summary(image, config):
        print(line)
    if options.intfile is not None:
        scale = write_smv(options.intfile, image, scale=options.intfile_scale, adc_offset=options.adc_offset,
                          header_items=_smv_header_items(config))
        print("intfile_scale = %g" % scale)
        print(f"writing {options.intfile} as 2-byte integers")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    """Run the simulator on nanoBragg-style arguments; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "-help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        return EXIT_USAGE if not argv else 0
    try:
        return _run(argv)
    except ArgumentError as exc:
        print(f"simkernel: error: {exc}", file=sys.stderr)
        print(USAGE, file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"simkernel: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
