"""simkernel: a vectorised PyTorch nanoBragg kernel with nanoBragg's command line.

Public API: parse_args, parse_command_line, simulate, SimConfig, OutputOptions,
ArgumentError, __version__. Importing the package does not import torch: ``simulate`` is
loaded on first use, so ``simkernel.args``, ``simkernel.io`` and ``simkernel.cref`` (and
the ``simkernel-c`` command) start without it.
"""
from .errors import ArgumentError
from .config import OutputOptions, SimConfig
from .args import parse_args, parse_command_line

__version__ = "0.2.0"

__all__ = ["ArgumentError", "OutputOptions", "SimConfig", "parse_args", "parse_command_line",
           "simulate", "__version__"]


def __getattr__(name: str):
    if name == "simulate":
        from .kernel import simulate

        globals()["simulate"] = simulate
        return simulate
    raise AttributeError(f"module 'simkernel' has no attribute {name!r}")
