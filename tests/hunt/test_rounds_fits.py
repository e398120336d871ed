"""A range with merges is bisected one commit at a time, and the user is told why."""

from __future__ import annotations

import io
import os
import subprocess

from rich.console import Console

from bisector.cli.console import ConsoleHandler
from bisector.hunt.rounds import fits
from portrepo import Change, make_port_repo


def _git(repo, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def test_merges_in_the_range_fall_back_to_one_at_a_time(tmp_path):
    port = make_port_repo(tmp_path / "port", history=[Change("refactor"), Change("docs")])
    out = io.StringIO()
    assert fits(port.path, port.base, port.head, ConsoleHandler(Console(file=out))) and out.getvalue() == ""
    _git(port.path, "checkout", "-q", "-b", "side", port.shas[0])
    (port.path / "side.txt").write_text("side\n")
    _git(port.path, "add", "side.txt")
    _git(port.path, "commit", "-q", "-m", "side work")
    _git(port.path, "checkout", "-q", "main")
    _git(port.path, "merge", "-q", "--no-edit", "side")
    assert not fits(port.path, port.base, "HEAD", ConsoleHandler(Console(file=out)))
    assert "merge commits" in out.getvalue()
