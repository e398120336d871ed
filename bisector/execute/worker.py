"""The worker process of run_isolated: ``python -m bisector.execute.worker TASK RESULT``.

Reads a pickled (function, item), calls it, writes a pickled ("ok", value) or
("error", traceback text) atomically to RESULT. SIGTERM becomes an interrupt so that the
scorer's own clean-up (ending its candidate and everything it started) runs on the way
out. A lost parent needs nothing here: the supervisor's keeper ends this process's tree.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import traceback
from pathlib import Path

from ..errors import RunExit


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
