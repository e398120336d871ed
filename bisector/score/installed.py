"""Versions of the packages candidates run with (they run with this interpreter).

Read from package metadata, never by importing the package: importing torch would cost a
git-bisect step seconds.
"""

from __future__ import annotations


def version_of(name: str) -> str | None:
    """The installed version of distribution ``name``, or None when it is not installed."""
    # Imported on use: package metadata costs a git-bisect step about 20 ms of its 150, and a
    # step whose run pinned the environment (hunt/step.py) never reads it.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None
