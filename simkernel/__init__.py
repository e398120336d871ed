"""simkernel: a vectorised PyTorch nanoBragg kernel with nanoBragg's command line.

Public API: parse_args, parse_command_line, simulate, SimConfig, OutputOptions,
ArgumentError, __version__.
"""
from .errors import ArgumentError
from .config import OutputOptions, SimConfig
from .args import parse_args, parse_command_line
from .simulate import simulate

__version__ = "0.1.0"

__all__ = ["ArgumentError", "OutputOptions", "SimConfig", "parse_args", "parse_command_line",
           "simulate", "__version__"]
