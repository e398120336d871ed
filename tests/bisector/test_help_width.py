"""Help reads at 80 columns: in a real 80-column terminal no option name is cut and no line
is longer than the terminal, and descriptions are filled by the formatter, not by hand."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest
import typer

from bisector.cli import app

WIDTH = 80


def _commands(group=None, path=()):
    group = group or typer.main.get_command(app)
    yield path, group
    for name, command in group.commands.items() if hasattr(group, "commands") else ():
        yield from _commands(command, path + (name,))


COMMANDS = {path: command for path, command in _commands()}

# One interpreter prints every help, one after the other, separated by a line of its own.
SEPARATOR = "=====8<====="
DRIVER = ("import sys; from bisector.cli import main\n"
          f"for argv in {[list(path) for path in COMMANDS]!r}:\n"
          f"    print({SEPARATOR!r}, flush=True); main([*argv, '--help']); sys.stdout.flush()\n")


@pytest.fixture(scope="module")
def helps() -> dict[tuple[str, ...], str]:
    """Each command's --help as printed to a pseudo-terminal of 80 columns."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, WIDTH, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}  # the terminal says it
    proc = subprocess.Popen([sys.executable, "-c", DRIVER], stdin=slave, stdout=slave, stderr=slave, env=env,
                            close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=120) == 0
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    parts = text.split(SEPARATOR + "\n")[1:]
    assert len(parts) == len(COMMANDS), text
    return dict(zip(COMMANDS, parts))


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "bisector")
def test_no_line_is_wider_than_the_terminal_and_nothing_is_cut(helps, path):
    text = helps[path]
    assert "Usage: bisector" in text
    too_wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert too_wide == [], too_wide
    assert "\u2026" not in text  # rich's mark of a cut
    assert not re.search(r"\w\.\.\.$", text, re.M), text  # click's mark of a shortened summary


@pytest.mark.parametrize("path", [p for p, c in COMMANDS.items() if not hasattr(c, "commands")],
                         ids=lambda p: " ".join(p))
def test_every_option_name_shows_whole(helps, path):
    text = helps[path]
    for param in COMMANDS[path].params:
        if param.param_type_name == "option" and not param.hidden:
            for name in param.opts + param.secondary_opts:
                assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text), (name, text)


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "bisector")
def test_descriptions_are_filled_by_the_formatter(helps, path):
    """No line of a description paragraph could have taken the next line's first word: the
    text was wrapped to the terminal, not broken by hand at some other width."""
    description = helps[path].split("\n\n", 1)[1].split("\nOptions:")[0].split("\nArguments:")[0]
    for paragraph in description.strip("\n").split("\n\n"):
        lines = paragraph.splitlines()
        for line, following in zip(lines, lines[1:]):
            next_word = following.split()[0]
            assert len(line) + 1 + len(next_word) > WIDTH - 2, (line, following)
