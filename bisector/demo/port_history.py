"""Generate the demo's target: a git repository that looks like a real PyTorch port's history.

The history is written with one ``git fast-import`` stream (1,400 commits in a second or
two) with fixed dates, so a seed gives the same commit ids on every machine. Most commits
touch only docs and the port's own benchmark records; the source changes come from
:mod:`bisector.demo.changes` and the ground truth about them is returned as a
:class:`DemoRepo`.
"""

from __future__ import annotations

import datetime
import random
import string
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from .. import git
from ..errors import BisectorError
from . import changes as ch

TEMPLATE_DIR = Path(__file__).parent / "template"
ADDED_LATER = "_added_later"  # template files that a later change adds, not the first port commit
SUBSTITUTED = {"pyproject.toml", "scripts/benchmark.sh"}  # templates with $placeholders
EXECUTABLE = {"scripts/benchmark.sh"}
RENAMED = {"gitignore": ".gitignore", "LICENSE": "LICENSE"}
SIMULATOR = "src/nbport/simulator.py"
# Appended to the port's kernel module with ``compiled``: real PyTorch ports compile their
# hot loop, and their bisections then pay for compiling (bisector shares compile caches).
# Like real ports, the kernel takes the physics (geometry, reciprocal cell, F^2) as tensors
# and only counts (pixels, subpixels, cells) as Python ints. Why: the first trace in each
# process bakes every Python float the kernel reads into the graph as a constant (torch 2.13
# too: ``specialize_float=False`` only lifts a float after it changed within one process, and
# a candidate is one process), so a kernel reading floats from dataclasses compiled another
# graph for every wavelength, distance or beam centre, and the shared FX graph cache could
# only serve reruns of the same physics. With tensors the graph depends on the image shape
# and subpixel count alone: every commit that keeps the computation and the shapes (most of
# a history, the injected physics regressions included) and every scenario of the same
# shape loads the cached graph (``python scripts/bench_graph_reuse.py`` counts the hits).
# The compile site honours PyTorch's own switch as real ports honour theirs (the user's:
# NANOBRAGG_DISABLE_COMPILE): an eager run then never imports the compiler (torch._dynamo
# and Inductor, about 2.5 s per process here), so eager timings are a real eager port's.
COMPILE_TAIL = """

import os

# the row kernel is the hot loop: compile it (torch.compile caches the result per shape),
# unless eager runs are asked for: then the compiler is not even imported
if os.environ.get("TORCH_COMPILE_DISABLE") != "1":
    render_rows = torch.compile(render_rows)
"""

MIN_COMMITS = 120
MIN_SIZE = 32
DEFAULT_SEED = 20240108
START_TIME = 1704700800  # 2024-01-08 08:00 UTC: fixed, so commit ids depend only on the seed
PORT_LANDS_AT = 0.010

AUTHORS = (
    ("Ana Ortiz", "ana.ortiz@nbport.dev"),
    ("Ben Okafor", "ben.okafor@nbport.dev"),
    ("Chen Wei", "chen.wei@nbport.dev"),
    ("Dara Novak", "dara.novak@nbport.dev"),
)


@dataclass(frozen=True)
class Regression:
    """One injected regression and the commits around it (full shas).

    ``good``/``bad`` bracket it for a bisection: ``good`` is good in every scenario and
    ``bad`` is the last commit before ``fix``, so ``culprit`` is the only first-bad commit
    in between.
    """

    name: str
    description: str
    scenarios: tuple[str, ...]  # the scenarios that detect it
    culprit: str
    fix: str
    good: str
    bad: str


@dataclass(frozen=True)
class DemoRepo:
    """A generated port repository and the ground truth about its history."""

    path: Path
    seed: int
    size: int  # benchmark detector pixels per axis at the tip
    shas: dict[str, str]  # role -> sha: first_good, import_break, import_fix, perf, benchmark_change, tip, ...
    broken_import: tuple[str, ...]  # commits where `python -m nbport` cannot import
    regressions: tuple[Regression, ...]
    history: tuple[str, ...]  # every commit, oldest first
    source_commits: tuple[str, ...]  # commits that touch src/, oldest first
    compiled: bool = False  # the port wraps its kernel in torch.compile

    def regression(self, name: str) -> Regression:
        for regression in self.regressions:
            if regression.name == name:
                return regression
        raise KeyError(name)

    @property
    def first_good(self) -> str:
        return self.shas[ch.FIRST_GOOD]

    @property
    def tip(self) -> str:
        return self.shas["tip"]


class DemoError(BisectorError):
    """The demo cannot be generated where or how it was asked."""


def scenario_pixels(size: int) -> dict[str, int]:
    """Detector pixels per axis: the benchmark at the tip, before the port's benchmark grew, and
    the oversample scenario (0.4 mm pixels over about the same area, 2x2 subpixels)."""
    return {"bench": size, "bench_before": max(size // 2, 16), "oversample": max(size // 4, 32)}


def generate(dest: Path, commits: int = 1400, size: int = 4096, seed: int = DEFAULT_SEED,
             compiled: bool = False) -> DemoRepo:
    """Write the port repository into ``dest`` (absent or empty) with ``commits`` commits.

    ``size``: the benchmark's detector pixels per axis at the tip. Deterministic for a seed
    (and ``compiled``). ``compiled``: the port wraps its kernel in ``torch.compile``.
    """
    dest = Path(dest)
    check_request(dest, commits, size)
    pixels = scenario_pixels(size)
    rng = random.Random(seed)
    plan = _plan(commits, pixels, rng)
    stream, roles = _stream(plan, pixels, rng, compiled)
    with tempfile.TemporaryDirectory(prefix="bisector-demo-marks-") as tmp:
        marks = Path(tmp) / "marks"
        git.create_from_fast_import(dest, stream, marks, branch="main")
        shas = _read_marks(marks)
    return replace(_ground_truth(dest, seed, size, shas, roles), compiled=compiled)


def check_request(dest: Path, commits: int, size: int) -> None:
    """Raise DemoError unless ``dest`` is absent or empty and the sizes are usable."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise DemoError(f"{dest} is not empty", hint="give --dir a new or empty folder")
    if commits < MIN_COMMITS:
        raise DemoError(f"--commits {commits} is too few for the demo's story",
                        hint=f"use at least {MIN_COMMITS}")
    if size < MIN_SIZE:
        raise DemoError(f"--size {size} is too small", hint=f"use at least {MIN_SIZE} pixels")


# --- the plan: which commit is which -------------------------------------------------------

def _plan(commits: int, pixels: dict[str, int], rng: random.Random) -> list[ch.Change | None]:
    """The change of each commit (None: a docs/reports commit), oldest first.

    Commit 0 is the initial commit; the port landing and every source change sit at their
    fraction of the history with a small seeded jitter, strictly increasing and leaving room
    for the changes still to place, so every change keeps its own commit.
    """
    landing = ch.Change(PORT_LANDS_AT, "Port the nanoBragg kernel to PyTorch", ch.FIRST_GOOD)
    source = [landing, *ch.source_changes(pixels["bench_before"], pixels["bench"], _units_module())]
    plan: list[ch.Change | None] = [None] * commits
    jitter = max(1, commits // 400)
    previous = 0
    for index, change in enumerate(source):
        still_to_place = len(source) - index - 1
        position = round(change.at * (commits - 1)) + rng.randint(-jitter, jitter)
        position = min(max(position, previous + 1), commits - 1 - still_to_place)
        plan[position] = change
        previous = position
    return plan


# --- the fast-import stream ----------------------------------------------------------------

def _stream(plan: list[ch.Change | None], pixels: dict[str, int], rng: random.Random,
            compiled: bool = False) -> tuple[bytes, dict[int, str]]:
    """The fast-import stream of the whole history and the role of each special mark."""
    tree: dict[str, str] = {}
    docs = _DocsWriter(rng, pixels)
    out: list[bytes] = []
    roles: dict[int, str] = {}
    when = START_TIME
    for index, change in enumerate(plan):
        mark = index + 1
        when += rng.randint(900, 40000)
        if index == 0:
            message, written = "Initial commit", _initial_files(tree)
        elif change is None:
            message, written = docs.commit(tree, when)
        elif change.role == ch.FIRST_GOOD:
            message, written = change.message, _land_port(tree, pixels, compiled)
            docs.version = "0.4.0"
        else:
            message, written = change.message, ch.apply_change(tree, change)
            if change.role == ch.RELEASE:
                docs.version = change.message.split()[-1]
        if change is not None and change.role != ch.REFACTOR:
            roles[mark] = change.role
        author = AUTHORS[rng.randrange(len(AUTHORS))]
        out.append(_commit_block(mark, author, when, message, {p: tree[p] for p in written}))
    return b"".join(out), roles


def _commit_block(mark: int, author: tuple[str, str], when: int, message: str,
                  files: dict[str, str]) -> bytes:
    ident = f"{author[0]} <{author[1]}> {when} +0000"
    lines = [f"commit refs/heads/main\nmark :{mark}\nauthor {ident}\ncommitter {ident}\n".encode(),
             _data(message + "\n")]
    if mark > 1:
        lines.append(f"from :{mark - 1}\n".encode())
    for path, text in sorted(files.items()):
        mode = "100755" if path in EXECUTABLE else "100644"
        lines.append(f"M {mode} inline {path}\n".encode())
        lines.append(_data(text))
    lines.append(b"\n")
    return b"".join(lines)


def _data(text: str) -> bytes:
    payload = text.encode("utf-8")
    return b"data %d\n" % len(payload) + payload + b"\n"


def _read_marks(path: Path) -> dict[int, str]:
    shas = {}
    for line in path.read_text().splitlines():
        mark, sha = line.split()
        shas[int(mark.lstrip(":"))] = sha
    return shas


# --- file contents ---------------------------------------------------------------------

def _template_files(pixels: dict[str, int], later: bool = False) -> dict[str, str]:
    """The template tree as target path -> text (the first port commit, or the files added later)."""
    root = TEMPLATE_DIR / ADDED_LATER if later else TEMPLATE_DIR
    values = {"bench_pixels": pixels["bench_before"], "over_pixels": pixels["oversample"]}
    files = {}
    for source in sorted(root.rglob("*.txt")):
        relative = source.relative_to(root).as_posix()[: -len(".txt")]
        if not later and relative.startswith(ADDED_LATER + "/"):
            continue
        relative = RENAMED.get(relative, relative)
        text = source.read_text(encoding="utf-8")
        if relative in SUBSTITUTED:
            text = string.Template(text).substitute(values)
        files[relative] = text
    return files


def _units_module() -> str:
    return _template_files(scenario_pixels(MIN_SIZE), later=True)["src/nbport/units.py"]


def _initial_files(tree: dict[str, str]) -> list[str]:
    template = _template_files(scenario_pixels(MIN_SIZE))
    tree["README.md"] = "# nbport\n\nA PyTorch port of nanoBragg. Work in progress.\n"
    tree["LICENSE"] = template["LICENSE"]
    tree[".gitignore"] = template[".gitignore"]
    return ["README.md", "LICENSE", ".gitignore"]


def _land_port(tree: dict[str, str], pixels: dict[str, int], compiled: bool = False) -> list[str]:
    files = _template_files(pixels)
    if compiled:
        files[SIMULATOR] += COMPILE_TAIL
    tree.update(files)
    return sorted(files)


class _DocsWriter:
    """Docs-only commits: benchmark records, meeting notes, small edits of the docs pages."""

    TOPICS = ("oversample semantics", "MOSFLM beam centre", "float32 vs float64", "GPU timings",
              "HKL reader", "mosaic domains", "phi steps", "CI runtime", "the C build flags",
              "Fdump.bin caching", "detector rotations", "memory use at 4096^2", "divergence sources")
    ROADMAP = ("tricubic interpolation", "-roi support", "SMV output", "noise images", "-pgmfile output",
               "XDS convention", "curved detector", "detector thickness", "water background",
               "twotheta rotation", "beam divergence", "dispersion", "misset angles")
    STATUS = ("benchmark parity holds", "porting the HKL reader", "profiling the kernel",
              "cleaning up the CLI", "reviewing the geometry", "writing docs", "chasing a GPU slowdown")

    def __init__(self, rng: random.Random, pixels: dict[str, int]):
        self.rng = rng
        self.pixels = pixels
        self.version = None
        self.count = 0

    def commit(self, tree: dict[str, str], when: int) -> tuple[str, list[str]]:
        self.count += 1
        date = _iso_date(when)
        roll = self.rng.random()
        if self.version is None or roll < 0.25:
            return self._notes(tree, date)
        if roll < 0.60:
            return self._benchmark_record(tree, date)
        if roll < 0.85:
            return self._roadmap(tree)
        return self._readme_status(tree, date)

    def _notes(self, tree, date):
        path = f"docs/notes/{date}-{self.count:04d}.md"
        topics = self.rng.sample(self.TOPICS, 3)
        tree[path] = f"# Sync {date}\n\n" + "".join(f"- {t}: {self._verdict()}\n" for t in topics)
        return f"docs: notes from the {date} sync", [path]

    def _verdict(self):
        return self.rng.choice(("discussed, no change", "needs a test", "agreed to follow nanoBragg",
                                "open question", "done", "postponed"))

    def _benchmark_record(self, tree, date):
        path = f"reports/benchmarks/{date}-{self.count:04d}.md"
        bench = _bench_pixels(tree) or self.pixels["bench_before"]
        port_s = self.rng.uniform(2.5, 4.5)
        tree[path] = (f"# Benchmark {date}\n\n"
                      f"- nbport {self.version}, scripts/benchmark.sh ({bench}x{bench} pixels)\n"
                      f"- wall time: {port_s:.2f} s (C build: {port_s * self.rng.uniform(0.8, 1.6):.2f} s)\n"
                      f"- peak memory: {self.rng.randint(300, 900)} MB\n"
                      f"- machine: laptop, 2 cores, float32\n")
        return f"reports: benchmark {date}", [path]

    def _roadmap(self, tree):
        item = self.rng.choice(self.ROADMAP)
        tree["docs/roadmap.md"] = tree["docs/roadmap.md"] + f"- {item} ({self._verdict()})\n"
        return f"docs: roadmap, {item}", ["docs/roadmap.md"]

    def _readme_status(self, tree, date):
        lines = [line for line in tree["README.md"].splitlines() if not line.startswith("Status (")]
        lines.insert(2, f"Status ({date}): {self.rng.choice(self.STATUS)}.")
        tree["README.md"] = "\n".join(lines) + "\n"
        return "README: update status", ["README.md"]


def _bench_pixels(tree: dict[str, str]) -> int | None:
    for line in tree.get("scripts/benchmark.sh", "").splitlines():
        if "-detpixels" in line:
            return int(line.split("-detpixels")[1].split()[0])
    return None


def _iso_date(when: int) -> str:
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime("%Y-%m-%d")


# --- ground truth ------------------------------------------------------------------------

def _ground_truth(path: Path, seed: int, size: int, shas: dict[int, str], roles: dict[int, str]) -> DemoRepo:
    history = tuple(shas[m] for m in sorted(shas))
    by_role: dict[str, str] = {}
    broken: list[str] = []
    for mark, role in sorted(roles.items()):
        if role in (ch.IMPORT_BREAK, ch.IMPORT_BROKEN):
            broken.append(shas[mark])
        if role != ch.IMPORT_BROKEN:
            by_role.setdefault(role, shas[mark])
    by_role["tip"] = history[-1]
    source_commits = tuple(reversed(git.rev_list(path, history[0], history[-1], ["src"])))
    regressions = []
    good = by_role[ch.FIRST_GOOD]
    for spec in ch.REGRESSIONS:
        fix = by_role[spec.fix_role]
        bad = history[history.index(fix) - 1]
        regressions.append(Regression(spec.name, spec.description, spec.scenarios,
                                      by_role[spec.name], fix, good, bad))
        good = fix
    return DemoRepo(path=path, seed=seed, size=size, shas=by_role, broken_import=tuple(broken),
                    regressions=tuple(regressions), history=history, source_commits=source_commits)
