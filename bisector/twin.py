"""``twin`` as a C reference: the C twin of simkernel (simkernel.cref), built once per source
version with the system compiler, used wherever a C program can be named.

`bisector demo` judges its port against this twin; naming it (``--c-bin twin``,
``NB_C_BIN=twin`` or ``c_bin = "twin"``) spares the user the path of a hash folder deep in
the cache, and keeps working when the twin's source changes and the folder with it.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError

TWIN = "twin"


def c_program(value: str) -> str:
    """``value``, or the built twin's path when ``value`` is ``twin`` (ConfigError when it cannot be built)."""
    if value != TWIN:
        return value
    return str(twin_binary())


def twin_binary() -> Path:
    from simkernel import cref  # on use: simkernel (numpy, 0.17 s) loads only when the twin is asked for

    try:
        return cref.binary()
    except cref.BuildError as exc:
        raise ConfigError(f"the C twin cannot be built: {exc}",
                          hint="install a C compiler (gcc), or pass --c-bin with another C program") from None
