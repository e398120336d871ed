"""Shared helpers for the simkernel tests: the golden cases copied from the C program."""
import json
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"


def load_golden_case(name: str) -> dict:
    """The case's JSON plus 'argv' (physics args, -hkl pointing into the golden folder) and 'image'."""
    meta = json.loads((GOLDEN / f"{name}.json").read_text())
    meta["argv"] = [str(GOLDEN / a) if a == "small.hkl" else a for a in meta["args_physics"]]
    meta["image"] = np.load(GOLDEN / f"{name}.npy").astype(np.float64)
    return meta


@pytest.fixture
def golden_case():
    """Function name -> golden case dict (see load_golden_case)."""
    return load_golden_case


@pytest.fixture
def golden_dir() -> Path:
    return GOLDEN


@pytest.fixture
def base_args() -> list[str]:
    return "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels 128".split()
