"""A commit's diff as hunks (per file, per hunk), and the patch of any subset of them.

Pure text: the diff comes from ``git diff --binary --no-renames`` (git.diff_patch). A file
whose change has no textual hunk (binary, mode only, a new or deleted file) is one
indivisible hunk. ``lines`` granularity cuts a hunk further at its unchanged lines: each
run of changed lines becomes its own hunk with the unchanged lines around it as context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
CONTEXT = 3  # context lines around a hunk cut out of a larger one (git diff's default)
GRANULARITIES = ("hunks", "lines")


@dataclass(frozen=True)
class Hunk:
    """One hunk of one file: ``body`` is its lines (' ', '-', '+', '\\'), without the @@ line.

    ``old_start``/``new_start`` are 1-based lines in the parent's and the commit's file;
    ``whole_file``: the file's change is one piece (new, deleted, binary or mode only), and
    ``body`` then holds the whole patch of that file after its header.
    """

    index: int
    path: str        # the file in the commit (the parent's path for a deleted file)
    header: str      # the file's patch header (diff --git ... up to +++), shared by its hunks
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    section: str     # the text after @@ ... @@ (git's guess at the enclosing definition)
    body: tuple[str, ...]
    whole_file: bool = False
    # a piece of a larger hunk (``lines``): that hunk and the [start, stop) of its body this
    # piece changes; patches are made from the larger hunk, the other pieces left unchanged
    source: "Hunk | None" = None
    run: tuple[int, int] | None = None

    @property
    def added(self) -> int:
        return sum(1 for line in self.body if line.startswith("+"))

    @property
    def removed(self) -> int:
        return sum(1 for line in self.body if line.startswith("-"))

    @property
    def first_changed(self) -> tuple[str, int]:
        """("new", line) of the first added line in the commit's file, else ("old", line) of
        the first removed one in the parent's file."""
        old, new = self.old_start, self.new_start
        for line in self.body:
            if line.startswith("+"):
                return "new", new
            if line.startswith("-"):
                return "old", old
            if line.startswith(" "):
                old, new = old + 1, new + 1
        return "new", self.new_start

    def changed_range(self) -> tuple[str, int, int]:
        """(side, first, last) lines the hunk changes: the commit's lines it adds, or, when it
        only removes, the parent's lines it removes."""
        old, new = self.old_start, self.new_start
        added, removed = [], []
        for line in self.body:
            if line.startswith("+"):
                added.append(new)
                new += 1
            elif line.startswith("-"):
                removed.append(old)
                old += 1
            elif line.startswith(" "):
                old, new = old + 1, new + 1
        if added:
            return "new", added[0], added[-1]
        if removed:
            return "old", removed[0], removed[-1]
        return "new", self.new_start, self.new_start


def parse(diff: str) -> list[Hunk]:
    """The hunks of a ``git diff`` (file order, then hunk order), numbered from 0."""
    hunks: list[Hunk] = []
    for header, body in _files(diff):
        path = _path_of(header)
        texts = [i for i, line in enumerate(body) if line.startswith("@@")]
        if not texts or "\n--- /dev/null" in "\n" + header or "\n+++ /dev/null" in "\n" + header:
            hunks.append(Hunk(len(hunks), path, header, 0, 0, 0, 0, "", tuple(body), whole_file=True))
            continue
        for k, start in enumerate(texts):
            stop = texts[k + 1] if k + 1 < len(texts) else len(body)
            match = HUNK_HEADER.match(body[start])
            if match is None:
                raise ValueError(f"unreadable hunk header in {path}: {body[start]!r}")
            a, b, c, d, section = match.groups()
            hunks.append(Hunk(len(hunks), path, header, int(a), 1 if b is None else int(b), int(c),
                              1 if d is None else int(d), section.strip(), tuple(body[start + 1:stop])))
    return hunks


def split_lines(hunks: list[Hunk]) -> list[Hunk]:
    """``lines`` granularity: every hunk cut at its unchanged lines (renumbered from 0)."""
    out: list[Hunk] = []
    for hunk in hunks:
        pieces = [hunk] if hunk.whole_file else list(_pieces(hunk))
        for piece in pieces:
            out.append(_renumbered(piece, len(out)))
    return out


def patch(hunks: list[Hunk] | tuple[Hunk, ...]) -> str:
    """The patch that applies exactly ``hunks`` (any subset of one diff) to the parent.

    The commit-side line numbers are recomputed for the hunks left out before each one, so
    the patch is exact, not merely within git apply's fuzz. Pieces of one larger hunk
    become that hunk with the pieces left out turned back into unchanged lines.
    """
    lines: list[str] = []
    by_file: dict[str, dict[int, list[Hunk]]] = {}
    for hunk in sorted(hunks, key=lambda h: h.index):
        whole = hunk.source or hunk
        by_file.setdefault(hunk.header, {}).setdefault(id(whole), []).append(hunk)
    for header, groups in by_file.items():
        lines.append(header)
        shift = 0
        for chosen in groups.values():
            whole = chosen[0].source or chosen[0]
            if whole.whole_file:
                lines.extend(whole.body)
                continue
            body = _with_runs(whole.body, [h.run for h in chosen if h.run]) if chosen[0].source else list(whole.body)
            old_count = sum(1 for line in body if line[:1] in (" ", "-"))
            new_count = sum(1 for line in body if line[:1] in (" ", "+"))
            new_start = whole.old_start + shift + (0 if old_count else 1)
            lines.append(f"@@ -{_range(whole.old_start, old_count)} +{_range(new_start, new_count)} @@"
                         + (f" {whole.section}" if whole.section else ""))
            lines.extend(body)
            shift += new_count - old_count
    return "\n".join(lines) + "\n" if lines else ""


def _with_runs(body: tuple[str, ...], runs: list[tuple[int, int]]) -> list[str]:
    """``body`` with only the changes inside ``runs``: removals elsewhere become unchanged
    lines, additions elsewhere are dropped (with their "\\ No newline" marker)."""
    out: list[str] = []
    dropped = False
    for i, line in enumerate(body):
        inside = any(start <= i < stop for start, stop in runs)
        if line.startswith("\\"):
            if not dropped:
                out.append(line)
            continue
        dropped = False
        if inside or line[:1] == " ":
            out.append(line)
        elif line[:1] == "-":
            out.append(" " + line[1:])
        else:
            dropped = True
    return out


def _range(start: int, count: int) -> str:
    return str(start) if count == 1 else f"{start},{count}"


def _files(diff: str) -> list[tuple[str, list[str]]]:
    """(header, body lines) per file of a diff; the header runs from ``diff --git`` to ``+++``
    (or to the end of the extended header lines when there is no textual patch)."""
    files: list[tuple[list[str], list[str]]] = []
    for line in diff.split("\n"):
        if line.startswith("diff --git "):
            files.append(([line], []))
        elif files:
            header, body = files[-1]
            in_header = not body and not header[-1].startswith("+++ ")
            if in_header and not line.startswith(("@@", "GIT binary patch", "Binary files")):
                header.append(line)
            else:
                body.append(line)
    result = []
    for header, body in files:
        while body and body[-1] == "":
            body.pop()
        while len(header) > 1 and header[-1] == "":
            header.pop()
        result.append(("\n".join(header), body))
    return result


def _path_of(header: str) -> str:
    plus = minus = None
    for line in header.split("\n"):
        if line.startswith("+++ ") and line[4:] != "/dev/null":
            plus = _unquoted(line[4:]).removeprefix("b/")
        elif line.startswith("--- ") and line[4:] != "/dev/null":
            minus = _unquoted(line[4:]).removeprefix("a/")
    if plus or minus:
        return plus or minus
    first = header.split("\n", 1)[0]  # diff --git a/X b/X (no ---/+++ for binary or mode-only changes)
    return _unquoted(first.rsplit(" b/", 1)[-1]) if " b/" in first else first


def _unquoted(path: str) -> str:
    # git quotes paths with unusual bytes ("a/\303\251.py"); shown as written, never used as a path
    return path[1:-1] if len(path) >= 2 and path[0] == path[-1] == '"' else path


def _pieces(hunk: Hunk):
    """The runs of changed lines of ``hunk``, each with up to CONTEXT unchanged lines around."""
    body = list(hunk.body)
    runs: list[tuple[int, int]] = []  # [start, stop) of each run of '-'/'+' (with its '\' lines)
    i = 0
    while i < len(body):
        if body[i][:1] in ("-", "+"):
            j = i
            while j < len(body) and body[j][:1] in ("-", "+", "\\"):
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    if len(runs) <= 1:
        yield hunk
        return
    old_at, new_at = _positions(hunk)
    for start, stop in runs:
        lead = start
        while lead > 0 and start - lead < CONTEXT and body[lead - 1].startswith(" "):
            lead -= 1
        tail = stop
        while tail < len(body) and (body[tail].startswith("\\")
                                    or (tail - stop < CONTEXT and body[tail].startswith(" "))):
            tail += 1  # a "\ No newline" marker belongs to the context line before it
        piece = tuple(body[lead:tail])
        old_count = sum(1 for line in piece if line[:1] in (" ", "-"))
        new_count = sum(1 for line in piece if line[:1] in (" ", "+"))
        yield Hunk(hunk.index, hunk.path, hunk.header, old_at[lead], old_count, new_at[lead], new_count,
                   hunk.section, piece, source=hunk, run=(start, stop))


def _positions(hunk: Hunk) -> tuple[list[int], list[int]]:
    """For each body line, the parent's and the commit's line number where it starts."""
    old, new = hunk.old_start, hunk.new_start
    olds, news = [], []
    for line in hunk.body:
        olds.append(old)
        news.append(new)
        if line[:1] in (" ", "-"):
            old += 1
        if line[:1] in (" ", "+"):
            new += 1
    return olds, news


def _renumbered(hunk: Hunk, index: int) -> Hunk:
    return replace(hunk, index=index)


DEFINITION = re.compile(r"^(\s*)(?:async\s+)?(def|class)\s+([A-Za-z_][A-Za-z_0-9]*)")


def enclosing_definition(lines: list[str], line_no: int) -> str | None:
    """The dotted name of the ``def``/``class`` that line ``line_no`` (1-based) of a Python
    file sits in (``Detector.subpixel_positions``), or None at module level.

    Scans upwards for definitions indented less than the innermost code seen so far, so a
    line in a method is named with its class.
    """
    if not 1 <= line_no <= len(lines) + 1:
        return None
    names: list[str] = []
    limit = None  # indentation a definition must be under to enclose what is below it
    start = min(line_no, len(lines))
    first = lines[start - 1] if lines else ""
    if first.strip():
        limit = len(first) - len(first.lstrip())
        found = DEFINITION.match(first)
        if found:  # the line is itself a definition: it is its own place
            names.append(found.group(3))
            limit = len(found.group(1))
    for text in reversed(lines[:start - 1]):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        indent = len(text) - len(text.lstrip())
        if limit is not None and indent >= limit:
            continue
        found = DEFINITION.match(text)
        if found:
            names.append(found.group(3))
        limit = indent
        if indent == 0:
            break
    return ".".join(reversed(names)) or None
