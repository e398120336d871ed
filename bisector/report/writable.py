"""Where a command will write, checked before it does anything expensive.

A report folder or output file that cannot be written is bad input (the user named a
wrong place): better said in one line before an hour of scoring than found at the end.
Nothing is left behind by the check: folders it had to make are removed again.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from ..errors import ConfigError


def writable_folder(folder: Path, option: str, what: str = "reports") -> Path:
    """``folder`` as an absolute path, once a file could be made in it (``option`` names the flag,
    ``what`` what goes there)."""
    folder = Path(folder).absolute()
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write {what} to {folder}: {_why(folder, exc)}",
                          hint=f"pass {option} with a folder you can write to") from None
    finally:
        for made in created:  # made again when the output is written; a refused command leaves none
            try:
                made.rmdir()
            except OSError:
                break
    return folder


def report_folder(given: Path | None, command: str) -> Path:
    """Where ``command``'s report bundles go (``--report-dir``, else ./reports/COMMAND), checked."""
    return writable_folder(Path(given) if given else Path.cwd() / "reports" / command, "--report-dir")


def writable_file(path: Path, option: str, suffixes: tuple[str, ...] = ()) -> Path:
    """``path`` as an absolute path, once it could be written (its folder made, or the file
    opened for writing without changing it). ``suffixes``: the names it may end with."""
    path = Path(path).absolute()
    if suffixes and path.suffix.lower() not in suffixes:
        raise ConfigError(f"{option} {path.name}: the file is written as {suffixes[0].lstrip('.').upper()}",
                          hint=f"give {option} a file name ending in {' or '.join(suffixes)}")
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a folder", hint=f"give {option} a file name")
    writable_folder(path.parent, option, what=path.name)
    if path.exists():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {_why(path, exc)}",
                              hint=f"pass {option} with a file you can write") from None
    return path


def _why(path: Path, exc: OSError) -> str:
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            return f"{blocker} is a file, not a folder"
    return exc.strerror or str(exc)
