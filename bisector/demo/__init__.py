"""The embedded demo: a generated PyTorch port with a realistic history, and a hunt through it."""

from .port_history import (
           DEFAULT_SEED,
           DemoError,
           DemoRepo,
           Regression,
           generate,
           scenario_pixels,
)
from .hunt import DemoOutcome, run_demo

__all__ = ["DEFAULT_SEED", "DemoError", "DemoOutcome", "DemoRepo", "Regression", "generate",
           "run_demo", "scenario_pixels"]
