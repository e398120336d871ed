"""Hunks of a diff (bisector.narrow.hunks): every subset's patch applies with real git apply
and gives exactly the parent's text with those hunks' changes."""

from __future__ import annotations

import itertools
import os
import subprocess

import pytest

from bisector.narrow import hunks as hk

OLD = "".join(f"line {i}\n" for i in range(1, 41))
# three separate hunks; the middle one has two runs of changes separated by one unchanged line
NEW = (OLD.replace("line 2\n", "line two\n")
       .replace("line 19\n", "line nineteen\n").replace("line 21\n", "line 21\nline 21b\n")
       .replace("line 38\n", ""))


def _git(repo, *args, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, text=True,
                          env=env, check=True).stdout


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "t@example.com")
    _git(tmp_path, "config", "user.name", "t")
    (tmp_path / "f.txt").write_text(OLD)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "old")
    _git(tmp_path, "tag", "old")
    (tmp_path / "f.txt").write_text(NEW)
    (tmp_path / "new.py").write_text("X = 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "new")
    return tmp_path


def _applied(repo, patch: str) -> str:
    _git(repo, "checkout", "-q", "-f", "--detach", "old")
    _git(repo, "clean", "-qfdx")
    if patch:  # git apply refuses an empty patch; nothing to apply
        _git(repo, "apply", "-", stdin=patch)
    return (repo / "f.txt").read_text()


def _expected(chosen: set[str]) -> str:
    text = OLD
    if "two" in chosen:
        text = text.replace("line 2\n", "line two\n")
    if "nineteen" in chosen:
        text = text.replace("line 19\n", "line nineteen\n")
    if "21b" in chosen:
        text = text.replace("line 21\n", "line 21\nline 21b\n")
    if "38" in chosen:
        text = text.replace("line 38\n", "")
    return text


def _label(hunk: hk.Hunk) -> set[str]:
    body = "\n".join(hunk.body)
    return {name for name, mark in (("two", "+line two"), ("nineteen", "+line nineteen"),
                                    ("21b", "+line 21b"), ("38", "-line 38")) if mark in body}


@pytest.mark.parametrize("granularity", ["hunks", "lines"])
def test_every_subset_applies_to_exactly_its_changes(repo, granularity):
    found = hk.parse(_git(repo, "diff", "--binary", "--no-renames", "old", "main"))
    if granularity == "lines":
        found = hk.split_lines(found)
    text_hunks = [h for h in found if h.path == "f.txt"]
    assert len(text_hunks) == (4 if granularity == "lines" else 3)
    assert [h.index for h in found] == list(range(len(found)))
    new_file = next(h for h in found if h.path == "new.py")
    assert new_file.whole_file and new_file.added == 1
    for size in range(len(found) + 1):
        for subset in itertools.combinations(found, size):
            chosen = set().union(*(_label(h) for h in subset)) if subset else set()
            assert _applied(repo, hk.patch(subset)) == _expected(chosen), [h.index for h in subset]


def test_places_of_changed_lines(repo):
    found = hk.parse(_git(repo, "diff", "old", "main"))
    ranges = [h.changed_range() for h in found if h.path == "f.txt"]
    assert ranges == [("new", 2, 2), ("new", 19, 22), ("old", 38, 38)]


def test_the_enclosing_definition_is_found_with_its_class():
    source = ["import os", "", "class Detector:", "    pixels = 3", "",
              "    def positions(self, rows):", "        if rows:", "            return rows * 2",
              "        return None", "", "", "def helper():", "    return 1", "", "X = helper()"]
    assert hk.enclosing_definition(source, 8) == "Detector.positions"
    assert hk.enclosing_definition(source, 4) == "Detector"
    assert hk.enclosing_definition(source, 6) == "Detector.positions"
    assert hk.enclosing_definition(source, 13) == "helper"
    assert hk.enclosing_definition(source, 15) is None
    assert hk.enclosing_definition(source, 1) is None
