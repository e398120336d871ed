"""The port's source history: every change to ``src/`` after the port lands, in order.

Each :class:`Change` is one commit. Most keep parity with the C program (refactors,
releases, a performance change); three inject a regression of a different kind and three
later commits fix them; one forgets to add a new module, so the port cannot be imported
until a later commit adds it. ``at`` places a change in the history as a fraction of its
length, so the same story scales from a 200-commit test repository to the 1,400-commit demo.

Edits are exact text replacements that must match exactly once: if a template file is
edited so that a later change no longer applies, generation fails loudly instead of
silently producing a different history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Roles of the commits the demo knows the answer about.
FIRST_GOOD = "first_good"
IMPORT_BREAK = "import_break"
IMPORT_BROKEN = "import_broken"
IMPORT_FIX = "import_fix"
PERF = "perf"
BENCHMARK_CHANGE = "benchmark_change"
RELEASE = "release"
REFACTOR = "refactor"


@dataclass(frozen=True)
class RegressionSpec:
    """What one injected regression is and which scenarios can see it."""

    name: str
    description: str
    scenarios: tuple[str, ...]
    breaking: str = ""  # text that only the breaking hunk of the culprit adds (what `narrow` must name)

    @property
    def fix_role(self) -> str:
        return f"{self.name}_fix"


UNIT_SLIP = RegressionSpec(
    "unit_slip", "wavelength kept in Angstrom where metres are expected: the image is wrecked",
    ("benchmark", "oversample"), "# SimParams keeps metres")
HALF_PIXEL = RegressionSpec(
    "half_pixel", "MOSFLM +1/2 pixel beam-centre shift dropped: correlation about 0.99",
    ("benchmark", "oversample"), "# the default beam centre above already includes the half pixel")
OVERSAMPLE_NORM = RegressionSpec(
    "oversample_norm", "subpixel normalisation divides by n instead of n^2: only -oversample runs are 2x too bright",
    ("oversample",), "# one normalisation step per subpixel")
REGRESSIONS = (UNIT_SLIP, HALF_PIXEL, OVERSAMPLE_NORM)


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (which must occur exactly once in ``path``) by ``new``."""

    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Change:
    """One commit of the port's history that touches files other than docs and reports."""

    at: float
    message: str
    role: str = REFACTOR
    edits: tuple[Edit, ...] = ()
    files: dict[str, str] = field(default_factory=dict)  # whole files written: path -> text


def apply_change(tree: dict[str, str], change: Change) -> list[str]:
    """Apply ``change`` to ``tree`` (path -> text) in place; return the paths it wrote."""
    written = []
    for edit in change.edits:
        text = tree.get(edit.path)
        if text is None or text.count(edit.old) != 1:
            found = 0 if text is None else text.count(edit.old)
            raise ValueError(f"change {change.message!r}: expected the text once in {edit.path}, "
                             f"found it {found} times:\n{edit.old}")
        tree[edit.path] = text.replace(edit.old, edit.new)
        written.append(edit.path)
    for path, text in change.files.items():
        tree[path] = text
        written.append(path)
    return list(dict.fromkeys(written))


INIT = "src/nbport/__init__.py"
CLI = "src/nbport/cli.py"
CRYSTAL = "src/nbport/crystal.py"
GEOMETRY = "src/nbport/geometry.py"
IO = "src/nbport/io.py"
PARAMS = "src/nbport/params.py"
PHYSICS = "src/nbport/physics.py"
SIMULATOR = "src/nbport/simulator.py"


def _release(at: float, old: str, new: str) -> Change:
    return Change(at, f"Release {new}", RELEASE,
                  (Edit(INIT, f'__version__ = "{old}"', f'__version__ = "{new}"'),))


def source_changes(bench_pixels_before: int, bench_pixels_after: int, units_module: str) -> list[Change]:
    """Every change after the port lands, oldest first.

    ``bench_pixels_before``/``after``: the port's own benchmark size before and after it
    moves to the full detector; ``units_module``: the text of the module the import
    break forgets.
    """
    return [
        Change(0.022, "crystal: say which units the cell helpers take", edits=(
            Edit(CRYSTAL,
                 "def real_space_vectors(lengths_A: Vector, angles_deg: Vector) -> tuple[Vector, Vector, Vector]:\n",
                 "def real_space_vectors(lengths_A: Vector, angles_deg: Vector) -> tuple[Vector, Vector, Vector]:\n"
                 '    """Real-space a, b, c in metres from cell lengths (Angstrom) and angles (degrees)."""\n'),)),
        _release(0.032, "0.4.0", "0.4.1"),
        Change(0.042, "cli: accept -wave and -Na/-Nb/-Nc like nanoBragg", edits=(
            Edit(CLI, '        elif flag == "-lambda":\n', '        elif flag in ("-lambda", "-wave"):\n'),
            Edit(CLI,
                 "            params.n_cells = (n, n, n)\n            used = 1\n",
                 "            params.n_cells = (n, n, n)\n            used = 1\n"
                 '        elif flag in ("-Na", "-Nb", "-Nc"):\n'
                 "            cells = list(params.n_cells)\n"
                 '            cells["abc".index(flag[2])] = max(1, _values(argv, i, 1, int)[0])\n'
                 "            params.n_cells = tuple(cells)\n"
                 "            used = 1\n"))),
        Change(0.052, "io: write the float image atomically", edits=(
            Edit(IO, "from pathlib import Path\n", "import os\nfrom pathlib import Path\n"),
            Edit(IO,
                 "    image.to(torch.float32).contiguous().numpy().tofile(str(path))\n",
                 "    # write beside the target and rename, so a killed run never leaves half an image\n"
                 "    path = Path(path)\n"
                 '    partial = path.with_name(path.name + ".partial")\n'
                 "    image.to(torch.float32).contiguous().numpy().tofile(str(partial))\n"
                 "    os.replace(partial, path)\n"))),
        Change(0.062, "physics: move the polarisation factor next to the solid angle", edits=(
            Edit(PHYSICS,
                 "    return (pixel_m * pixel_m) / (r * r) * (close_distance_m / r)\n",
                 "    return (pixel_m * pixel_m) / (r * r) * (close_distance_m / r)\n\n\n"
                 "def polarization_factor(cos_2theta: torch.Tensor) -> torch.Tensor:\n"
                 "    # Kahn factor 0, nanoBragg's default: the unpolarised formula\n"
                 "    return 0.5 * (1 + cos_2theta * cos_2theta)\n"),
            Edit(SIMULATOR, "                polar = 0.5 * (1 + cos_2theta * cos_2theta)\n",
                 "                polar = polarization_factor(cos_2theta)\n"),
            Edit(SIMULATOR, "from .physics import lattice_factor_squared, solid_angle\n",
                 "from .physics import lattice_factor_squared, polarization_factor, solid_angle\n"))),
        # The import break: params.py now imports a module this commit forgot to add.
        Change(0.075, "Move unit constants into nbport.units", IMPORT_BREAK, edits=(
            Edit(PARAMS,
                 "ANGSTROM = 1e-10  # metres per Angstrom\n"
                 "MILLIMETRE = 1e-3  # metres per mm\n"
                 "R_E_SQUARED = 7.94079248018965e-30  # classical electron radius squared, m^2\n"
                 "DEFAULT_FLUENCE = 1.25932015286227e29  # photons / m^2, nanoBragg's default\n",
                 "from .units import ANGSTROM, DEFAULT_FLUENCE, MILLIMETRE, R_E_SQUARED  # noqa: F401\n"),
            Edit(PARAMS, "them with the constants below when", "them with the constants of units.py when"))),
        Change(0.080, "geometry: document the MOSFLM basis vectors", IMPORT_BROKEN, edits=(
            Edit(GEOMETRY, "BEAM = (1.0, 0.0, 0.0)\n",
                 "# MOSFLM basis (lab frame unit vectors): beam along +x, fast along +z, slow along -y\n"
                 "BEAM = (1.0, 0.0, 0.0)\n"),)),
        Change(0.085, "cli: print the crystal size like nanoBragg", IMPORT_BROKEN, edits=(
            Edit(CLI, '    print("  parallelpiped xtal: %dx%dx%d cells" % params.n_cells)\n',
                 '    print("crystal is %g x %g x %g microns" % tuple(\n'
                 "        length * 1e-4 * n for length, n in zip(params.cell_A, params.n_cells)))\n"
                 '    print("  parallelpiped xtal: %dx%dx%d cells" % params.n_cells)\n'),)),
        Change(0.090, "simulator: name the row chunk size", IMPORT_BROKEN, edits=(
            Edit(SIMULATOR,
                 "    for first in range(0, detector.spixels, 64):\n"
                 "        rows = torch.arange(first, min(first + 64, detector.spixels))\n",
                 "    for first in range(0, detector.spixels, ROWS_PER_CHUNK):\n"
                 "        rows = torch.arange(first, min(first + ROWS_PER_CHUNK, detector.spixels))\n"),
            Edit(SIMULATOR,
                 "from .physics import lattice_factor_squared, polarization_factor, solid_angle\n",
                 "from .physics import lattice_factor_squared, polarization_factor, solid_angle\n\n"
                 "# rows rendered at once: keeps each float32 temporary of a 4096-wide detector near 1 MB\n"
                 "ROWS_PER_CHUNK = 64\n"))),
        Change(0.095, "Add units.py, which the constants move left out", IMPORT_FIX,
               files={"src/nbport/units.py": units_module}),
        Change(0.105, "geometry: docstring with units", edits=(
            Edit(GEOMETRY, "class Detector:\n    fpixels: int\n",
                 "class Detector:\n"
                 '    """A flat detector: pixel counts, pixel size (m), distance (m), beam centre (m)."""\n\n'
                 "    fpixels: int\n"),)),
        _release(0.115, "0.4.1", "0.5.0"),
        # The wavelength moves to metres, converted once where -lambda is read: parity holds.
        Change(0.120, "params: keep the wavelength in metres", edits=(
            Edit(PARAMS, "    wavelength_A: float = 1.0\n", "    wavelength_m: float = 1e-10\n"),
            Edit(CLI, "            params.wavelength_A = _values(argv, i, 1)[0]\n",
                 "            params.wavelength_m = _values(argv, i, 1)[0] * ANGSTROM\n"),
            Edit(CLI, "from .params import SimParams\n", "from .params import ANGSTROM, SimParams\n"),
            Edit(CLI, '    print("  wave=%g meters" % (params.wavelength_A * 1e-10))\n',
                 '    print("  wave=%g meters" % params.wavelength_m)\n'),
            Edit(SIMULATOR, "    wavelength_m = params.wavelength_A * ANGSTROM\n",
                 "    wavelength_m = params.wavelength_m\n"),
            Edit(SIMULATOR, "from .params import ANGSTROM, R_E_SQUARED, SimParams\n",
                 "from .params import R_E_SQUARED, SimParams\n"))),
        # Regression 1, a unit slip inside a tidy-up: one of its five hunks (in cli.py, among two
        # harmless ones there and one each in params.py and simulator.py) drops the conversion.
        Change(0.125, "Tidy the CLI, comments and banner after the move to metres", UNIT_SLIP.name, edits=(
            Edit(PARAMS, '"""Simulation parameters, kept in the units nanoBragg takes on its command line.\n',
                 '"""Simulation parameters, in the units nanoBragg takes on its command line (wavelength: metres).\n'),
            Edit(CLI, "as numbers\") from None\n", "as numbers (flag values are plain numbers)\") from None\n"),
            Edit(CLI, "            params.wavelength_m = _values(argv, i, 1)[0] * ANGSTROM\n",
                 "            params.wavelength_m = _values(argv, i, 1)[0]  # SimParams keeps metres\n"),
            Edit(CLI, '    print("  Kahn polarization factor: 0")\n', '    print("  Kahn polarization factor: 0.000000")\n'),
            Edit(SIMULATOR, "    # h = a.S with S = (d - i) / lambda, so fold 1/lambda into the cell vectors once\n",
                 "    # h = a.S with S = (d - i) / lambda: fold 1/lambda into the cell vectors once, not per pixel\n"))),
        Change(0.135, "cli: list the ignored nanoBragg switches one per line", edits=(
            Edit(CLI,
                 'IGNORED_SWITCHES = {"-nopgm", "-nonoise", "-noprogress", "-mosflm", "-square_xtal", "-nointerpolate"}\n',
                 "IGNORED_SWITCHES = {\n"
                 '    "-mosflm",\n    "-nointerpolate",\n    "-nonoise",\n    "-nopgm",\n'
                 '    "-noprogress",\n    "-square_xtal",\n}\n'),)),
        Change(0.145, "simulator: docstring for simulate", edits=(
            Edit(SIMULATOR, "def simulate(params: SimParams) -> torch.Tensor:\n",
                 "def simulate(params: SimParams) -> torch.Tensor:\n"
                 '    """Render the float image, shape (slow, fast), in photons per pixel."""\n'),)),
        Change(0.160, "cli: convert -lambda from Angstrom to metres", UNIT_SLIP.fix_role, edits=(
            Edit(CLI, "            params.wavelength_m = _values(argv, i, 1)[0]  # SimParams keeps metres\n",
                 "            params.wavelength_m = _values(argv, i, 1)[0] * ANGSTROM  # -lambda is in Angstrom\n"),)),
        Change(0.185, "simulator: render 32 rows at a time (faster: the temporaries stay in cache)", PERF, edits=(
            Edit(SIMULATOR,
                 "# rows rendered at once: keeps each float32 temporary of a 4096-wide detector near 1 MB\n"
                 "ROWS_PER_CHUNK = 64\n",
                 "# rows rendered at once: each float32 temporary of a 4096-wide detector is 0.5 MB,\n"
                 "# small enough to stay in cache between the elementwise passes\n"
                 "ROWS_PER_CHUNK = 32\n"),)),
        Change(0.220, "physics: docstring for sincg_squared", edits=(
            Edit(PHYSICS, "def sincg_squared(h: torch.Tensor, n: int) -> torch.Tensor:\n",
                 "def sincg_squared(h: torch.Tensor, n: int) -> torch.Tensor:\n"
                 '    """(sin(n pi h) / sin(pi h))^2 for fractional Miller indices h (any shape); n^2 at integers."""\n'),)),
        _release(0.260, "0.5.0", "0.5.1"),
        Change(0.300, "cli: print the torch thread count in the banner", edits=(
            Edit(CLI, '    print(f"nbport {__version__} (torch {torch.__version__}, float32)")\n',
                 '    print(f"nbport {__version__} (torch {torch.__version__}, float32, "\n'
                 '          f"{torch.get_num_threads()} threads)")\n'),)),
        Change(0.350, "crystal: docstring for cell_volume", edits=(
            Edit(CRYSTAL, "def cell_volume(lengths_A: Vector, angles_rad: Vector) -> float:\n",
                 "def cell_volume(lengths_A: Vector, angles_rad: Vector) -> float:\n"
                 '    """Cell volume in cubic Angstrom from lengths (Angstrom) and angles (radians)."""\n'),)),
        Change(0.450, f"benchmark: use the full {bench_pixels_after}x{bench_pixels_after} detector of the C runs",
               BENCHMARK_CHANGE, edits=(
                   Edit("pyproject.toml", f'-detpixels {bench_pixels_before}"\n', f'-detpixels {bench_pixels_after}"\n'),
                   Edit("scripts/benchmark.sh", f"-detpixels {bench_pixels_before} -nopgm",
                        f"-detpixels {bench_pixels_after} -nopgm"),
                   Edit("scripts/benchmark.sh",
                        f"on a {bench_pixels_before}x{bench_pixels_before} detector.",
                        f"on a {bench_pixels_after}x{bench_pixels_after} detector."))),
        Change(0.480, "geometry: docstring for subpixel_positions", edits=(
            Edit(GEOMETRY, "    def subpixel_positions(self, rows: torch.Tensor, oversample: int, ss: int, sf: int):\n",
                 "    def subpixel_positions(self, rows: torch.Tensor, oversample: int, ss: int, sf: int):\n"
                 '        """Lab-frame x, y, z (m) of subpixel (ss, sf) of each pixel in rows, each (len(rows), fpixels)."""\n'),)),
        # Regression 2, subtle: the MOSFLM half-pixel shift looks like a double count and is removed.
        Change(0.500, "geometry: drop the extra half pixel from the beam centre", HALF_PIXEL.name, edits=(
            Edit(GEOMETRY,
                 "        # MOSFLM puts the beam half a pixel further along both axes\n"
                 "        f_beam = y_beam + pixel / 2\n"
                 "        s_beam = x_beam + pixel / 2\n",
                 "        # the default beam centre above already includes the half pixel\n"
                 "        f_beam = y_beam\n"
                 "        s_beam = x_beam\n"),)),
        Change(0.530, "io: add read_floatfile for the comparison scripts", edits=(
            Edit(IO, "    os.replace(partial, path)\n",
                 "    os.replace(partial, path)\n\n\n"
                 "def read_floatfile(path: str | Path, shape: tuple[int, int]) -> torch.Tensor:\n"
                 "    return torch.from_file(str(path), size=shape[0] * shape[1], dtype=torch.float32).reshape(shape)\n"),)),
        _release(0.560, "0.5.1", "0.6.0"),
        Change(0.600, "geometry: restore MOSFLM's +1/2 pixel on the beam centre", HALF_PIXEL.fix_role, edits=(
            Edit(GEOMETRY,
                 "        # the default beam centre above already includes the half pixel\n"
                 "        f_beam = y_beam\n"
                 "        s_beam = x_beam\n",
                 "        # MOSFLM adds half a pixel on top of the (detsize + pixel) / 2 default;\n"
                 "        # nanoBragg does so for explicit -Xbeam/-Ybeam too\n"
                 "        f_beam = y_beam + pixel / 2\n"
                 "        s_beam = x_beam + pixel / 2\n"),)),
        Change(0.640, "simulator: type hints for render_rows", edits=(
            Edit(SIMULATOR, "def render_rows(panel, rows, oversample, miller, f_squared, n_cells):\n",
                 "def render_rows(panel: Panel, rows: torch.Tensor, oversample: int, miller: torch.Tensor,\n"
                 "                f_squared: torch.Tensor, n_cells: tuple[int, int, int]) -> torch.Tensor:\n"
                 '    """Sum of F^2 F_latt^2 times omega and polarisation for rows, (len(rows), fpixels)."""\n'),
            Edit(SIMULATOR, "from .geometry import BEAM, Detector\n", "from .geometry import BEAM, Detector, Panel\n"))),
        Change(0.680, "cli: accept -energy (eV) as nanoBragg does", edits=(
            Edit(CLI, '        elif flag == "-distance":\n',
                 '        elif flag == "-energy":\n'
                 "            params.wavelength_m = 12398.42 / _values(argv, i, 1)[0] * ANGSTROM\n"
                 "            used = 1\n"
                 '        elif flag == "-distance":\n'),)),
        # Regression 3: only runs with -oversample > 1 see it (the benchmark auto-selects 1).
        Change(0.720, "simulator: fold the subpixel count into the scale factor", OVERSAMPLE_NORM.name, edits=(
            Edit(SIMULATOR,
                 "    steps = oversample * oversample\n"
                 "    scale = R_E_SQUARED * params.fluence / steps\n",
                 "    # one normalisation step per subpixel\n"
                 "    scale = R_E_SQUARED * params.fluence / oversample\n"),)),
        Change(0.750, "cli: say how many values a flag got", edits=(
            Edit(CLI, '        raise UsageError(f"{argv[i]} needs {count} value(s)")\n',
                 '        raise UsageError(f"{argv[i]} needs {count} value(s), got {len(values)}")\n'),)),
        _release(0.790, "0.6.0", "0.6.1"),
        Change(0.830, "simulator: divide by oversample^2 again", OVERSAMPLE_NORM.fix_role, edits=(
            Edit(SIMULATOR,
                 "    # one normalisation step per subpixel\n"
                 "    scale = R_E_SQUARED * params.fluence / oversample\n",
                 "    # nanoBragg's steps count every subpixel: oversample^2 of them per pixel\n"
                 "    steps = oversample * oversample\n"
                 "    scale = R_E_SQUARED * params.fluence / steps\n"),)),
        Change(0.860, "physics: docstring for solid_angle", edits=(
            Edit(PHYSICS,
                 "def solid_angle(r: torch.Tensor, pixel_m: torch.Tensor, close_distance_m: torch.Tensor) -> torch.Tensor:\n",
                 "def solid_angle(r: torch.Tensor, pixel_m: torch.Tensor, close_distance_m: torch.Tensor) -> torch.Tensor:\n"
                 '    """Solid angle (sr) of a pixel at distance r (m): pixel^2 / r^2 * close_distance / r."""\n'),)),
        _release(0.900, "0.6.1", "0.7.0"),
        Change(0.940, "simulator: docstring for choose_oversample", edits=(
            Edit(SIMULATOR,
                 "def choose_oversample(params: SimParams, cell_vectors_m, wavelength_m: float, detector: Detector) -> int:\n",
                 "def choose_oversample(params: SimParams, cell_vectors_m, wavelength_m: float, detector: Detector) -> int:\n"
                 '    """Subpixels per axis: -oversample, or nanoBragg\'s automatic ceil(3 xtal size / reciprocal pixel)."""\n'),)),
        Change(0.970, "io: docstring with the file layout", edits=(
            Edit(IO, "def write_floatfile(path: str | Path, image: torch.Tensor) -> None:\n",
                 "def write_floatfile(path: str | Path, image: torch.Tensor) -> None:\n"
                 '    """Write image (slow, fast) as raw native float32, slow index outermost, like -floatfile."""\n'),)),
    ]
