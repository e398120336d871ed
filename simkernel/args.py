"""nanoBragg's command line -> (SimConfig, OutputOptions).

The flags, their values and their checks come from the table shared with the C twin (the
FLAG rows of csrc/nanobragg_twin.c, read by flags.py); this module says what each flag sets
and resolves nanoBragg's automatic rules, so SimConfig holds the values the kernel uses.
Torch-free.
Differences from nanoBragg's own parser, on purpose (the twin makes the same ones):

* flags are matched exactly (plus nanoBragg's spellings such as -close_distance,
  -mosaic_dom, -wave), and an unknown flag, a missing or invalid value is an error
  naming the flag instead of being silently ignored;
* without -hkl, a stray Fdump.bin in the working directory is NOT read: with no -hkl and
  default_F == 0 there are no structure factors, which is an error;
* nothing is written by parsing (C writes Fdump.bin when it reads -hkl).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

from .config import OutputOptions, SimConfig
from .crystal import crystal_vectors, recommended_oversample
from .errors import ArgumentError
from .geometry import pixel_counts
from .flags import convert, read_flags, table
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


def _set(attr: str) -> Callable:
    def apply(raw: _Raw, values: list) -> None:
        setattr(raw, attr, values[0])
    return apply


def _set_both(attr_a: str, attr_b: str) -> Callable:
    def apply(raw: _Raw, values: list) -> None:
        setattr(raw, attr_a, values[0])
        setattr(raw, attr_b, values[0])
    return apply


def _switch(attr: str, value=True) -> Callable:
    def apply(raw: _Raw, values: list) -> None:
        setattr(raw, attr, value)
    return apply


def _out(key: str, value=None) -> Callable:
    def apply(raw: _Raw, values: list) -> None:
        raw.out[key] = values[0] if values else value
    return apply


def _set_n_axis(axis: int) -> Callable:
    def apply(raw: _Raw, values: list) -> None:
        raw.n_cells[axis] = values[0]
    return apply


def _set_wavelength(raw: _Raw, values: list) -> None:
    raw.wavelength_angstrom = values[0]


def _set_energy(raw: _Raw, values: list) -> None:
    raw.wavelength_angstrom = 12398.42 / values[0]


def _ignore(raw: _Raw, values: list) -> None:
    """Accepted for nanoBragg compatibility; changes nothing here."""


# canonical flag of the table -> what it sets (tests check every table row has one)
HANDLERS: dict[str, Callable] = {
    "-cell": lambda raw, values: setattr(raw, "cell", list(values)),
    "-misset": lambda raw, values: setattr(raw, "misset", list(values)),
    "-N": lambda raw, values: setattr(raw, "n_cells", [values[0]] * 3),
    "-Na": _set_n_axis(0),
    "-Nb": _set_n_axis(1),
    "-Nc": _set_n_axis(2),
    "-default_F": _set("default_F"),
    "-hkl": _set("hkl"),
    "-interpolate": _switch("interpolate", True),
    "-nointerpolate": _switch("interpolate", False),
    "-square_xtal": _switch("shape", "square"),
    "-round_xtal": _switch("shape", "round"),
    "-gauss_xtal": _switch("shape", "gauss"),
    "-tophat_spots": _switch("shape", "tophat"),
    "-fudge": _set("fudge"),
    "-lambda": _set_wavelength,
    "-energy": _set_energy,
    "-fluence": _set("fluence"),
    "-flux": _set("flux"),
    "-exposure": _set("exposure"),
    "-beamsize": _set("beamsize_mm"),
    "-polar": _set("polar"),
    "-nopolar": _switch("nopolar"),
    "-dispersion": _set("dispersion_percent"),
    "-dispsteps": _set("dispsteps"),
    "-divergence": _set_both("hdivrange_mrad", "vdivrange_mrad"),
    "-hdivrange": _set("hdivrange_mrad"),
    "-vdivrange": _set("vdivrange_mrad"),
    "-hdivstep": _set("hdivstep_mrad"),
    "-vdivstep": _set("vdivstep_mrad"),
    "-divsteps": _set_both("hdivsteps", "vdivsteps"),
    "-hdivsteps": _set("hdivsteps"),
    "-vdivsteps": _set("vdivsteps"),
    "-square_div": _switch("square_div", True),
    "-round_div": _switch("square_div", False),
    "-distance": _set("distance_mm"),
    "-pixel": _set("pixel_mm"),
    "-detpixels": _set_both("detpixels_f", "detpixels_s"),
    "-detpixels_f": _set("detpixels_f"),
    "-detpixels_s": _set("detpixels_s"),
    "-detsize": _set_both("detsize_f_mm", "detsize_s_mm"),
    "-detsize_f": _set("detsize_f_mm"),
    "-detsize_s": _set("detsize_s_mm"),
    "-Xbeam": _set("xbeam_mm"),
    "-Ybeam": _set("ybeam_mm"),
    "-mosflm": _ignore,  # MOSFLM is the only convention
    "-roi": lambda raw, values: setattr(raw, "roi", list(values)),
    "-oversample": _set("oversample"),
    "-oversample_omega": _switch("oversample_omega"),
    "-oversample_polar": _switch("oversample_polar"),
    "-oversample_thick": _switch("oversample_thick"),
    "-point_pixel": _switch("point_pixel"),
    "-detector_thick": _set("detector_thick_um"),
    "-detector_abs": _set("detector_abs_um"),
    "-thicksteps": _set("thicksteps"),
    "-phi": _set("phi_deg"),
    "-osc": _set("osc_deg"),
    "-phistep": _set("phistep_deg"),
    "-phisteps": _set("phisteps"),
    "-mosaic": _set("mosaic_deg"),
    "-mosaic_domains": _set("mosaic_domains"),
    "-mosaic_seed": _set("mosaic_seed"),
    # output and run options (never change the image)
    "-floatfile": _out("floatfile"),
    "-intfile": _out("intfile"),
    "-scale": _out("intfile_scale"),
    "-adc": _out("adc_offset"),
    "-noisefile": _out("noisefile"),
    "-pgmfile": _out("pgmfile"),
    "-seed": _out("noise_seed"),
    "-nonoise": _out("write_noise", False),
    "-nopgm": _out("write_pgm", False),
    "-noprogress": _out("progress", False),
    "-progress": _out("progress", True),
    "-trace_pixel": lambda raw, values: raw.out.__setitem__("trace_pixel", (values[0], values[1])),
    "-device": _out("device"),
    "-dtype": _out("dtype"),
}


def _read_raw(argv: list[str]) -> _Raw:
    raw = _Raw()
    for flag, values in read_flags(argv):
        HANDLERS[flag](raw, values)
    return raw


def _mosaic(raw: _Raw) -> tuple[float, int]:
    """(spread rad, domains): a negative count is unset (10 domains with a spread)."""
    spread = math.radians(raw.mosaic_deg) if raw.mosaic_deg >= 0 else -1.0
    domains = raw.mosaic_domains
    if domains < 0:
        return (spread, 10) if spread > 0 else (0.0, 1)
    if spread <= 0:
        return 0.0, 1
    return spread, max(domains, 1)


def _thickness(raw: _Raw) -> tuple[float, float, int, float]:
    """(thickness m, mu 1/m (0: no absorption), layers, layer step m) after nanoBragg's rules."""
    thick = raw.detector_thick_um * UM
    if thick <= 0:
        return 0.0, 0.0, 1, 0.0
    if raw.detector_abs_um is None:
        mu = 1.0 / thick
    else:
        mu = 1.0 / (raw.detector_abs_um * UM) if raw.detector_abs_um > 0 else 0.0
    if raw.thicksteps <= 0:
        return thick, mu, 2, thick / 2.0
    return thick, mu, raw.thicksteps, thick / max(raw.thicksteps - 1, 1)


def _read_table(raw: _Raw):
    try:
        return read_hkl(raw.hkl, raw.default_F)
    except OSError as exc:
        raise ArgumentError("-hkl", f"cannot read '{raw.hkl}': {exc.strerror or exc}") from None
    except ValueError:
        raise ArgumentError("-hkl", f"no 'h k l F' entries in '{raw.hkl}'") from None


def _output_options(raw: _Raw) -> OutputOptions:
    return OutputOptions(**raw.out)


def _check(raw: _Raw, fpixels: int, spixels: int) -> None:
    """The checks after parsing, in the C twin's order and wording (one message per mistake)."""
    if raw.cell is None:
        raise ArgumentError("-cell", "no unit cell given: add -cell a b c alpha beta gamma (Angstrom, degrees)")
    if not all(x > 0 for x in raw.cell[:3]):
        raise ArgumentError("-cell", "cell lengths must be positive (Angstrom)")
    if not all(0 < x < 180 for x in raw.cell[3:]):
        raise ArgumentError("-cell", "cell angles must lie between 0 and 180 degrees")
    if raw.hkl is None and raw.default_F == 0:
        raise ArgumentError("-hkl", "no structure factors: give -hkl FILE or a non-zero -default_F")
    if fpixels < 1 or spixels < 1:
        raise ArgumentError("-detsize", "the detector has no pixels: give -detpixels N or a larger -detsize")
    if raw.flux != 0 and raw.exposure > 0 and raw.beamsize_mm == 0:
        raise ArgumentError("-beamsize", "must be positive with -flux")
    if raw.detector_abs_um is not None and raw.detector_abs_um < 0:
        raise ArgumentError("-detector_abs", "must be positive, or 0 for no absorption")
    trace = raw.out.get("trace_pixel")
    if trace is not None and not (0 <= trace[0] < spixels and 0 <= trace[1] < fpixels):
        raise ArgumentError("-trace_pixel", f"pixel {trace[0]} {trace[1]} is outside the "
                            f"{spixels}x{fpixels} (slow x fast) detector")


def _detector_size(raw: _Raw) -> tuple[float, float, int, int]:
    """(detsize_f m, detsize_s m, fpixels, spixels): -detpixels wins over -detsize."""
    pixel = raw.pixel_mm * MM
    detsize_f, detsize_s = raw.detsize_f_mm * MM, raw.detsize_s_mm * MM
    if raw.detpixels_f is not None:
        detsize_f = raw.detpixels_f * pixel
    if raw.detpixels_s is not None:
        detsize_s = raw.detpixels_s * pixel
    return detsize_f, detsize_s, pixel_counts(detsize_f, pixel), pixel_counts(detsize_s, pixel)


_SIZE_FLAGS = ("-pixel", "-detpixels", "-detpixels_f", "-detpixels_s", "-detsize", "-detsize_f", "-detsize_s")


def detector_shape(argv: list[str]) -> tuple[int, int]:
    """(slow, fast) pixel counts nanoBragg derives from ``argv`` (the same rule as parse_args).

    Only the size flags are read (other flags, even ones simkernel does not know, are
    skipped), so any nanoBragg command line works; a size flag with a missing or invalid
    value, or a detector without pixels, raises ArgumentError. Torch-free.
    """
    raw, flags = _Raw(), table()
    argv = [str(a) for a in argv]
    for i, token in enumerate(argv):
        spec = flags.lookup(token)
        if spec is None or spec.name not in _SIZE_FLAGS:
            continue
        value = argv[i + 1] if i + 1 < len(argv) else None
        if value is None or flags.is_flag(value):
            raise ArgumentError(token, f"needs 1 value ({spec.metavar}), got 0")
        HANDLERS[spec.name](raw, [convert(token, spec, value)])
    fpixels, spixels = _detector_size(raw)[2:]
    if fpixels < 1 or spixels < 1:
        raise ArgumentError("-detsize", "the detector has no pixels: give -detpixels N or a larger -detsize")
    return spixels, fpixels


def _resolve(raw: _Raw) -> SimConfig:
    pixel = raw.pixel_mm * MM
    detsize_f, detsize_s, fpixels, spixels = _detector_size(raw)
    _check(raw, fpixels, spixels)
    table = _read_table(raw) if raw.hkl is not None else None

    lengths, angles = tuple(raw.cell[:3]), tuple(math.radians(x) for x in raw.cell[3:])
    distance = raw.distance_mm * MM
    wavelength = raw.wavelength_angstrom * ANGSTROM
    n_cells = tuple(max(1, n) for n in raw.n_cells)
    misset = tuple(math.radians(x) for x in raw.misset) if raw.misset is not None else None
    xbeam = raw.xbeam_mm * MM if raw.xbeam_mm is not None else (detsize_s + pixel) / 2.0
    ybeam = raw.ybeam_mm * MM if raw.ybeam_mm is not None else (detsize_f + pixel) / 2.0
    roi = raw.roi if raw.roi is not None else [0, fpixels, 0, spixels]

    fluence = raw.fluence
    if raw.flux != 0 and raw.exposure > 0 and raw.beamsize_mm >= 0:
        fluence = raw.flux * raw.exposure / (raw.beamsize_mm * MM) ** 2

    interpolate_auto = raw.interpolate is None
    interpolate = (min(n_cells) <= 2) if interpolate_auto else raw.interpolate
    interpolate = bool(interpolate and table is not None)
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
