"""The worker process of run_isolated: ``python -m bisector.execute.worker TASK RESULT``.

Reads a pickled (function, item), calls it, writes a pickled ("ok", value) or
("error", traceback text) atomically to RESULT. SIGTERM becomes an interrupt so that the
scorer's own clean-up (killing its candidate's process group) runs on the way out, and
on Linux the worker also receives SIGTERM when its parent dies, so a lost parent never
leaves a candidate running.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import traceback
from pathlib import Path

from ..errors import RunExit
from .isolated import PARENT_ENV

_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    _die_with_parent()
    task, result = Path(argv[0]), Path(argv[1])
    try:
        fn, item = pickle.loads(task.read_bytes())
        try:
            payload = ("ok", fn(item))
        except Exception:  # noqa: BLE001 - the parent decides: retry, then give up with the reason
            payload = ("error", traceback.format_exc())
        _write(result, pickle.dumps(payload))
    except KeyboardInterrupt:
        return RunExit.INTERRUPTED
    return 0


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    parent = os.environ.get(PARENT_ENV)
    if parent and int(parent) != os.getppid():  # the parent died before prctl took effect
        raise SystemExit(RunExit.INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
