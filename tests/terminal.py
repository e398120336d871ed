"""Run a command under a real pseudo-terminal of a given size and read back what a person sees.

The program sees a terminal (isatty, TIOCGWINSZ), so rich lays out for it exactly as it would
in a user's 80-column window; COLUMNS and LINES are removed so that only the terminal's size
counts.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
from pathlib import Path

_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def run_in_terminal(argv: list[str], *, columns: int = 80, rows: int = 50, cwd: Path | None = None,
                    env: dict[str, str] | None = None, timeout: float = 600) -> tuple[int, list[str]]:
    """Exit code and the lines shown (escape codes removed; spinner redraws split at \\r)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in (env if env is not None else os.environ).items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the program closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = proc.wait(timeout=timeout)
    finally:
        os.close(master)
    text = _ESCAPE.sub("", b"".join(chunks).decode("utf-8", errors="replace"))
    return code, [line for part in text.split("\n") for line in part.split("\r") if line.strip()]
