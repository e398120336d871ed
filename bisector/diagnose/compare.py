"""`bisector compare`: run two sides on the same nanoBragg arguments and say where they differ.

A side is the C program (``c``), simkernel (``simkernel``), a commit of the port (any
revision; the configured command runs on a private export of it), or a saved image (a .npy
file, or a raw float32 .bin of the arguments' detector size). Images come from the caches:
reference images under their reference key, a commit's image under its relevant trees and
environment, so comparing again costs nothing.

reports/compare/<STAMP>/: summary.json, summary.md, comparison.png (and roi.png with --roi).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.lib import format as npy
from rich.console import Console

from simkernel.io import read_floatfile

from .. import git
from ..cachedir import default_cache_dir
from ..config import C_BIN_ENV, Config, ConfigOverrides, Scenario, Thresholds, load_config
from ..errors import BisectorError, DiagnosisExit
from ..files import atomic_write
from ..report import figures
from ..report.bundle import environment, new_report_dir
from ..report.writable import report_folder
from ..score.metrics import Metrics, compare as compare_metrics, judge
from ..score.reference import CReference, SimkernelReference, detector_shape, open_reference
from ..score.scoring import ScoringService
from ..score.verdict import Verdict
from ..store.cache import Cache
from ..twin import twin_binary
from . import imagestats

# Exit codes of `bisector compare` (README).
AGREE = 0
DISAGREE = 1
SIDE_FAILED = DiagnosisExit.HARNESS

SCENARIO_NAME = "compare"
MAX_PEAKS = 10_000


@dataclass(frozen=True)
class Side:
    """``kind`` is "c", "simkernel", "commit" or "file"; ``value`` the commit or path."""

    kind: str
    value: str = ""
    label: str = ""


@dataclass(frozen=True)
class Roi:
    """nanoBragg's -roi: fast (x) and slow (y) pixel ranges, inclusive, from 0."""

    x0: int
    x1: int
    y0: int
    y1: int

    def cut(self, image: np.ndarray) -> np.ndarray:
        return image[self.y0:self.y1 + 1, self.x0:self.x1 + 1]

    def text(self) -> str:
        return f"fast {self.x0}-{self.x1}, slow {self.y0}-{self.y1}"


@dataclass
class Comparison:
    """Everything measured between a candidate and a reference image of the same shape."""

    metrics: Metrics
    verdict: Verdict
    reason: str
    peaks: imagestats.PeakMatch
    regions: imagestats.Regions
    radial: list[imagestats.Ring]

    def to_dict(self) -> dict:
        m = self.metrics
        return {"correlation": _json_float(m.correlation), "sum_ratio": _json_float(m.sum_ratio),
                "rmse": _json_float(m.rms_diff), "max_abs_diff": _json_float(m.max_abs_diff),
                "shape": list(m.shape), "problem": m.problem, "verdict": self.verdict.value,
                "reason": self.reason, "peaks": self.peaks.to_dict(), "regions": self.regions.to_dict(),
                "radial": [r.to_dict() for r in self.radial]}


@dataclass
class CompareResult:
    report_dir: Path
    whole: Comparison
    roi: Comparison | None
    reference: Side
    candidate: Side
    args: list[str]
    box: Roi | None = None
    figures: list[figures.FigureInfo] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        verdicts = [self.whole.verdict] + ([self.roi.verdict] if self.roi else [])
        return AGREE if all(v is Verdict.GOOD for v in verdicts) else DISAGREE


def compare_images(candidate: np.ndarray, reference: np.ndarray, thresholds: Thresholds = Thresholds(),
                   *, peaks: int = 20, radius: float = 2.0) -> Comparison:
    """Compare two images of shape (slow, fast); BisectorError when their shapes differ."""
    cand, ref = np.asarray(candidate), np.asarray(reference)
    for name, image in (("candidate", cand), ("reference", ref)):
        _check_real(image, f"the {name} image")
    _check_peak_options(peaks, radius)
    if cand.shape != ref.shape:
        raise BisectorError(f"the images differ in size: reference {tuple(ref.shape)}, candidate "
                            f"{tuple(cand.shape)} (slow, fast)",
                            hint="both sides must simulate the same detector; check -detpixels/-pixel "
                                 "and that a saved image matches the arguments")
    metrics = compare_metrics(cand, ref)
    verdict, reason = judge(metrics, thresholds)
    if verdict is Verdict.ABORT:
        raise BisectorError(f"the reference image is unusable: {metrics.reference_problem}", exit_code=SIDE_FAILED)
    return Comparison(metrics=metrics, verdict=verdict, reason=reason,
                      peaks=imagestats.match_peaks(ref, cand, peaks, radius),
                      regions=imagestats.regions(ref, cand), radial=imagestats.radial_profile(ref, cand))


# -- sides -----------------------------------------------------------------------------------

def parse_side(text: str, *, role: str) -> Side:
    """"c", "simkernel", an existing .npy/.bin file, or (candidate only) a commit."""
    if text in ("c", "simkernel"):
        return Side(text, label="C program" if text == "c" else "simkernel")
    path = Path(text)  # as typed: a file named "~x" or "$X" is that file
    if path.suffix in (".npy", ".bin") or path.is_file():
        if not path.is_file():
            raise BisectorError(f"saved image {path} does not exist", hint=f"check the path given to --{role}")
        return Side("file", str(path.resolve()), label=path.name)
    if role == "reference":
        raise BisectorError(f"--reference {text!r} is not 'c', 'simkernel' or a saved image (.npy/.bin)",
                            hint="use --reference c, --reference simkernel, or --reference path/to/image.npy")
    return Side("commit", text, label=text)


@dataclass(frozen=True)
class Settings:
    """What the sides need: the port's configuration when there is one, else flags only."""

    config: Config | None
    cache_dir: Path
    timeout_s: float
    c_bin: str | None
    thresholds: Thresholds


def load_settings(repo: Path | None, config_file: Path | None, overrides: ConfigOverrides,
                  need_port: bool) -> Settings:
    """The port's configuration (required when a side is a commit), else the flags alone."""
    config = None
    try:
        config = load_config(git.toplevel(Path(repo or ".").resolve()), config_file, overrides)
    except BisectorError:
        if need_port or config_file is not None:
            raise
    if config is not None:
        c_bin = config.reference.c_bin
        return Settings(config, Path(config.cache_dir), config.timeout_s, c_bin, config.thresholds)
    c_bin = str(overrides.c_bin) if overrides.c_bin else os.environ.get(C_BIN_ENV)
    thresholds = Thresholds(**{k: v for k, v in (("min_correlation", overrides.min_correlation),
                                                  ("max_sum_ratio_error", overrides.max_sum_ratio_error))
                               if v is not None})
    cache = Path(overrides.cache_dir) if overrides.cache_dir else default_cache_dir()
    return Settings(None, cache, overrides.timeout_s or 900.0, c_bin, thresholds)


def side_image(side: Side, args: list[str], settings: Settings, ref_kind: str = "") -> np.ndarray:
    """The side's image for ``args`` (shape (slow, fast)); ReferenceFailure/BisectorError on
    failure. ``ref_kind``: the other side's kind, when this one is the candidate."""
    scenario = Scenario(SCENARIO_NAME, tuple(args))
    if side.kind == "file":
        return _load_file(Path(side.value), args)
    cache = Cache(settings.cache_dir)
    try:
        if side.kind == "simkernel":
            return SimkernelReference(cache, settings.timeout_s).image(scenario)
        if side.kind == "c":
            if settings.config is not None and settings.config.reference.kind == "c":
                return open_reference(settings.config, cache).image(scenario)
            c_bin = Path(settings.c_bin) if settings.c_bin else _twin_with_notice()
            return CReference(c_bin, cache, settings.timeout_s).image(scenario)
        return _commit_image(side.value, scenario, settings.config, ref_kind)
    finally:
        cache.close()


def _twin_with_notice() -> Path:
    """--reference c with no C program configured: the C twin, said out loud."""
    binary = twin_binary()
    Console(stderr=True).print(f"note: no C program configured (--c-bin, {C_BIN_ENV} or c_bin): --reference c uses the "
                               f"C twin {binary} (same as --c-bin twin)", markup=False, soft_wrap=True)
    return binary


def _check_real(image: np.ndarray, what: str) -> None:
    """Metrics of complex or text values would be meaningless (a complex image once "agreed")."""
    if image.dtype.kind not in "biuf":
        kind = {"c": "complex", "U": "text", "S": "text", "O": "Python object"}.get(image.dtype.kind, str(image.dtype))
        raise BisectorError(f"{what} holds {kind} values ({image.dtype}), not real intensities",
                            hint="save the real image, e.g. numpy.save(path, image.real.astype('float32'))")


def _check_peak_options(peaks: int, radius: float) -> None:
    if isinstance(peaks, bool) or not isinstance(peaks, int) or not 1 <= peaks <= MAX_PEAKS:
        raise BisectorError(f"--peaks must be a whole number from 1 to {MAX_PEAKS}, not {peaks!r}",
                            hint="e.g. --peaks 20")
    if not (math.isfinite(radius) and radius > 0):
        raise BisectorError(f"--radius must be a finite number of pixels > 0, not {radius!r}",
                            hint="e.g. --radius 2")


def _npy_header(path: Path) -> None:
    """Refuse a .npy whose header asks for what the file cannot hold, before numpy allocates it:
    a header may claim 99999 x 99999 pixels in a file of a few bytes."""
    with open(path, "rb") as fh:
        version = npy.read_magic(fh)
        reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, _, dtype = reader(fh)
        data_bytes = os.fstat(fh.fileno()).st_size - fh.tell()
    image = np.empty(0, dtype=dtype)
    _check_real(image, f"the saved image {path}")
    if len(shape) != 2:
        raise BisectorError(f"the saved image {path} has shape {shape}, not (slow, fast)")
    needed = math.prod(shape) * dtype.itemsize
    if needed > data_bytes:
        raise BisectorError(f"the saved image {path} claims {shape[0]} x {shape[1]} {dtype} pixels "
                            f"({needed} bytes) but holds {data_bytes} bytes of data",
                            hint="the file is truncated or its header is damaged: save the image again")


def _load_file(path: Path, args: list[str]) -> np.ndarray:
    try:
        if path.suffix == ".npy":
            _npy_header(path)
            image = np.load(path, allow_pickle=False)
        else:
            image = read_floatfile(path, detector_shape(args))
    except (OSError, ValueError, EOFError) as exc:
        raise BisectorError(f"cannot read the saved image {path}: {exc}",
                            hint="a .npy from numpy.save, or a raw float32 .bin of the arguments' detector size")
    if image.ndim != 2:
        raise BisectorError(f"the saved image {path} has shape {image.shape}, not (slow, fast)")
    _check_real(image, f"the saved image {path}")
    return image


def _commit_image(commit: str, scenario: Scenario, config: Config, ref_kind: str) -> np.ndarray:
    """A fresh run of the configured command at ``commit``, through the scoring service.

    With the configured reference on the other side, the run is also the commit's score
    (stored under the one score key, so `score`, `run` and `scan` reuse it); the image
    itself is never cached: candidate images have no place in the reference table.
    """
    with ScoringService(config) as service:
        state = service.commit(commit)
        with service.session(state, read_cache=False, hold_images=True) as session:
            if ref_kind == config.reference.kind:
                result = session.measured(scenario)
                image, reason = session.images.get(scenario.name), result.reason
            else:
                run = session.candidate(scenario)
                image, reason = run.image, run.reason
    sha = state.name
    if image is None:
        raise BisectorError(f"the port at {sha[:10]} produced no image: {reason}",
                            hint=f"score it with `bisector score {sha[:10]}` to see the full reason",
                            exit_code=SIDE_FAILED)
    shape = detector_shape(scenario.args)
    if image.ndim != 2:
        raise BisectorError(f"the port at {sha[:10]} wrote {image.size} pixels, expected "
                            f"{shape[0]} x {shape[1]} (slow, fast)", exit_code=SIDE_FAILED)
    return image


# -- the command -----------------------------------------------------------------------------

def run_compare(args: list[str], *, ref: str | None = None, candidate: str | None = None,
                roi: tuple[int, int, int, int] | None = None, repo: Path | None = None,
                config_file: Path | None = None, overrides: ConfigOverrides | None = None,
                scenario: str | None = None, report_root: Path | None = None,
                peaks: int = 20, radius: float = 2.0) -> CompareResult:
    """Both sides' images on ``args`` (or a configured scenario's), compared and reported."""
    _check_peak_options(peaks, radius)  # before any side runs
    overrides = overrides or ConfigOverrides()
    ref_side = parse_side(ref, role="reference") if ref else None
    cand_side = parse_side(candidate or "HEAD", role="candidate")
    settings = load_settings(repo, config_file, overrides,
                             need_port=cand_side.kind == "commit" or scenario is not None)
    ref_side = ref_side or parse_side(_default_ref(settings), role="reference")
    args = _scenario_args(args, scenario, settings)
    if cand_side.kind == "commit":
        sha = git.resolve(settings.config.repo, cand_side.value)
        cand_side = replace(cand_side, value=sha, label=f"{cand_side.value} ({sha[:10]})"
                            if not sha.startswith(cand_side.value) else sha[:10])
    box = Roi(*roi) if roi else None
    report_root = report_folder(report_root, "compare")
    reference = side_image(ref_side, args, settings)
    image = side_image(cand_side, args, settings, ref_side.kind)
    whole = compare_images(image, reference, settings.thresholds, peaks=peaks, radius=radius)
    part = None
    if box is not None:
        _check_roi(box, reference.shape)
        part = compare_images(box.cut(image), box.cut(reference), settings.thresholds, peaks=peaks, radius=radius)
    report_dir = new_report_dir(report_root)
    result = CompareResult(report_dir, whole, part, ref_side, cand_side, list(args), box)
    _write(result, reference, image, box)
    return result


def _default_ref(settings: Settings) -> str:
    if settings.config is not None:
        return settings.config.reference.kind
    return "c" if settings.c_bin else "simkernel"


def _scenario_args(args: list[str], scenario: str | None, settings: Settings) -> list[str]:
    if args and scenario:
        raise BisectorError("give either --scenario or nanoBragg arguments after --, not both")
    if scenario:
        if scenario not in settings.config.scenarios:
            raise BisectorError(f"unknown scenario {scenario!r}",
                                hint=f"defined scenarios: {', '.join(sorted(settings.config.scenarios))}")
        return list(settings.config.scenarios[scenario].args)
    if not args:
        raise BisectorError("no nanoBragg arguments to run",
                            hint="bisector compare --reference c --candidate simkernel -- -default_F 100 -cell ... "
                                 "(or --scenario NAME)")
    if "-floatfile" in args:
        raise BisectorError("the arguments must not contain -floatfile", hint="bisector chooses the output file")
    return list(args)


def _check_roi(box: Roi, shape: tuple[int, int]) -> None:
    slow, fast = shape
    if not (0 <= box.x0 <= box.x1 < fast and 0 <= box.y0 <= box.y1 < slow):
        raise BisectorError(f"--roi {box.x0} {box.x1} {box.y0} {box.y1} does not fit a detector of "
                            f"{fast} fast x {slow} slow pixels",
                            hint="X0 X1 are fast pixels, Y0 Y1 slow pixels, inclusive, from 0 (nanoBragg's -roi)")


# -- report ----------------------------------------------------------------------------------

def _write(result: CompareResult, reference: np.ndarray, image: np.ndarray, box: Roi | None) -> None:
    ref_label, cand_label = f"reference: {result.reference.label}", f"candidate: {result.candidate.label}"
    panels = [figures.Panel("reference", ref_label, reference), figures.Panel("candidate", cand_label, image)]
    title = f"compare: {result.candidate.label} vs {result.reference.label}"
    result.figures.append(figures.comparison_figure(
        result.report_dir / "comparison.png", panels, title=title + " (whole frame)",
        caption=_caption(result.whole), difference_of=("candidate", "reference")))
    if box is not None:
        roi_panels = [figures.Panel(p.name, p.label, box.cut(p.image)) for p in panels]
        result.figures.append(figures.comparison_figure(
            result.report_dir / "roi.png", roi_panels, title=f"{title} (ROI {box.text()})",
            caption=_caption(result.roi), difference_of=("candidate", "reference"), origin=(box.y0, box.x0)))
    atomic_write(result.report_dir / "summary.json", (json.dumps(summary(result), indent=2) + "\n").encode())
    atomic_write(result.report_dir / "summary.md", ("\n".join(summary_md(result)) + "\n").encode())


def summary(result: CompareResult) -> dict:
    """The JSON summary; ``correlation`` and ``sum_ratio`` at top level so `audit` reads it."""
    data = {"reference": result.reference.__dict__, "candidate": result.candidate.__dict__,
            "args": result.args, **result.whole.to_dict(),
            "roi": {"box": result.box.__dict__, **result.roi.to_dict()} if result.roi else None,
            "environment": environment()}
    return data


def _caption(c: Comparison) -> list[str]:
    m, p, r = c.metrics, c.peaks, c.regions
    return [f"correlation {_fmt(m.correlation, '.6f')}   sum ratio {_fmt(m.sum_ratio, '.6f')}   "
            f"RMSE {_fmt(m.rms_diff, '.4g')}   max |diff| {_fmt(m.max_abs_diff, '.4g')}   verdict {c.verdict.value}",
            f"centre correlation {_fmt(r.centre_correlation, '.6f')}   edge correlation "
            f"{_fmt(r.edge_correlation, '.6f')}   peaks matched {p.matched}/{min(p.reference_peaks, p.candidate_peaks)}"
            f" within {p.radius:g} px (mean {_fmt(p.mean_distance, '.3f')}, max {_fmt(p.max_distance, '.3f')} px)"]


def summary_md(result: CompareResult) -> list[str]:
    w = result.whole
    lines = [f"# Compare: {result.candidate.label} vs {result.reference.label}", "",
             f"- Reference: {result.reference.label}", f"- Candidate: {result.candidate.label}",
             f"- Arguments: `{' '.join(result.args)}`", f"- Verdict (whole frame): **{w.verdict.value}** ({w.reason})",
             "", "## Metrics", "", "| region | correlation | sum ratio | RMSE | max abs diff |", "|---|---|---|---|---|",
             _metrics_row("whole frame", w)]
    if result.roi:
        lines.append(_metrics_row("ROI", result.roi))
    lines += ["", "## Where the disagreement lives", "", *_where(w), "",
              "| region | correlation |", "|---|---|",
              f"| centre (middle half of each axis) | {_fmt(w.regions.centre_correlation, '.6f')} |",
              f"| edges (the rest) | {_fmt(w.regions.edge_correlation, '.6f')} |", "",
              "Relative error sum|candidate - reference| / sum|reference| by distance from the centre:", "",
              "| radius (px) | pixels | relative error |", "|---|---|---|"]
    lines += [f"| {r.r0:g}-{r.r1:g} | {r.pixels} | {_fmt(r.relative_error, '.3g')} |" for r in w.radial]
    p = w.peaks
    lines += ["", "## Peaks", "",
              f"{p.matched} of the reference's {p.reference_peaks} brightest peaks (local maxima; "
              f"{p.wanted} asked) have a peak of the candidate within {p.radius:g} px, mean distance "
              f"{_fmt(p.mean_distance, '.3f')} px, max {_fmt(p.max_distance, '.3f')} px. Each is paired with "
              f"at most one of the candidate's {p.candidate_peaks} brightest, a list twice as long so that "
              "peaks of equal brightness are not lost to a tie at the cut.", "",
              "## Images", ""]
    for info in result.figures:
        lines += figures.explain(info, "the reference", "the candidate") + [""]
    return lines


def _where(c: Comparison) -> list[str]:
    centre, edge = c.regions.centre_correlation, c.regions.edge_correlation
    if centre is None or edge is None:
        return ["The centre or the edges have no variation to correlate."]
    if centre - edge > 0.01:
        return [f"The centre agrees better than the edges ({centre:.6f} against {edge:.6f}): the error "
                "grows away from the centre, as errors of geometry (distance, pixel size, obliquity, "
                "solid angle, beam centre) do; a whole-frame metric alone hides this."]
    if edge - centre > 0.01:
        return [f"The edges agree better than the centre ({edge:.6f} against {centre:.6f}): look at what "
                "matters most near the beam (the direct beam, low-angle spots, the beam centre)."]
    return [f"Centre and edges agree alike ({centre:.6f}, {edge:.6f}): the difference is spread over the frame."]


def _metrics_row(name: str, c: Comparison) -> str:
    m = c.metrics
    return (f"| {name} | {_fmt(m.correlation, '.6f')} | {_fmt(m.sum_ratio, '.6f')} | {_fmt(m.rms_diff, '.4g')} "
            f"| {_fmt(m.max_abs_diff, '.4g')} |")


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None
