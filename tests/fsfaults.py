"""Real file-system faults for tests: read-only files and folders, a nearly full file system.

Root ignores permission bits, so as root a read-only place is made immutable (chattr +i)
and a full disk is a tiny tmpfs mounted for the test; where the machine refuses either,
the test is skipped with the reason rather than faked.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


def read_only(paths: list[Path], request) -> None:
    """Make ``paths`` read-only for anyone, root included, until the test ends."""
    request.addfinalizer(lambda: [p.chmod(0o755) for p in paths if p.exists()])  # after chattr -i below
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("running as root without chattr +i: cannot make a read-only file")
        request.addfinalizer(lambda: subprocess.run(["chattr", "-i", *map(str, paths)], capture_output=True))


def small_filesystem(folder: Path, request, size_kib: int) -> Path:
    """A tmpfs of ``size_kib`` KiB mounted at ``folder`` for the test (root only)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(folder)], capture_output=True))
    return folder


def fill(folder: Path, leave_bytes: int) -> None:
    """Fill the file system of ``folder`` until about ``leave_bytes`` are free."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    with open(folder / "filler", "wb") as fh:
        try:
            fh.write(b"\0" * max(0, free - leave_bytes))
        except OSError:
            pass
