"""Build real git repositories of a tiny nanoBragg "port" with a known history.

The port (``src/nbport``) is a small plain-Python implementation of the benchmark scenario
(cubic cell, square-lattice sincg, MOSFLM geometry, unpolarised Kahn factor, solid angle,
fluence and r_e^2), so it correlates with the C program to float32 precision when its
history says it is correct. It imports nothing outside the standard library: the hunts of
the suite run it hundreds of times on images of a few thousand pixels, where importing
numpy would cost more than the physics. Each :class:`Change` becomes one commit; the
history is written with ``git fast-import`` so that thousands of commits take seconds.

Typical use::

    repo = make_port_repo(tmp_path / "port", history=[Change("docs"), Change("regress")])
    repo.culprit            # sha of the commit that broke parity
    repo.shas[1]            # sha of history[1]; repo.base is the good root commit
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

KINDS = ("docs", "refactor", "regress", "fix", "break_import", "unbreak", "hang", "unhang", "merge")
REGRESSIONS = ("scale", "shift", "edge")

# Field of view of the golden images (128 px of 0.1 mm): a smaller ``size`` keeps the
# same Bragg spots on coarser pixels, so a half-pixel shift still matters.
FIELD_OF_VIEW_MM = 12.8

# An "edge" regression doubles only pixels farther than this from the beam along the fast
# axis: a probe on a smaller detector with the same pixels never sees it.
EDGE_M = 2.4e-3

# Seconds a "hang" commit sleeps before doing anything: far above any test timeout.
HANG_SECONDS = 300

# fast-import marks of side-branch commits: SIDE_MARKS + history index.
SIDE_MARKS = 1_000_000


@dataclass(frozen=True)
class Change:
    """One commit of the port's history.

    kind: ``docs`` (touches only docs/), ``refactor`` (touches src, keeps parity),
    ``regress`` (breaks parity; ``how`` = "scale": image x1.5, "shift": beam centre
    moved by half a pixel, or "edge": pixels beyond EDGE_M of the beam along fast x2),
    ``fix`` (undoes every regression), ``break_import`` (a syntax
    error in src), ``unbreak``, ``hang`` (the port sleeps far beyond any timeout), ``unhang``,
    ``merge`` (a refactor made on a side branch, then merged: history[i] is the merge commit and
    the side commit is off the first-parent line).
    """

    kind: str
    how: str = "scale"
    message: str | bytes | None = None  # bytes: written as they are (any encoding, or none)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown change kind {self.kind!r}; allowed: {', '.join(KINDS)}")
        if self.how not in REGRESSIONS:
            raise ValueError(f"unknown regression {self.how!r}; allowed: {', '.join(REGRESSIONS)}")


@dataclass(frozen=True)
class PortState:
    """What the port's source says at one commit."""

    scale: float = 1.0
    beam_shift_pixels: float = 0.0
    edge_scale: float = 1.0
    broken: bool = False
    hang: bool = False
    revision: int = 0
    docs_revision: int = 0

    @property
    def regressed(self) -> bool:
        return self.scale != 1.0 or self.beam_shift_pixels != 0.0 or self.edge_scale != 1.0

    @property
    def expected_verdict(self) -> str:
        """What a correct scorer says: "skip" when untestable, else "bad" or "good"."""
        if self.broken or self.hang:
            return "skip"
        return "bad" if self.regressed else "good"

    def after(self, change: Change) -> "PortState":
        k = change.kind
        if k == "docs":
            return replace(self, docs_revision=self.docs_revision + 1)
        if k in ("refactor", "merge"):
            return replace(self, revision=self.revision + 1)
        if k == "regress":
            if change.how == "scale":
                return replace(self, scale=self.scale * 1.5)
            if change.how == "edge":
                return replace(self, edge_scale=self.edge_scale * 2.0)
            return replace(self, beam_shift_pixels=self.beam_shift_pixels + 0.5)
        if k == "fix":
            return replace(self, scale=1.0, beam_shift_pixels=0.0, edge_scale=1.0)
        if k == "break_import":
            return replace(self, broken=True)
        if k == "unbreak":
            return replace(self, broken=False)
        if k == "hang":
            return replace(self, hang=True)
        return replace(self, hang=False)


@dataclass(frozen=True)
class Noise:
    """Run-to-run noise of every commit of a port: each run adds ``L * std(image)`` times a
    zero-sum checkerboard, with ``L = |level + jitter * N(0, 1)|`` drawn from a ``random.Random``
    seeded by ``seed`` and the run's number (counted in ``counter``, a file outside the
    repository), so a test's sequence of runs is reproducible. The correlation with the
    exact image is then about 1/sqrt(1 + L^2); the sum is unchanged. When the variable
    ``seed_env`` is set, the run uses it as its whole seed instead (a seeded port repeats
    itself exactly)."""

    level: float
    jitter: float
    counter: Path
    seed: int = 0
    seed_env: str = "NBPORT_SEED"


@dataclass
class PortRepo:
    """A generated repository: ``base`` is the good root, ``shas[i]`` the commit of history[i]."""

    path: Path
    base: str
    shas: list[str]
    states: list[PortState]
    scenario: str
    scenario_args: str
    culprit_index: int | None = None
    expected: list[str] = field(default_factory=list)
    side_commits: list[str] = field(default_factory=list)  # commits of merged side branches

    @property
    def head(self) -> str:
        return self.shas[-1] if self.shas else self.base

    @property
    def culprit(self) -> str | None:
        """The commit git bisect should name, or None when HEAD is not regressed."""
        return None if self.culprit_index is None else self.shas[self.culprit_index]


def scenario_args(size: int) -> str:
    """The benchmark physics on ``size`` x ``size`` pixels covering the golden field of view."""
    pixel_mm = FIELD_OF_VIEW_MM / size
    return ("-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 "
            f"-detpixels {size} -pixel {pixel_mm:g}")


def pyproject_text(*, size: int, reference: str = "simkernel", c_bin: Path | None = None,
                   timeout: float | None = None, extra_toml: str = "", settings: str = "") -> str:
    """The port's pyproject.toml with a ``[tool.bisector]`` table judging scenario "small"."""
    lines = ['[project]', 'name = "nbport"', 'version = "0.1.0"', '',
             '[tool.bisector]', 'paths = ["src"]']
    if timeout is not None:
        lines.append(f"timeout = {timeout}")
    if settings:  # more keys of [tool.bisector] itself
        lines.append(settings.strip())
    lines += ['', '[tool.bisector.reference]', f'kind = "{reference}"']
    if c_bin is not None:
        lines.append(f'c_bin = "{c_bin}"')
    lines += ['', '[tool.bisector.scenarios.small]', f'args = "{scenario_args(size)}"', '']
    if extra_toml:
        lines += [extra_toml.strip(), '']
    return "\n".join(lines)


def make_port_repo(path: Path, *, history: list[Change], size: int = 32,
                   reference: str = "simkernel", c_bin: Path | None = None,
                   timeout: float | None = None, extra_toml: str = "", noise: Noise | None = None,
                   settings: str = "") -> PortRepo:
    """Create a git repository at ``path`` (must not exist or be empty) and check out HEAD.

    The root commit holds a correct port, pyproject.toml and docs; then one commit per
    change. ``reference``/``c_bin`` fill ``[tool.bisector.reference]``; ``extra_toml`` is
    appended verbatim (e.g. more scenarios), ``settings`` goes into ``[tool.bisector]``; ``noise`` makes every run of the port noisy.
    """
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q", "-b", "main")
    _git(path, "config", "user.name", "Port Author")
    _git(path, "config", "user.email", "port@example.com")
    pyproject = pyproject_text(size=size, reference=reference, c_bin=c_bin,
                               timeout=timeout, extra_toml=extra_toml, settings=settings)

    states = [PortState()]
    for change in history:
        states.append(states[-1].after(change))

    stream = bytearray()
    root_files = {"pyproject.toml": pyproject, "README.md": "# nbport\n",
                  "src/nbport/__init__.py": '"""A tiny nanoBragg port."""\n',
                  "src/nbport/__main__.py": MAIN_SOURCE,
                  "src/nbport/physics.py": physics_source(states[0], noise),
                  "docs/notes.md": docs_source(states[0])}
    stream += _commit(1, None, "Initial port: benchmark scenario in plain Python", root_files)
    for i, change in enumerate(history):
        before, after = states[i], states[i + 1]
        files = {}
        if after.docs_revision != before.docs_revision:
            files["docs/notes.md"] = docs_source(after)
        if physics_source(after, noise) != physics_source(before, noise):
            files["src/nbport/physics.py"] = physics_source(after, noise)
        message = change.message or _default_message(change, i)
        if change.kind == "merge":
            stream += _commit(SIDE_MARKS + i, i + 1, f"Side branch {i}: refactor", files,
                              ref=f"refs/heads/side-{i}")
            stream += _commit(i + 2, i + 1, message, files, merge=SIDE_MARKS + i)
        else:
            stream += _commit(i + 2, i + 1, message, files)

    marks = path / ".git" / "portrepo-marks"
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet", f"--export-marks={marks}"],
                   input=bytes(stream), check=True, env=_env(), capture_output=True)
    by_mark = dict(line.split() for line in marks.read_text().splitlines())
    marks.unlink()
    _git(path, "reset", "-q", "--hard", "main")
    shas = [by_mark[f":{i + 2}"] for i in range(len(history))]
    side = [by_mark[f":{SIDE_MARKS + i}"] for i, c in enumerate(history) if c.kind == "merge"]
    culprit_index = _culprit_index(states)
    return PortRepo(path=path, base=by_mark[":1"], shas=shas, states=states[1:],
                    scenario="small", scenario_args=scenario_args(size),
                    culprit_index=culprit_index, expected=[s.expected_verdict for s in states[1:]],
                    side_commits=side)


def windows(states: list[PortState]) -> list[tuple[int, int | None]]:
    """(history index of the commit that breaks parity, index of the one that restores it or None)
    for every stretch of regressed commits, skipped commits inside a stretch included."""
    found, start = [], None
    for i, state in enumerate(states):
        if state.broken or state.hang:
            continue
        if state.regressed and start is None:
            start = i
        elif not state.regressed and start is not None:
            found.append((start, i))
            start = None
    return found + ([(start, None)] if start is not None else [])


def distinct_states(port: PortRepo) -> int:
    """How many different relevant (src) states the first-parent history holds, root included."""
    states = [PortState(), *port.states]
    return len({replace(s, docs_revision=0) for s in states})


def _culprit_index(states: list[PortState]) -> int | None:
    """Index into history of the last not-regressed -> regressed transition, if HEAD regressed."""
    if not states[-1].regressed:
        return None
    for j in range(len(states) - 1, 0, -1):
        if states[j].regressed and not states[j - 1].regressed:
            return j - 1
    return None


def _default_message(change: Change, i: int) -> str:
    if change.kind == "regress":
        return f"Change {i}: regress ({change.how})"
    return f"Change {i}: {change.kind.replace('_', ' ')}"


def _commit(mark: int, parent: int | None, message: str | bytes, files: dict[str, str], *,
            ref: str = "refs/heads/main", merge: int | None = None) -> bytes:
    when = 1_700_000_000 + 60 * (mark % SIDE_MARKS)
    msg = message if isinstance(message, bytes) else message.encode()
    out = bytearray(f"commit {ref}\n".encode())
    out += f"mark :{mark}\n".encode()
    out += f"author Port Author <port@example.com> {when} +0000\n".encode()
    out += f"committer Port Author <port@example.com> {when} +0000\n".encode()
    out += f"data {len(msg)}\n".encode() + msg + b"\n"
    if parent is not None:
        out += f"from :{parent}\n".encode()
    if merge is not None:
        out += f"merge :{merge}\n".encode()
    for name, text in files.items():
        data = text.encode()
        out += f"M 100644 inline {name}\ndata {len(data)}\n".encode() + data + b"\n"
    return bytes(out)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, env=_env(),
                          capture_output=True, text=True).stdout.strip()


def docs_source(state: PortState) -> str:
    return f"# Notes\n\nRevision {state.docs_revision} of the notes on the port.\n"


def physics_source(state: PortState, noise: Noise | None = None) -> str:
    text = PHYSICS_TEMPLATE.format(scale=state.scale, shift=state.beam_shift_pixels,
                                   revision=state.revision, edge=state.edge_scale, edge_m=EDGE_M)
    if noise is not None:
        text += NOISE_TEMPLATE.format(level=noise.level, jitter=noise.jitter, counter=str(noise.counter),
                                      seed=noise.seed, seed_env=noise.seed_env)
    if state.hang:
        text = text.replace("def simulate(", f"time.sleep({HANG_SECONDS})\n\n\ndef simulate(", 1)
    if state.broken:
        text += "\n\ndef unfinished(:\n    pass\n"
    return text


PHYSICS_TEMPLATE = '''\
"""Diffraction image of a small orthorhombic crystal on a flat MOSFLM detector.

Units: lengths in metres inside, wavelengths in metres, image in photons per pixel.
"""

import math
import time

R_E_SQUARED = 7.94079248018965e-30  # Thomson cross-section of the electron, m^2
FLUENCE = 1.25932015286227e29       # nanoBragg's default fluence, photons/m^2
INTENSITY_SCALE = {scale!r}
BEAM_SHIFT_PIXELS = {shift!r}
EDGE_SCALE = {edge!r}  # applied beyond EDGE_M from the beam along the fast axis
EDGE_M = {edge_m!r}
REVISION = {revision}


def sincg(x, n):
    """Lattice factor sin(n x)/sin(x) (n where x == 0), as nanoBragg defines it."""
    if n <= 1:
        return 1.0
    if x == 0:
        return float(n)
    return math.sin(n * x) / math.sin(x)


def auto_oversample(cell_m, n_cells, wavelength_m, distance_m, pixel_m):
    xtal_max = max(c * n for c, n in zip(cell_m, n_cells))
    return max(1, math.ceil(3 * xtal_max / (wavelength_m * distance_m / pixel_m)))


def simulate(cell_m, n_cells, default_f, wavelength_m, distance_m, pixel_m, spixels, fpixels,
             oversample=0):
    """The image as spixels rows of fpixels floats: MOSFLM convention, BEAM pivot, square xtal."""
    n = oversample if oversample > 0 else auto_oversample(cell_m, n_cells, wavelength_m,
                                                          distance_m, pixel_m)
    q = pixel_m / n
    xbeam = (spixels * pixel_m + pixel_m) / 2.0
    ybeam = (fpixels * pixel_m + pixel_m) / 2.0
    fbeam = ybeam + (0.5 + BEAM_SHIFT_PIXELS) * pixel_m
    sbeam = xbeam + 0.5 * pixel_m
    # pix0 = -Fbeam f - Sbeam s + distance b with f=(0,0,1), s=(0,-1,0), b=(1,0,0).
    x = distance_m
    ys = [[sbeam - (q * (s * n + sub) + q / 2) for sub in range(n)] for s in range(spixels)]
    zs = [[q * (f * n + sub) + q / 2 - fbeam for sub in range(n)] for f in range(fpixels)]
    image = []
    for y_sub in ys:
        row = []
        for z_sub in zs:
            intensity = 0.0
            for y in y_sub:
                for z in z_sub:
                    r = math.sqrt(x * x + y * y + z * z)
                    h = cell_m[0] * (x / r - 1.0) / wavelength_m
                    k = cell_m[1] * (y / r) / wavelength_m
                    l = cell_m[2] * (z / r) / wavelength_m
                    f_latt = (sincg(math.pi * h, n_cells[0]) * sincg(math.pi * k, n_cells[1])
                              * sincg(math.pi * l, n_cells[2]))
                    intensity += default_f ** 2 * f_latt ** 2
            # Solid angle and polarisation of the first subpixel, as the C program does.
            r0 = math.sqrt(x * x + y_sub[0] * y_sub[0] + z_sub[0] * z_sub[0])
            omega = pixel_m ** 2 / r0 ** 2 * (distance_m / r0)
            polar = 0.5 * (1.0 + (x / r0) ** 2)
            row.append(R_E_SQUARED * FLUENCE * intensity / n ** 2 * polar * omega)
        image.append(row)
    edge = [EDGE_SCALE if abs(z_sub[0]) > EDGE_M else 1.0 for z_sub in zs]
    return [[value * e * INTENSITY_SCALE for value, e in zip(row, edge)] for row in image]
'''

NOISE_TEMPLATE = '''

import random

NOISE_LEVEL = {level!r}
NOISE_JITTER = {jitter!r}
_exact_simulate = simulate


def _run_seed():
    import os

    if os.environ.get({seed_env!r}):
        return int(os.environ[{seed_env!r}])
    with open({counter!r}, "a+") as f:  # this run's number: one more than the last
        f.seek(0)
        number = len(f.read())
        f.write(".")
    return {seed} * 1000003 + number


def simulate(*args, **kwargs):
    image = _exact_simulate(*args, **kwargs)
    rng = random.Random(_run_seed())
    level = abs(NOISE_LEVEL + NOISE_JITTER * rng.gauss(0.0, 1.0))
    values = [v for row in image for v in row]
    mean = math.fsum(values) / len(values)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
    step = level * std  # a zero-sum checkerboard of that height
    return [[v + (step if (s + f) % 2 == 0 else -step) for f, v in enumerate(row)]
            for s, row in enumerate(image)]
'''

MAIN_SOURCE = '''\
"""nanoBragg-compatible command line (a subset): python -m nbport FLAGS -floatfile FILE."""

import sys
from array import array

from . import physics

_VALUES = {"-default_F": 1, "-cell": 6, "-lambda": 1, "-N": 1, "-Na": 1, "-Nb": 1, "-Nc": 1,
           "-distance": 1, "-detpixels": 1, "-detpixels_f": 1, "-detpixels_s": 1, "-pixel": 1,
           "-oversample": 1, "-floatfile": 1, "-intfile": 1}
_SWITCHES = {"-nopgm", "-nonoise", "-noprogress", "-mosflm", "-square_xtal"}


def parse(argv):
    opts = {}
    i = 0
    while i < len(argv):
        flag = argv[i]
        if flag in _SWITCHES:
            i += 1
            continue
        if flag not in _VALUES or i + _VALUES[flag] >= len(argv):
            raise SystemExit(f"nbport: unknown flag or missing value: {flag}")
        opts[flag] = argv[i + 1:i + 1 + _VALUES[flag]]
        i += 1 + _VALUES[flag]
    return opts


def write_floatfile(image, path):
    """Row after row as little-endian float32, as nanoBragg's -floatfile."""
    values = array("f", [v for row in image for v in row])
    if sys.byteorder == "big":
        values.byteswap()
    with open(path, "wb") as f:
        values.tofile(f)


def main(argv):
    opts = parse(argv)
    cell = [float(v) for v in opts.get("-cell", ["100", "100", "100", "90", "90", "90"])]
    if cell[3:] != [90.0, 90.0, 90.0]:
        raise SystemExit("nbport: only orthogonal cells are supported")
    n = int(opts.get("-N", ["1"])[0])
    n_cells = [max(1, int(opts.get(k, [str(n)])[0])) for k in ("-Na", "-Nb", "-Nc")]
    pixel_m = float(opts.get("-pixel", ["0.1"])[0]) * 1e-3
    det = int(opts.get("-detpixels", ["1024"])[0])
    fpixels = int(opts.get("-detpixels_f", [str(det)])[0])
    spixels = int(opts.get("-detpixels_s", [str(det)])[0])
    image = physics.simulate(
        cell_m=[c * 1e-10 for c in cell[:3]], n_cells=n_cells,
        default_f=float(opts.get("-default_F", ["0"])[0]),
        wavelength_m=float(opts.get("-lambda", ["1.0"])[0]) * 1e-10,
        distance_m=float(opts.get("-distance", ["100"])[0]) * 1e-3,
        pixel_m=pixel_m, spixels=spixels, fpixels=fpixels,
        oversample=int(opts.get("-oversample", ["0"])[0]))
    write_floatfile(image, opts.get("-floatfile", ["floatimage.bin"])[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''


def commit_files(repo: Path, files: dict[str, str | None], message: str) -> str:
    """Commit ``files`` (path -> new text, None deletes it) on top of HEAD; the new sha.

    For commits made of several hunks (``narrow``): edit the texts of :func:`physics_source`
    and :data:`MAIN_SOURCE` with exact replacements and commit them together.
    """
    for name, text in files.items():
        target = repo / name
        if text is None:
            _git(repo, "rm", "-q", "--", name)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        _git(repo, "add", "--", name)
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def edited(text: str, *replacements: tuple[str, str]) -> str:
    """``text`` with each (old, new) replaced; each ``old`` must occur exactly once."""
    for old, new in replacements:
        if text.count(old) != 1:
            raise ValueError(f"expected {old!r} exactly once, found it {text.count(old)} times")
        text = text.replace(old, new)
    return text
