"""Text from commits is data: markup, invalid bytes and control characters never break a hunt."""

from __future__ import annotations

import os
import subprocess

from bisector import git
from bisector.cli import main
from portrepo import Change, make_port_repo

# What a rich console would read as markup, bytes that are no UTF-8, and terminal controls.
MARKUP = "load from [/usr/lib] first"
LATIN1 = b"docs: caf\xe9 cr\xe8me, \xff\xfe [bold]not bold[/bold]"
CONTROL = b"refactor: \x1b[2J clear screen, bell \x07, [link=x]y[/link]"
CULPRIT = b"physics: [red]scale[/red] from [/usr/lib] \xe9\x1b[31m"


def test_a_hunt_through_commits_with_markup_bytes_and_controls(tmp_path, xdg_cache, capfdbinary, monkeypatch):
    history = [Change("docs", message=MARKUP), Change("refactor", message=CONTROL),
               Change("docs", message=LATIN1), Change("regress", message=CULPRIT),
               Change("docs", message=MARKUP + " again"), Change("refactor", message=LATIN1)]
    port = make_port_repo(tmp_path / "port", history=history)
    monkeypatch.chdir(port.path)
    monkeypatch.setenv("COLUMNS", "200")
    code = main(["run", "--good", port.base, "--report-dir", str(tmp_path / "reports")])
    written = capfdbinary.readouterr()  # the bytes that reach the terminal, as a process writes them
    out = (written.out + written.err).decode("utf-8")  # what bisector writes is valid UTF-8
    assert code == 0, out
    assert "Traceback" not in out
    assert f"culprit: {port.culprit}" in out
    # The subject is shown as written: markup stays text, bad bytes become U+FFFD,
    # control characters are made visible instead of reaching the terminal.
    assert "[red]scale[/red] from [/usr/lib] \ufffd\\x1b[31m" in out
    assert "\x1b" not in out and "\x07" not in out
    summary = next((tmp_path / "reports").glob("*/culprit_summary.md")).read_text(encoding="utf-8")
    assert "[red]scale[/red] from [/usr/lib]" in summary


def test_commit_text_is_decoded_with_replacement(tmp_path):
    port = make_port_repo(tmp_path / "port", history=[Change("docs", message=LATIN1 + b"\n\nbody \xff")])
    info = git.commit_info(port.path, port.head)
    assert info.subject == "docs: caf\ufffd cr\ufffdme, \ufffd\ufffd [bold]not bold[/bold]"
    assert info.sha == port.head and info.author == "Port Author <port@example.com>"
    # The same subject git itself prints, byte for byte where the bytes are UTF-8.
    raw = subprocess.run(["git", "-C", str(port.path), "log", "-1", "--format=%s"], capture_output=True).stdout
    assert raw.rstrip(b"\n").decode("utf-8", "replace") == info.subject


def test_a_declared_commit_encoding_is_honoured_and_an_unknown_one_is_survived(tmp_path):
    port = make_port_repo(tmp_path / "port", history=[Change("docs")])

    def commit(encoding: str, message: bytes) -> str:
        (port.path / "docs" / "notes.md").write_bytes(message)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        run = lambda *a: subprocess.run(["git", "-C", str(port.path), *a], env=env, check=True,  # noqa: E731
                                        capture_output=True, input=message)
        run("add", "docs/notes.md")
        run("-c", "user.name=T\xe9st", "-c", "user.email=t@example.com", "-c", f"i18n.commitEncoding={encoding}",
            "commit", "-q", "-F", "-")
        return git.resolve(port.path, "HEAD")

    latin1 = commit("ISO-8859-1", b"caf\xe9 cr\xe8me\n")
    assert git.commit_info(port.path, latin1).subject == "café crème"
    unknown = commit("x-no-such-codec", b"na\xefve\n")
    assert git.commit_info(port.path, unknown).subject == "na\ufffdve"
