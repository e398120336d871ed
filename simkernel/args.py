"""nanoBragg's command line -> (SimConfig, OutputOptions).

Every automatic rule of nanoBragg is resolved here (physics.md 2-10), so SimConfig holds the
values the kernel uses. Differences from the C parser, on purpose:

* flags are matched exactly (plus nanoBragg's documented aliases such as -close_distance,
  -mosaic_dom, -wave), and an unknown flag, a missing or non-numeric value is an error
  naming the flag instead of being silently ignored;
* without -hkl, a stray Fdump.bin in the working directory is NOT read: with no -hkl and
  default_F == 0 there are no structure factors, which is an error;
* nothing is written by parsing (C writes Fdump.bin when it reads -hkl).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Optional

from .config import OutputOptions, SimConfig
from .crystal import crystal_vectors, recommended_oversample
from .errors import ArgumentError
from .geometry import pixel_counts
from .sources import resolve_phi, resolve_range_steps
from .structure import read_hkl

DEFAULT_FLUENCE = 1.25932015286227e29
DEFAULT_MOSAIC_SEED = 12345678
MM, ANGSTROM, MRAD, UM = 1e-3, 1e-10, 1e-3, 1e-6


@dataclass
class _Raw:
    """Values as typed (user units), before nanoBragg's automatic rules; None/-1 = unset."""

    cell: Optional[list] = None
    misset: Optional[list] = None
    n_cells: list = field(default_factory=lambda: [1, 1, 1])
    default_F: float = 0.0
    hkl: Optional[str] = None
    shape: str = "square"
    fudge: float = 1.0
    wavelength_angstrom: float = 1.0
    wavelength_flag: str = "-lambda"
    fluence: float = DEFAULT_FLUENCE
    flux: float = 0.0
    exposure: float = 1.0
    beamsize_mm: float = 0.1
    polar: float = 0.0
    nopolar: bool = False
    dispersion_percent: float = 0.0
    dispsteps: int = -1
    hdivrange_mrad: float = -1.0
    vdivrange_mrad: float = -1.0
    hdivstep_mrad: float = -1.0
    vdivstep_mrad: float = -1.0
    hdivsteps: int = -1
    vdivsteps: int = -1
    square_div: bool = False
    distance_mm: float = 100.0
    pixel_mm: float = 0.1
    detpixels_f: Optional[int] = None
    detpixels_s: Optional[int] = None
    detsize_f_mm: float = 102.4
    detsize_s_mm: float = 102.4
    xbeam_mm: Optional[float] = None
    ybeam_mm: Optional[float] = None
    roi: Optional[list] = None
    oversample: int = -1
    oversample_omega: bool = False
    oversample_polar: bool = False
    oversample_thick: bool = False
    point_pixel: bool = False
    detector_thick_um: float = 0.0
    detector_abs_um: Optional[float] = None
    thicksteps: int = -1
    phi_deg: float = 0.0
    osc_deg: float = -1.0
    phistep_deg: float = -1.0
    phisteps: int = -1
    mosaic_deg: float = -1.0
    mosaic_domains: int = -1
    mosaic_seed: int = DEFAULT_MOSAIC_SEED
    interpolate: Optional[bool] = None
    out: dict = field(default_factory=dict)


def _number(flag: str, token: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise ArgumentError(flag, f"expected a number, got {token!r}") from None
    if math.isnan(value):
        raise ArgumentError(flag, f"expected a number, got {token!r}")
    return value


def _integer(flag: str, token: str) -> int:
    """C atoi on a token that must at least be numeric ("5.7" -> 5, like nanoBragg)."""
    _number(flag, token)
    match = re.match(r"\s*[+-]?\d+", token)
    if match is None:
        raise ArgumentError(flag, f"expected an integer, got {token!r}")
    return int(match.group())


def _setter(attr: str, kind: str = "float") -> Callable:
    def apply(raw: _Raw, flag: str, values: list[str]) -> None:
        convert = _number if kind == "float" else _integer
        setattr(raw, attr, convert(flag, values[0]) if kind != "str" else values[0])
    return apply


def _switch(attr: str, value=True) -> Callable:
    def apply(raw: _Raw, flag: str, values: list[str]) -> None:
        setattr(raw, attr, value)
    return apply


def _out(key: str, kind: str = "str", value=None) -> Callable:
    def apply(raw: _Raw, flag: str, values: list[str]) -> None:
        if kind == "switch":
            raw.out[key] = value
        elif kind == "float":
            raw.out[key] = _number(flag, values[0])
        elif kind == "int":
            raw.out[key] = _integer(flag, values[0])
        else:
            raw.out[key] = values[0]
    return apply


def _set_cell(raw: _Raw, flag: str, values: list[str]) -> None:
    nums = [_number(flag, v) for v in values]
    lengths = nums[:3] + [nums[0]] * (3 - len(nums[:3]))
    angles = nums[3:6] + [90.0] * (3 - len(nums[3:6]))
    raw.cell = lengths + angles


def _set_misset(raw: _Raw, flag: str, values: list[str]) -> None:
    if values[0] == "random":
        raise ArgumentError(flag, "'random' is not supported by simkernel; give three angles in degrees")
    raw.misset = [_number(flag, v) for v in values]


def _set_n_all(raw: _Raw, flag: str, values: list[str]) -> None:
    raw.n_cells = [_integer(flag, values[0])] * 3


def _set_n_axis(axis: int) -> Callable:
    def apply(raw: _Raw, flag: str, values: list[str]) -> None:
        raw.n_cells[axis] = _integer(flag, values[0])
    return apply


def _set_wavelength(raw: _Raw, flag: str, values: list[str]) -> None:
    raw.wavelength_angstrom = _number(flag, values[0])
    raw.wavelength_flag = flag


def _set_energy(raw: _Raw, flag: str, values: list[str]) -> None:
    energy = _number(flag, values[0])
    if energy <= 0:
        raise ArgumentError(flag, "photon energy must be positive (eV)")
    raw.wavelength_angstrom = 12398.42 / energy
    raw.wavelength_flag = flag


def _set_both(attr_a: str, attr_b: str, kind: str = "float") -> Callable:
    def apply(raw: _Raw, flag: str, values: list[str]) -> None:
        value = (_number if kind == "float" else _integer)(flag, values[0])
        setattr(raw, attr_a, value)
        setattr(raw, attr_b, value)
    return apply


def _set_roi(raw: _Raw, flag: str, values: list[str]) -> None:
    raw.roi = [_integer(flag, v) for v in values]


# flag -> (number of values, handler); -cell takes 1..6 values (see _tokens_for).
_FLAGS: dict[str, tuple[int, Callable]] = {
    "-cell": (6, _set_cell),
    "-misset": (3, _set_misset),
    "-N": (1, _set_n_all),
    "-Na": (1, _set_n_axis(0)),
    "-Nb": (1, _set_n_axis(1)),
    "-Nc": (1, _set_n_axis(2)),
    "-default_F": (1, _setter("default_F")),
    "-hkl": (1, _setter("hkl", "str")),
    "-square_xtal": (0, _switch("shape", "square")),
    "-round_xtal": (0, _switch("shape", "round")),
    "-gauss_xtal": (0, _switch("shape", "gauss")),
    "-tophat_spots": (0, _switch("shape", "tophat")),
    "-binary_spots": (0, _switch("shape", "tophat")),
    "-fudge": (1, _setter("fudge")),
    "-lambda": (1, _set_wavelength),
    "-wave": (1, _set_wavelength),
    "-energy": (1, _set_energy),
    "-fluence": (1, _setter("fluence")),
    "-flux": (1, _setter("flux")),
    "-exposure": (1, _setter("exposure")),
    "-beamsize": (1, _setter("beamsize_mm")),
    "-polar": (1, _setter("polar")),
    "-nopolar": (0, _switch("nopolar")),
    "-dispersion": (1, _setter("dispersion_percent")),
    "-dispsteps": (1, _setter("dispsteps", "int")),
    "-divergence": (1, _set_both("hdivrange_mrad", "vdivrange_mrad")),
    "-hdivrange": (1, _setter("hdivrange_mrad")),
    "-vdivrange": (1, _setter("vdivrange_mrad")),
    "-divsteps": (1, _set_both("hdivsteps", "vdivsteps", "int")),
    "-hdivsteps": (1, _setter("hdivsteps", "int")),
    "-vdivsteps": (1, _setter("vdivsteps", "int")),
    "-hdivstep": (1, _setter("hdivstep_mrad")),
    "-vdivstep": (1, _setter("vdivstep_mrad")),
    "-square_div": (0, _switch("square_div")),
    "-distance": (1, _setter("distance_mm")),
    "-close_distance": (1, _setter("distance_mm")),
    "-pixel": (1, _setter("pixel_mm")),
    "-detpixels": (1, _set_both("detpixels_f", "detpixels_s", "int")),
    "-detpixels_f": (1, _setter("detpixels_f", "int")),
    "-detpixels_x": (1, _setter("detpixels_f", "int")),
    "-detpixels_s": (1, _setter("detpixels_s", "int")),
    "-detpixels_y": (1, _setter("detpixels_s", "int")),
    "-detsize": (1, _set_both("detsize_f_mm", "detsize_s_mm")),
    "-detsize_f": (1, _setter("detsize_f_mm")),
    "-detsize_s": (1, _setter("detsize_s_mm")),
    "-Xbeam": (1, _setter("xbeam_mm")),
    "-Ybeam": (1, _setter("ybeam_mm")),
    "-mosflm": (0, lambda raw, flag, values: None),  # MOSFLM is simkernel's only convention
    "-roi": (4, _set_roi),
    "-oversample": (1, _setter("oversample", "int")),
    "-oversample_omega": (0, _switch("oversample_omega")),
    "-oversample_polar": (0, _switch("oversample_polar")),
    "-oversample_thick": (0, _switch("oversample_thick")),
    "-point_pixel": (0, _switch("point_pixel")),
    "-detector_thick": (1, _setter("detector_thick_um")),
    "-detector_abs": (1, _setter("detector_abs_um")),
    "-thicksteps": (1, _setter("thicksteps", "int")),
    "-phi": (1, _setter("phi_deg")),
    "-osc": (1, _setter("osc_deg")),
    "-phistep": (1, _setter("phistep_deg")),
    "-phisteps": (1, _setter("phisteps", "int")),
    "-mosaic": (1, _setter("mosaic_deg")),
    "-mosaic_domains": (1, _setter("mosaic_domains", "int")),
    "-mosaic_dom": (1, _setter("mosaic_domains", "int")),
    "-mosaic_seed": (1, _setter("mosaic_seed", "int")),
    "-interpolate": (0, _switch("interpolate", True)),
    "-nointerpolate": (0, _switch("interpolate", False)),
    # output and run options (never change the image)
    "-floatfile": (1, _out("floatfile")),
    "-intfile": (1, _out("intfile")),
    "-noisefile": (1, _out("noisefile")),
    "-pgmfile": (1, _out("pgmfile")),
    "-nonoise": (0, _out("write_noise", "switch", False)),
    "-nopgm": (0, _out("write_pgm", "switch", False)),
    "-noprogress": (0, _out("progress", "switch", False)),
    "-progress": (0, _out("progress", "switch", True)),
    "-scale": (1, _out("intfile_scale", "float")),
    "-adc": (1, _out("adc_offset", "float")),
    "-seed": (1, _out("noise_seed", "int")),
    "-device": (1, _out("device")),
    "-dtype": (1, _out("dtype")),
}

_UNSUPPORTED = {
    "-mat", "-sourcefile", "-curved_det", "-xds", "-dials", "-adxv", "-denzo", "-custom",
    "-twotheta", "-twotheta_axis", "-detector_rotx", "-detector_roty", "-detector_rotz",
    "-pivot", "-water", "-dmin", "-trace_pixel", "-Xclose", "-Yclose", "-ORGX", "-ORGY",
    "-spindle_axis", "-fdet_vector", "-sdet_vector", "-odet_vector", "-beam_vector",
    "-polar_vector", "-pix0_vector", "-xtalsize", "-samplesize", "-sample_thick", "-printout",
}


def _tokens_for(flag: str, count: int, argv: list[str], i: int) -> list[str]:
    """The ``count`` values after argv[i]; -cell takes 1..6 numeric values."""
    if flag == "-cell":
        values = []
        for token in argv[i + 1:i + 7]:
            try:
                float(token)
            except ValueError:
                break
            values.append(token)
        if not values:
            raise ArgumentError(flag, "missing value: give a b c [alpha beta gamma] (Angstrom, degrees)")
        return values
    values = argv[i + 1:i + 1 + count]
    if len(values) < count:
        raise ArgumentError(flag, f"missing value: {flag} takes {count} value(s)")
    return values


def _read_raw(argv: list[str]) -> _Raw:
    raw = _Raw()
    i = 0
    while i < len(argv):
        flag = argv[i]
        if flag in _UNSUPPORTED:
            raise ArgumentError(flag, "this nanoBragg option is not supported by simkernel")
        if flag not in _FLAGS:
            what = "unknown flag" if flag.startswith("-") else "unexpected argument (values follow their flag)"
            raise ArgumentError(flag, f"{what}; see physics.md section 2 for the supported flags")
        count, apply = _FLAGS[flag]
        values = _tokens_for(flag, count, argv, i)
        apply(raw, flag, values)
        i += 1 + len(values)
    return raw


def _require_positive(flag: str, value: float, what: str) -> None:
    if not value > 0 or math.isinf(value):
        raise ArgumentError(flag, f"{what} must be a positive finite number, got {value:g}")


def _mosaic(raw: _Raw) -> tuple[float, int]:
    spread = math.radians(raw.mosaic_deg) if raw.mosaic_deg >= 0 else -1.0
    domains = raw.mosaic_domains
    if domains <= 0:
        return (spread, 10) if spread > 0 else (0.0, 1)
    if spread <= 0:
        return 0.0, 1
    return spread, domains


def _thickness(raw: _Raw) -> tuple[float, float, int, float]:
    """(thickness m, mu 1/m, layers, layer step m) after nanoBragg's auto rules."""
    thick = raw.detector_thick_um * UM
    if thick <= 0:
        return 0.0, 0.0, 1, 0.0
    if raw.detector_abs_um is None:
        mu = 1.0 / thick
    elif raw.detector_abs_um > 0 and math.isfinite(raw.detector_abs_um):
        mu = 1.0 / (raw.detector_abs_um * UM)
    else:
        raise ArgumentError("-detector_abs", "0 or inf (no absorption) is not supported by simkernel")
    if raw.thicksteps <= 0:
        return thick, mu, 2, thick / 2.0
    return thick, mu, raw.thicksteps, thick / max(raw.thicksteps - 1, 1)


def _structure(raw: _Raw, n_cells):
    table = None
    if raw.hkl is not None:
        try:
            table = read_hkl(raw.hkl, raw.default_F)
        except OSError as exc:
            raise ArgumentError("-hkl", f"cannot read {raw.hkl!r}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ArgumentError("-hkl", f"invalid HKL file {raw.hkl!r}: {exc}") from None
    elif raw.default_F == 0:
        raise ArgumentError("-hkl", "no structure factors: give -hkl FILE or a non-zero -default_F "
                            "(simkernel never reads a Fdump.bin left in the working directory)")
    auto = raw.interpolate is None
    interpolate = (min(n_cells) <= 2) if auto else raw.interpolate
    return table, bool(interpolate and table is not None), auto


def _output_options(raw: _Raw) -> OutputOptions:
    out = dict(raw.out)
    if out.get("dtype", "float64") not in ("float32", "float64"):
        raise ArgumentError("-dtype", f"expected float32 or float64, got {out['dtype']!r}")
    if "device" in out and not re.fullmatch(r"cpu|cuda(:\d+)?", out["device"]):
        raise ArgumentError("-device", f"expected cpu or cuda, got {out['device']!r}")
    return OutputOptions(**out)


def _resolve(raw: _Raw) -> SimConfig:
    if raw.cell is None:
        raise ArgumentError("-cell", "no unit cell given: add -cell a b c alpha beta gamma (Angstrom, degrees)")
    lengths, angles = tuple(raw.cell[:3]), tuple(math.radians(x) for x in raw.cell[3:])
    for value in lengths:
        _require_positive("-cell", value, "cell lengths")
    if not all(0 < x < math.pi for x in angles):
        raise ArgumentError("-cell", "cell angles must lie between 0 and 180 degrees")
    _require_positive("-pixel", raw.pixel_mm, "pixel size")
    _require_positive("-distance", raw.distance_mm, "distance")
    _require_positive(raw.wavelength_flag, raw.wavelength_angstrom, "wavelength")
    pixel, distance = raw.pixel_mm * MM, raw.distance_mm * MM
    wavelength = raw.wavelength_angstrom * ANGSTROM
    n_cells = tuple(max(1, n) for n in raw.n_cells)
    misset = tuple(math.radians(x) for x in raw.misset) if raw.misset is not None else None

    detsize_f, detsize_s = raw.detsize_f_mm * MM, raw.detsize_s_mm * MM
    if raw.detpixels_f is not None:
        detsize_f = raw.detpixels_f * pixel
    if raw.detpixels_s is not None:
        detsize_s = raw.detpixels_s * pixel
    fpixels, spixels = pixel_counts(detsize_f, pixel), pixel_counts(detsize_s, pixel)
    if fpixels < 1 or spixels < 1:
        raise ArgumentError("-detpixels", "the detector must have at least one pixel per axis")
    xbeam = raw.xbeam_mm * MM if raw.xbeam_mm is not None else (detsize_s + pixel) / 2.0
    ybeam = raw.ybeam_mm * MM if raw.ybeam_mm is not None else (detsize_f + pixel) / 2.0
    roi = raw.roi if raw.roi is not None else [0, fpixels, 0, spixels]

    fluence = raw.fluence
    if raw.flux != 0 and raw.exposure > 0 and raw.beamsize_mm >= 0:
        _require_positive("-beamsize", raw.beamsize_mm, "beam size (with -flux)")
        fluence = raw.flux * raw.exposure / (raw.beamsize_mm * MM) ** 2

    table, interpolate, interpolate_auto = _structure(raw, n_cells)
    vectors = crystal_vectors(lengths, angles, misset)
    recommended = recommended_oversample(vectors.real_m, n_cells, wavelength, distance, pixel)
    oversample = raw.oversample if raw.oversample > 0 else recommended

    disp_range, disp_step, dispsteps = resolve_range_steps(raw.dispersion_percent / 100.0, -1.0, raw.dispsteps)
    h = resolve_range_steps(raw.hdivrange_mrad * MRAD if raw.hdivrange_mrad >= 0 else -1.0,
                            raw.hdivstep_mrad * MRAD, raw.hdivsteps)
    v = resolve_range_steps(raw.vdivrange_mrad * MRAD if raw.vdivrange_mrad >= 0 else -1.0,
                            raw.vdivstep_mrad * MRAD, raw.vdivsteps)
    osc, phistep, phisteps = resolve_phi(math.radians(raw.osc_deg) if raw.osc_deg >= 0 else -1.0,
                                         math.radians(raw.phistep_deg), raw.phisteps)
    spread, domains = _mosaic(raw)
    thick, mu, layers, layer_step = _thickness(raw)

    return SimConfig(
        cell_angstrom=lengths, cell_angles_rad=angles, misset_rad=misset, n_cells=n_cells,
        xtal_shape=raw.shape, fudge=raw.fudge,
        default_F=raw.default_F, hkl_path=raw.hkl, hkl=table,
        interpolate=interpolate, interpolate_auto=interpolate_auto,
        wavelength_m=wavelength, dispersion_fraction=disp_range, dispstep_fraction=disp_step,
        dispsteps=dispsteps,
        hdivrange_rad=h[0], hdivstep_rad=h[1], hdivsteps=h[2],
        vdivrange_rad=v[0], vdivstep_rad=v[1], vdivsteps=v[2], square_div=raw.square_div,
        fluence_photons_per_m2=fluence, polarization_kahn=raw.polar,
        polarization_enabled=not raw.nopolar,
        distance_m=distance, pixel_size_m=pixel, fpixels=fpixels, spixels=spixels,
        detsize_f_m=detsize_f, detsize_s_m=detsize_s, xbeam_m=xbeam, ybeam_m=ybeam,
        fbeam_m=ybeam + pixel / 2.0, sbeam_m=xbeam + pixel / 2.0,
        roi_fast=(roi[0], roi[1]), roi_slow=(roi[2], roi[3]),
        oversample=oversample, oversample_auto=raw.oversample <= 0,
        oversample_recommended=recommended,
        oversample_omega=raw.oversample_omega, oversample_polar=raw.oversample_polar,
        oversample_thick=raw.oversample_thick, point_pixel=raw.point_pixel,
        detector_thick_m=thick, detector_mu_per_m=mu, thicksteps=layers, thickstep_m=layer_step,
        phi0_rad=math.radians(raw.phi_deg), osc_rad=osc, phistep_rad=phistep, phisteps=phisteps,
        mosaic_spread_rad=spread, mosaic_domains=domains, mosaic_seed=raw.mosaic_seed,
    )


def parse_command_line(argv: list[str]) -> tuple[SimConfig, OutputOptions]:
    """nanoBragg-style arguments (without the program name) -> (physics, output options)."""
    raw = _read_raw(list(argv))
    options = _output_options(raw)
    return _resolve(raw), options


def parse_args(argv: list[str]) -> SimConfig:
    """nanoBragg-style arguments (without the program name) -> resolved SimConfig.

    Output-file options are accepted and ignored here; see parse_command_line.
    Raises ArgumentError (a ValueError naming the flag).
    """
    return parse_command_line(argv)[0]
