"""The C twin of simkernel: build it once per source hash, run it, read its image.

The C source ships inside the package (``simkernel/csrc/nanobragg_twin.c``, one
self-contained file that also holds the command-line table simkernel's parser reads). It is
compiled on first use with the system C compiler (``$CC``, else ``cc`` or ``gcc``)
into a per-user cache folder keyed by the source's sha256::

    ${XDG_CACHE_HOME:-~/.cache}/simkernel/<sha256[:16]>/nanobragg_twin

so a changed source gets a fresh binary and concurrent first uses never see a
half-written file (each compiles into its own temp file, then ``os.replace``).
Importing this module does not import torch (``simkernel-c`` starts the C program at once).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "BuildError",
    "source_path",
    "binary",
    "binary_sha256",
    "run",
    "simulate",
    "main",
]

_SOURCE_NAME = "nanobragg_twin.c"
BINARY_NAME = "nanobragg_twin"
# Portable flags only: the cache may be shared by machines with different CPUs.
_CFLAGS = ["-O3", "-fopenmp"]
_LIBS = ["-lm"]
_STDERR_TAIL_CHARS = 3000


class BuildError(RuntimeError):
    """The C twin could not be compiled (no compiler, or the compiler failed)."""


def source_path() -> Path:
    """Path of the C twin's source file shipped with the package."""
    return Path(__file__).resolve().parent / "csrc" / _SOURCE_NAME


def _source_sha256() -> str:
    return hashlib.sha256(source_path().read_bytes()).hexdigest()


def build_root() -> Path:
    """The per-user folder of C twin builds, one subfolder per source hash."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "simkernel"


def _compiler() -> list[str]:
    """The compiler command: $CC (may carry its own flags), else cc, else gcc."""
    cc_env = os.environ.get("CC", "").strip()
    if cc_env:
        command = shlex.split(cc_env)
        if shutil.which(command[0]) is None:
            raise BuildError(
                f"the C compiler given in $CC ({command[0]!r}) was not found; "
                "install gcc (e.g. 'apt-get install gcc') or point $CC at a C compiler"
            )
        return command
    for name in ("cc", "gcc"):
        found = shutil.which(name)
        if found:
            return [found]
    raise BuildError(
        "no C compiler found (looked for $CC, cc and gcc); the C twin needs one: "
        "install gcc (e.g. 'apt-get install gcc' or 'conda install gcc') and retry"
    )


def _run_compiler(argv: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BuildError(
            f"could not start the C compiler {argv[0]!r}: {exc}; install gcc and retry"
        ) from exc


def _built(result: subprocess.CompletedProcess, output: Path) -> bool:
    return result.returncode == 0 and output.exists() and output.stat().st_size > 0


def _compile(target: Path) -> None:
    """Compile the source into `target` atomically (temp file in the same folder).

    Tries with OpenMP first; a compiler without OpenMP support (e.g. Apple clang) gets
    a serial build rather than none.
    """
    command = _compiler()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{BINARY_NAME}.", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        argv = [*command, *_CFLAGS, str(source_path()), "-o", str(tmp), *_LIBS]
        result = _run_compiler(argv)
        serial = [a for a in argv if a != "-fopenmp"]
        if not (_built(result, tmp) or _built(_run_compiler(serial), tmp)):
            tail = (result.stderr or result.stdout or "(no output)")[-_STDERR_TAIL_CHARS:]
            raise BuildError(
                f"compiling the C twin failed (exit status {result.returncode}) with\n"
                f"  {shlex.join(argv)}\n{tail.rstrip()}\n"
                "check $CC, or install gcc (e.g. 'apt-get install gcc') and unset $CC"
            )
        tmp.chmod(0o755)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def binary() -> Path:
    """Path of the compiled C twin, building it on first use (raises BuildError)."""
    target = build_root() / _source_sha256()[:16] / BINARY_NAME
    if not (target.is_file() and os.access(target, os.X_OK)):
        _compile(target)
    return target


def binary_sha256() -> str:
    """sha256 of the compiled binary (builds it first if needed); for cache keys."""
    return hashlib.sha256(binary().read_bytes()).hexdigest()


def run(
    argv: list[str], cwd: Path, threads: int | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess:
    """Run the C twin with nanoBragg-style arguments in `cwd`, capturing text output.

    `threads` sets OMP_NUM_THREADS for this run only. No shell is involved.
    """
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(int(threads))
    return subprocess.run(
        [str(binary()), *map(str, argv)],
        cwd=str(cwd),
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


_SIZE_LINE = re.compile(r"\((\d+)x(\d+) pixels\)")
_OUTPUT_FLAGS = {"-floatfile": 1, "-intfile": 1, "-noisefile": 1, "-pgmfile": 1}


def _without_output_flags(argv: list[str]) -> list[str]:
    kept, i = [], 0
    while i < len(argv):
        skip = _OUTPUT_FLAGS.get(argv[i])
        if skip is not None:
            i += 1 + skip
            continue
        kept.append(argv[i])
        i += 1
    return kept


def simulate(
    argv: list[str], shape: tuple[int, int] | None = None, threads: int | None = None
) -> np.ndarray:
    """Run the C twin in a temporary folder and return its image.

    Returns a float32 array of shape (slow, fast). The shape is taken from the
    ``(FxS pixels)`` line the program prints unless `shape` is given. Relative
    paths in `argv` (e.g. an -hkl file) are resolved against the current folder.
    Raises RuntimeError naming the exit status and stderr if the run fails.
    """
    args = _without_output_flags([str(a) for a in argv])
    if "-hkl" in args:
        i = args.index("-hkl") + 1
        if i < len(args):
            args[i] = str(Path(args[i]).resolve())
    with tempfile.TemporaryDirectory(prefix="simkernel-c-") as tmp:
        result = run([*args, "-floatfile", "float.bin"], Path(tmp), threads=threads)
        if result.returncode != 0:
            raise RuntimeError(
                f"C twin failed with exit status {result.returncode}: {result.stderr.strip()}"
            )
        if shape is None:
            match = _SIZE_LINE.search(result.stdout)
            if match is None:
                raise RuntimeError("C twin did not report the detector size")
            shape = (int(match.group(2)), int(match.group(1)))
        data = np.fromfile(Path(tmp) / "float.bin", dtype="<f4")
    if data.size != shape[0] * shape[1]:
        raise RuntimeError(f"C twin wrote {data.size} floats, expected {shape[0]}x{shape[1]}")
    return data.reshape(shape)


def main(argv: list[str] | None = None) -> int:
    """Console script ``simkernel-c``: build if needed, then run the twin with `argv`."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        path = binary()
    except BuildError as exc:
        sys.stderr.write(f"simkernel-c: cannot build the C twin: {exc}\n")
        return 3
    sys.stdout.flush()
    sys.stderr.flush()
    return subprocess.call([str(path), *args])


if __name__ == "__main__":
    sys.exit(main())
