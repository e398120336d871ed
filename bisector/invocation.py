"""The program name that commands bisector prints for a person should start with.

A printed command ("reproduce with: ...", "scan it by hand with: ...") must work when pasted
into a fresh shell. After the README's install bisector lives in ``.venv/bin/`` and is not on
PATH, so a bare ``bisector`` would fail there: the command names the running entry point by
its absolute path unless PATH finds that very program.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

NAME = "bisector"


def program() -> list[str]:
    """The argv prefix that starts this bisector from any shell: ``bisector`` when PATH finds
    the running entry point, its absolute path when not, or ``python -m bisector``."""
    script = _entry_point()
    if script is None:
        return [str(Path(sys.executable).absolute()), "-m", NAME]
    found = shutil.which(NAME)
    if found and Path(found).resolve() == script.resolve():
        return [NAME]
    return [str(script.absolute())]


def _entry_point() -> Path | None:
    """The console script running now; else (``python -m bisector``, a test, a library call)
    the one installed beside this interpreter, which runs the same installation."""
    invoked = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if invoked is not None and invoked.name == NAME and invoked.is_file():
        return invoked
    # not resolved: a virtual environment's python is a link out of its bin folder
    beside = Path(sys.executable).parent / NAME
    return beside if beside.is_file() else None
