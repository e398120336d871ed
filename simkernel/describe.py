"""The parameter and summary lines nanoBragg prints, in nanoBragg's wording.

Only the lines that describe physics simkernel models are produced (no TRACE/DETECTOR debug
lines, no water/MW estimate, no solid-angle total). Numbers use C's %g unless noted. The C
twin prints the very same lines in the same order (tests compare the two outputs).
"""
from __future__ import annotations

import math

import numpy as np

from .config import SimConfig
from .crystal import cell_parameters, crystal_vectors
from .geometry import detector, subpixel_coordinates
from .sources import build_sources, config_divergence, phi_angles, wavelengths

SHAPE_WORDS = {"square": "parallelpiped", "round": "ellipsoidal", "gauss": "gaussian", "tophat": "tophat-spot"}


def _g(*values) -> str:
    return " ".join("%g" % v for v in values)


def _vector_table(title: str, header: str, rows: np.ndarray) -> list[str]:
    lines = [title, header]
    for label, axis in zip("XYZ", range(3)):
        lines.append(f"{label}: " + " ".join("%11.8f" % rows[i, axis] for i in range(3)))
    return lines


def _crystal_lines(config: SimConfig) -> list[str]:
    vectors = crystal_vectors(config.cell_angstrom, config.cell_angles_rad, config.misset_rad)
    real_a = vectors.real_m * 1e10
    lines = ["Unit Cell: " + _g(*cell_parameters(real_a)),
             "Recp Cell: " + _g(*cell_parameters(vectors.recip_per_angstrom)),
             "volume = %g A^3" % vectors.volume_angstrom3]
    lines += _vector_table("real-space cell vectors (Angstrom):",
                           "     a           b           c         ", real_a)
    lines += _vector_table("reciprocal-space cell vectors (Angstrom^-1):",
                           "     a_star      b_star      c_star    ", vectors.recip_per_angstrom)
    size_um = [np.linalg.norm(v) * n * 1e6 for v, n in zip(vectors.real_m, config.n_cells)]
    lines.append("crystal is %g x %g x %g microns" % tuple(size_um))
    return lines


def _oversample_lines(config: SimConfig) -> list[str]:
    if config.oversample_auto:
        return [f"auto-selected {config.oversample}-fold oversampling"]
    if config.oversample < config.oversample_recommended:
        return [f"WARNING: maximum recommended oversampling is {config.oversample_recommended}"]
    return []


def _source_lines(config: SimConfig) -> list[str]:
    lines = ["thick%d = %g um" % (t, t * config.thickstep_m * 1e6) for t in range(config.thicksteps)]
    lines += ["phi%d = %g" % (k, math.degrees(phi))
              for k, phi in enumerate(phi_angles(config.phi0_rad, config.phistep_rad, config.phisteps))]
    lines += ["divergence deviation: " + _g(d.hdiv_rad, d.vdiv_rad) for d in config_divergence(config)]
    lines += ["lambda%d = %.15g" % (j, lam) for j, lam in enumerate(wavelengths(config))]
    sources = build_sources(config)
    count = len(sources.wavelength_m)
    lines.append(f"  created a total of {count} sources:")
    lines += [_g(*pos) + "   " + _g(1.0 / count, lam) for pos, lam in zip(sources.position_m, sources.wavelength_m)]
    lines.append(f"  created a total of {config.mosaic_domains} mosaic domains")
    return lines


def _beam_detector_lines(config: SimConfig) -> list[str]:
    c = config
    entries = c.hkl.entries if c.hkl is not None else 0
    lines = [f"  {entries} initialized hkls (all others =%g)" % c.default_F,
             "  %s xtal: %dx%dx%d cells" % ((SHAPE_WORDS[c.xtal_shape],) + tuple(c.n_cells)),
             "  wave=%g meters +/- %g%% in %d steps" % (c.wavelength_m, c.dispersion_fraction * 100, c.dispsteps)]
    if c.polarization_enabled:
        lines.append("  Kahn polarization factor: %f" % c.polarization_kahn)
    else:
        lines.append("  polarization effect disabled")
    if c.point_pixel:
        lines.append("  pixel obliquity effect disabled")
    det = detector(c)
    fclose, sclose = -det.pix0_m @ det.fast, -det.pix0_m @ det.slow
    p = c.pixel_size_m
    lines += ["  incident fluence: %g photons/m^2" % c.fluence_photons_per_m2,
              "  distance=%g detsize=%gx%g  pixel=%g meters (%dx%d pixels)"
              % (det.close_distance_m, c.detsize_f_m, c.detsize_s_m, p, c.fpixels, c.spixels),
              "  sensor is %g m thick in %d layers with mu= %g"
              % (c.detector_thick_m, c.thicksteps, c.detector_mu_per_m if c.detector_thick_m > 0 else -1.0),
              "  Xbeam=%g Ybeam=%g" % (c.xbeam_m, c.ybeam_m),
              "  Fbeam=%g Sbeam=%g" % (c.fbeam_m, c.sbeam_m),
              # C prints the MOSFLM close-point one pixel below Sclose/Fclose
              "  Xclose=%g Yclose=%g" % (sclose - p, fclose - p),
              "  Fclose=%g Sclose=%g" % (fclose, sclose),
              "  roi: %d < x < %d && %d < y < %d" % (c.roi_fast + c.roi_slow)]
    return lines


def _sampling_lines(config: SimConfig) -> list[str]:
    c = config
    flags = "".join(word for on, word in ((c.oversample_thick, " +thick"), (c.oversample_polar, " +polar"),
                                          (c.oversample_omega, " +omega")) if on)
    return ["  hdivrange=%g hdivstep=%g  radians" % (c.hdivrange_rad, c.hdivstep_rad),
            "  vdivrange=%g vdivstep=%g  radians" % (c.vdivrange_rad, c.vdivstep_rad),
            f"  {len(config_divergence(c))} divergence steps",
            f"  {c.steps // (c.mosaic_domains * c.phisteps * c.oversample ** 2)} sources",
            "  %d mosaic domains over mosaic spread of %g degrees" % (c.mosaic_domains, math.degrees(c.mosaic_spread_rad)),
            "  %d phi steps from %g to %g degrees" % (c.phisteps, math.degrees(c.phi0_rad),
                                                      math.degrees(c.phi0_rad + c.osc_rad)),
            f"  {c.oversample}x{c.oversample} pixel oversample steps{flags}"]


def describe(config: SimConfig) -> list[str]:
    """The parameter lines nanoBragg prints before rendering, for ``config``."""
    lines = ["mosflm convention selected.", "pivoting detector around direct beam spot"]
    if config.interpolate_auto:
        lines.append("auto-selected tricubic interpolation of structure factors" if config.interpolate
                     else "auto-selected no interpolation")
    lines += _crystal_lines(config)
    lines += _oversample_lines(config)
    lines += _source_lines(config)
    lines += _beam_detector_lines(config)
    lines += _sampling_lines(config)
    return lines


def summary(image, config: SimConfig | None = None) -> list[str]:
    """nanoBragg's after-render lines over the ROI pixels of the float32 image: max_I (the
    first brightest pixel; with ``config``, at its last subpixel's Fdet Sdet as C reports it)
    and mean/rms/rmsd (squares divided by N - 1, deviations in a second pass, like the C twin)."""
    array = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    region = array.astype(np.float32).astype(np.float64)
    f0 = s0 = 0
    if config is not None:
        (f0, f1), (s0, s1) = config.roi_fast, config.roi_slow
        f0, s0 = max(f0, 0), max(s0, 0)
        region = region[s0:s1 + 1, f0:f1 + 1]
    if region.size == 0:
        return ["max_I = 0", "mean= 0 rms= 0 rmsd= 0"]
    slow, fast = np.unravel_index(int(np.argmax(region)), region.shape)
    line = "max_I = %g" % region[slow, fast]
    if config is not None:
        n, p = config.oversample, config.pixel_size_m
        line += "  at " + _g(subpixel_coordinates(fast + f0, n - 1, n, p), subpixel_coordinates(slow + s0, n - 1, n, p))
    # row by row: no image-sized temporaries (a 4096^2 float64 image is 128 MB)
    count = region.size
    denominator = max(count - 1, 1)
    mean = sum(float(row.sum()) for row in region) / count
    squares = sum(float(row @ row) for row in region)
    deviations = sum(float((row - mean) @ (row - mean)) for row in region)
    return [line, "mean= %g rms= %g rmsd= %g" % (mean, math.sqrt(squares / denominator),
                                                  math.sqrt(deviations / denominator))]
