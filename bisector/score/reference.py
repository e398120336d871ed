"""The known-good image of a scenario: from a C program, a C program built once, or simkernel.

Each reference has a ``key`` that names exactly what produced its images (sha256 of the
C executable, or the simkernel version and dtype); images are cached under that key, so
the C program runs once per scenario, ever.

A hunt with cores to spare makes the images it lacks alongside its first candidates
(:func:`make_alongside`): one thread makes them in turn while the candidates run, and a
scorer that needs one meanwhile waits for it rather than making it twice.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import importlib.util
import os
import shlex
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy costs ~0.15 s to import: only paths that touch images load it
    import numpy as np

from .. import git
from . import procs
from ..store.cache import Cache, digest
from ..config import Config, Scenario
from ..errors import ReferenceFailure


def detector_shape(args: tuple[str, ...] | list[str]) -> tuple[int, int]:
    """(slow, fast) pixel counts nanoBragg derives from ``args``: simkernel's one rule
    (``simkernel.args.detector_shape``, torch-free; imported here on first use because it
    brings numpy, which a cached step never needs). Raises ValueError naming the flag."""
    from simkernel.args import detector_shape as nanobragg_rule

    return nanobragg_rule(list(args))


class Reference:
    """Produces reference images; subclasses implement ``_compute``; ``image`` caches."""

    key: str

    def __init__(self, cache: Cache | None, timeout_s: float):
        self.cache = cache
        self.timeout_s = timeout_s

    def image(self, scenario: Scenario) -> np.ndarray:
        """The reference image of ``scenario``, shape (slow, fast); raises ReferenceFailure."""
        making = self._alongside(scenario)
        return making.wait(scenario) if making is not None else self.made(scenario)

    def made(self, scenario: Scenario) -> np.ndarray:
        """The image from the cache, else computed here and cached."""
        if self.cache is not None:
            cached = self.cache.get_reference(self.key, scenario.args)
            if cached is not None:
                return cached
        image = self._compute(scenario)
        if self.cache is not None:
            self.cache.put_reference(self.key, scenario.args, image)
        return image

    def being_made(self, scenario: Scenario) -> bool:
        """Whether the image of ``scenario`` is being made alongside and is not ready yet."""
        making = self._alongside(scenario)
        return making is not None and not making.ready(scenario)

    def _alongside(self, scenario: Scenario) -> _Alongside | None:
        making = _making.get(self.key)
        return making if making is not None and making.makes(scenario) else None

    def _compute(self, scenario: Scenario) -> np.ndarray:
        raise NotImplementedError

    def shape(self, scenario: Scenario) -> tuple[int, int]:
        """The (slow, fast) size of ``scenario``'s images; ReferenceFailure when its args do not say."""
        try:
            return detector_shape(scenario.args)
        except ValueError as exc:
            raise ReferenceFailure(f"cannot tell the image size of scenario {scenario.name!r}: {exc}",
                                   hint="fix the scenario's args in [tool.bisector.scenarios]")


class CReference(Reference):
    """A nanoBragg-compatible executable, run in a fresh scratch directory per scenario."""

    def __init__(self, binary: Path, cache: Cache | None, timeout_s: float, key: str | None = None):
        super().__init__(cache, timeout_s)
        self.binary = Path(binary)
        try:
            self.key = key or "c-" + hashlib.sha256(self.binary.read_bytes()).hexdigest()
        except OSError as exc:
            raise ReferenceFailure(f"cannot read the C reference {self.binary}: {exc}",
                                   hint="pass --c-bin PATH or set NB_C_BIN to an existing program")

    def _compute(self, scenario: Scenario) -> np.ndarray:
        shape = self.shape(scenario)
        # A scratch cwd: nanoBragg writes extra images there and silently reads a stray Fdump.bin.
        scratch = procs.owned_tempdir("bisector-ref-")
        try:
            cwd, out = scratch / "cwd", scratch / "reference.bin"
            cwd.mkdir()
            argv = [str(self.binary), *scenario.args, "-floatfile", str(out)]
            command = shlex.join(argv)
            _run_or_fail(argv, cwd, scratch / "logs", self.timeout_s, "the C reference",
                         hint="run that command by hand; check the scenario's args and the C program")
            if not out.is_file():
                raise ReferenceFailure(f"the C reference wrote no float image: {command}")
            from simkernel.io import read_floatfile  # brings numpy: only a computed image needs it

            try:
                return read_floatfile(out, shape)
            except ValueError as exc:
                raise ReferenceFailure(f"the C reference wrote a float image of the wrong size: {exc}: {command}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


class SimkernelReference(Reference):
    """The in-process float64 simkernel simulator (torch is imported only when needed)."""

    def __init__(self, cache: Cache | None, timeout_s: float, key: str | None = None):
        super().__init__(cache, timeout_s)
        self.key = key or f"simkernel-{simkernel_fingerprint()}-float64"

    def _compute(self, scenario: Scenario) -> np.ndarray:
        shape = self.shape(scenario)
        try:
            import simkernel  # torch, seconds to import: only when an image must be computed
            import torch
            # torch's objects live as long as the process: in the collector's permanent
            # generation, no later full collection walks them again. A cold `bisector run`
            # of a 7-commit port: 7.1 against 8.0 CPU-s for its process tree (12 runs each).
            gc.freeze()
            cfg = simkernel.parse_args(list(scenario.args))
            image = simkernel.simulate(cfg, dtype=torch.float64).detach().cpu().numpy()
        except Exception as exc:
            raise ReferenceFailure(f"simkernel failed on scenario {scenario.name!r}: "
                                   f"{type(exc).__name__}: {exc}")
        if tuple(image.shape) != shape:
            raise ReferenceFailure(f"simkernel produced an image of shape {tuple(image.shape)} "
                                   f"for scenario {scenario.name!r}, expected {shape}")
        return image


def _run_or_fail(argv: list[str], cwd: Path, log_dir: Path, timeout_s: float, what: str, hint: str) -> None:
    """Run a reference-side command; any failure is the harness's, so it raises ReferenceFailure."""
    command = shlex.join(argv)
    try:
        result = procs.run(argv, cwd=cwd, log_dir=log_dir, label="reference", timeout_s=timeout_s)
    except OSError as exc:
        raise ReferenceFailure(f"{what}: cannot keep the logs of {command}: {exc}", hint=hint)
    if result.timed_out:
        raise ReferenceFailure(f"{what} timed out after {timeout_s:g} s: {command}", hint=hint)
    if result.returncode != 0:
        raise ReferenceFailure(f"{what} failed with exit status {result.returncode}: {command}\n"
                               f"{result.output_tail}", hint=hint)


class _Alongside:
    """Reference images made in turn in a thread of their own (with its own cache connection:
    SQLite's belong to the thread that opened them); each kept here until settled."""

    def __init__(self, config: Config, scenarios: Sequence[Scenario]):
        self._ready = {s.args: threading.Event() for s in scenarios}
        self._images: dict[tuple[str, ...], np.ndarray] = {}
        self._errors: dict[tuple[str, ...], BaseException] = {}
        self._thread = threading.Thread(target=self._make, args=(config, list(scenarios)),
                                        name="bisector-references", daemon=True)
        self._thread.start()

    def _make(self, config: Config, scenarios: list[Scenario]) -> None:
        reference = None
        try:
            reference = reference_for(config)
            for scenario in scenarios:
                self._make_one(reference, scenario)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for an image
            for scenario in scenarios:
                if not self._ready[scenario.args].is_set():
                    self._errors[scenario.args] = exc
        finally:
            for ready in self._ready.values():  # nobody may wait for ever
                ready.set()
            if reference is not None and reference.cache is not None:
                reference.cache.close()

    def _make_one(self, reference: Reference, scenario: Scenario) -> None:
        try:
            image = reference.made(scenario)
            image.setflags(write=False)  # one array for every scorer that asks: none may change it
            self._images[scenario.args] = image
        except Exception as exc:  # noqa: BLE001 - handed to whoever waits for this image
            self._errors[scenario.args] = exc
        finally:
            self._ready[scenario.args].set()

    def makes(self, scenario: Scenario) -> bool:
        return scenario.args in self._ready

    def ready(self, scenario: Scenario) -> bool:
        return self._ready[scenario.args].is_set()

    def wait(self, scenario: Scenario) -> np.ndarray:
        self._ready[scenario.args].wait()
        if scenario.args in self._errors:
            raise self._errors[scenario.args]
        return self._images[scenario.args]

    def settle(self) -> None:
        self._thread.join()
        for error in self._errors.values():
            raise error


_making: dict[str, _Alongside] = {}


def make_alongside(config: Config, scenarios: Sequence[Scenario]) -> None:
    """Start making the (pinned) reference's images of ``scenarios`` in a thread of its own;
    :func:`settle` waits for them."""
    _making[config.reference.pinned_key] = _Alongside(config, scenarios)


def settle(config: Config, *, wait: bool = True) -> None:
    """Wait until every image made alongside for ``config``'s reference is made and cached;
    raises the first one's ReferenceFailure, if one failed. ``wait=False`` (Ctrl-C): only
    forget them; the thread, a daemon, ends with the process."""
    making = _making.pop(config.reference.pinned_key, None)
    if making is not None and wait:
        making.settle()


def simkernel_fingerprint() -> str:
    """A hash of simkernel's source files, found without importing it.

    Importing simkernel imports torch (about a second); git runs the scorer at every step
    and a cache hit must stay cheap. Hashing the sources also means that any edit to the
    kernel, not only a version bump, invalidates the images it made.
    """
    spec = importlib.util.find_spec("simkernel")
    if spec is None or not spec.submodule_search_locations:
        raise ReferenceFailure("simkernel is not installed", hint="pip install -e . in bisector's checkout")
    root = Path(list(spec.submodule_search_locations)[0])
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".c") and "__pycache__" not in path.parts:
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def open_reference(config: Config, cache: Cache | None = None) -> Reference:
    """The reference configured in ``config``; a C program to build is built (once) first."""
    spec = config.reference
    # A key pinned by `run` is used as given: the steps must not recompute (or change) it.
    if spec.kind == "simkernel":
        return SimkernelReference(cache, config.timeout_s, spec.pinned_key)
    if spec.c_bin:
        return CReference(Path(spec.c_bin), cache, config.timeout_s, spec.pinned_key)
    if spec.build:
        return CReference(build_reference(config), cache, config.timeout_s, spec.pinned_key)
    raise ReferenceFailure("no C reference configured",
                           hint="pass --c-bin PATH, set NB_C_BIN, or configure [tool.bisector.reference]")


def reference_for(config: Config) -> Reference:
    """The configured reference, caching its images in ``config.cache_dir``."""
    return open_reference(config, Cache(config.cache_dir))


def pin_reference(config: Config) -> Config:
    """``config`` with its reference resolved and frozen: a built C program becomes its path,
    and the key of the images is fixed for the rest of the run."""
    reference = reference_for(config)
    spec = dataclasses.replace(config.reference, pinned_key=reference.key)
    if isinstance(reference, CReference):
        spec = dataclasses.replace(spec, c_bin=str(reference.binary), build=None)
    return dataclasses.replace(config, reference=spec)


def build_reference(config: Config) -> Path:
    """Build the C program once per (build commit, command) and keep it in the cache folder.

    The build runs in a private checkout of ``build_commit`` outside the user's repository
    (``git.checkout_private``); it is removed afterwards whatever happens.
    """
    spec = config.reference
    try:
        commit = git.resolve(config.repo, spec.build_commit or "HEAD")
    except Exception as exc:
        raise ReferenceFailure(f"cannot find build_commit {spec.build_commit!r}: {exc}")
    binary_name = Path(spec.binary or "nanoBragg").name
    target = Path(config.cache_dir) / "bin" / digest([commit, spec.build, spec.binary]) / binary_name
    if target.is_file() and os.access(target, os.X_OK):
        return target
    scratch = procs.owned_tempdir("bisector-build-")
    worktree = scratch / "src"
    try:
        git.checkout_private(config.repo, worktree, commit)
        _run_or_fail(shlex.split(spec.build), worktree, scratch / "logs", config.timeout_s,
                     f"building the C reference at {commit[:12]}",
                     hint="fix [tool.bisector.reference] build/build_commit, or pass --c-bin")
        built = worktree / (spec.binary or "nanoBragg")
        if not built.is_file():
            raise ReferenceFailure(f"the build command {spec.build!r} did not produce {spec.binary!r}",
                                   hint="set binary = \"path/inside/the/checkout\" in [tool.bisector.reference]")
        try:
            return _install(built, target)
        except OSError:  # an unusable cache folder: keep the program for this run only
            return _install(built, procs.owned_tempdir("bisector-bin-") / binary_name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _install(built: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copy2(built, tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
    return target
