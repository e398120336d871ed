"""The command-line table shared with the C twin, and the token rules.

The table is the FLAG/ALIAS/UNSUPPORTED rows between ``/* BEGIN FLAG TABLE */`` and
``/* END FLAG TABLE */`` in csrc/nanobragg_twin.c: the twin compiles them, this module reads
them, so both programs accept the same flags, require the same values, print the same
``--help`` and word their errors alike (the twin's parser implements the same rules in C, and
its source stays one self-contained file). Torch-free.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Union

from .errors import ArgumentError

TABLE_PATH = Path(__file__).resolve().parent / "csrc" / "nanobragg_twin.c"
BEGIN, END = "/* BEGIN FLAG TABLE */", "/* END FLAG TABLE */"
KINDS = ("SWITCH", "NUMBER", "POSITIVE", "INTEGER", "COUNT", "TEXT", "CHOICE")
HELP_HINT = "--help lists the supported flags"
INT_LIMIT = 2147483647

_STRING = r'"((?:[^"\\]|\\.)*)"'
_FLAG_LINE = re.compile(r"^FLAG\(%s, (\d+), ([A-Z]+), %s, %s, %s, %s\)$" % ((_STRING,) + (_STRING,) * 4))
_ALIAS_LINE = re.compile(r"^ALIAS\(%s, %s\)$" % (_STRING, _STRING))
_UNSUPPORTED_LINE = re.compile(r"^UNSUPPORTED\(%s\)$" % _STRING)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")

Value = Union[float, int, str]


@dataclass(frozen=True)
class Flag:
    """One FLAG row: name, number of values, kind and the help columns."""

    name: str
    count: int
    kind: str
    metavar: str
    unit: str
    default: str
    meaning: str


@dataclass(frozen=True)
class Table:
    flags: dict[str, Flag]          # canonical name -> row, in table order
    aliases: dict[str, str]         # alias -> canonical name
    unsupported: tuple[str, ...]

    def lookup(self, name: str) -> Flag | None:
        return self.flags.get(self.aliases.get(name, name))

    def is_flag(self, token: str) -> bool:
        return token in self.flags or token in self.aliases or token in self.unsupported


def _parse_table(text: str) -> Table:
    flags, aliases, unsupported = {}, {}, []
    lines = text.splitlines()
    start, stop = lines.index(BEGIN) + 1, lines.index(END)
    for number, line in enumerate(lines[start:stop], start + 1):
        line = line.strip()
        if match := _FLAG_LINE.match(line):
            name, count, kind, metavar, unit, default, meaning = match.groups()
            if kind not in KINDS:
                raise ValueError(f"{TABLE_PATH.name}:{number}: unknown kind {kind}")
            flags[name] = Flag(name, int(count), kind, metavar, unit, default, meaning)
        elif match := _ALIAS_LINE.match(line):
            aliases[match.group(1)] = match.group(2)
        elif match := _UNSUPPORTED_LINE.match(line):
            unsupported.append(match.group(1))
        elif line.startswith(("FLAG", "ALIAS", "UNSUPPORTED")):
            raise ValueError(f"{TABLE_PATH.name}:{number}: cannot read {line!r}")
    missing = [a for a, target in aliases.items() if target not in flags]
    if missing:
        raise ValueError(f"{TABLE_PATH.name}: aliases of unknown flags: {missing}")
    return Table(flags, aliases, tuple(unsupported))


@lru_cache(maxsize=1)
def table() -> Table:
    """The parsed table (read once)."""
    return _parse_table(TABLE_PATH.read_text())


def _choice_ok(token: str, choices: str) -> bool:
    for choice in choices.split("|"):
        if choice.endswith(":N"):
            if re.fullmatch(re.escape(choice[:-1]) + r"\d+", token):
                return True
        elif token == choice:
            return True
    return False


def convert(flag: str, spec: Flag, token: str) -> Value:
    """One value token -> float, int or str by the row's kind (ArgumentError if invalid)."""
    kind = spec.kind
    if kind == "TEXT":
        return token
    if kind == "CHOICE":
        if not _choice_ok(token, spec.metavar):
            raise ArgumentError(flag, f"expected one of {spec.metavar}, got '{token}'")
        return token
    if kind in ("INTEGER", "COUNT"):
        if not _INTEGER.fullmatch(token):
            raise ArgumentError(flag, f"'{token}' is not an integer")
        value = int(token)
        if abs(value) > INT_LIMIT:
            raise ArgumentError(flag, f"'{token}' is out of range")
        if kind == "COUNT" and value < 1:
            raise ArgumentError(flag, f"must be at least 1, got {token}")
        return value
    if not _NUMBER.fullmatch(token):
        raise ArgumentError(flag, f"'{token}' is not a number")
    value = float(token)
    if value in (float("inf"), float("-inf")):
        raise ArgumentError(flag, f"'{token}' is out of range")
    if kind == "POSITIVE" and not value > 0:
        raise ArgumentError(flag, f"must be positive, got {token}")
    return value


def read_flags(argv: list[str]) -> list[tuple[str, list[Value]]]:
    """argv -> [(canonical flag, converted values)] in order; ArgumentError on the first
    unknown or unsupported flag, missing value or invalid value."""
    flags = table()
    out, i = [], 0
    while i < len(argv):
        name = argv[i]
        if name in flags.unsupported:
            raise ArgumentError(name, f"this nanoBragg option is not supported ({HELP_HINT})")
        spec = flags.lookup(name)
        if spec is None:
            if name.startswith("-"):
                raise ArgumentError(name, f"unknown flag ({HELP_HINT})")
            raise ArgumentError(name, f"unexpected argument: values follow their flag ({HELP_HINT})")
        tokens = argv[i + 1:i + 1 + spec.count]
        given = next((k for k, t in enumerate(tokens) if flags.is_flag(t)), len(tokens))
        if given < spec.count:
            plural = "s" if spec.count > 1 else ""
            raise ArgumentError(name, f"needs {spec.count} value{plural} ({spec.metavar}), got {given}")
        out.append((spec.name, [convert(name, spec, t) for t in tokens]))
        i += 1 + spec.count
    return out


def usage(program: str) -> str:
    return (f"usage: {program} -cell a b c alpha beta gamma (-default_F F | -hkl FILE) [options]; "
            f"{program} --help lists every flag")


def help_lines() -> list[str]:
    """The flag table as --help prints it (the C twin prints the same lines)."""
    flags = table()
    lines = ["%-36s %-16s %-20s %s" % ("flag and values", "unit", "default", "meaning")]
    for spec in flags.flags.values():
        left = f"{spec.name} {spec.metavar}".rstrip()
        lines.append("%-36s %-16s %-20s %s" % (left, spec.unit, spec.default, spec.meaning))
    for alias, target in flags.aliases.items():
        lines.append("%-36s same as %s" % (alias, target))
    lines.append("not supported: " + " ".join(flags.unsupported))
    return lines
