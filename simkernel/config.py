"""Resolved simulation parameters.

``SimConfig`` holds every physics parameter after nanoBragg's automatic rules have been
applied (see docs/simkernel.md); every field name carries its unit. ``OutputOptions`` holds
what the command line asks to be written and where the kernel should run; it never
influences the image.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .structure import HklTable

SHAPES = ("square", "round", "gauss", "tophat")


@dataclass(frozen=True)
class SimConfig:
    """All physics of one nanoBragg run, resolved and validated (MOSFLM convention, BEAM pivot)."""

    # crystal
    cell_angstrom: tuple[float, float, float]
    cell_angles_rad: tuple[float, float, float]
    misset_rad: Optional[tuple[float, float, float]]
    n_cells: tuple[int, int, int]
    xtal_shape: str
    fudge: float
    # structure factors
    default_F: float
    hkl_path: Optional[str]
    hkl: Optional[HklTable] = field(compare=False, repr=False)
    interpolate: bool
    interpolate_auto: bool
    # beam
    wavelength_m: float
    dispersion_fraction: float
    dispstep_fraction: float
    dispsteps: int
    hdivrange_rad: float
    hdivstep_rad: float
    hdivsteps: int
    vdivrange_rad: float
    vdivstep_rad: float
    vdivsteps: int
    square_div: bool
    fluence_photons_per_m2: float
    polarization_kahn: float
    polarization_enabled: bool
    # detector
    distance_m: float
    pixel_size_m: float
    fpixels: int
    spixels: int
    detsize_f_m: float
    detsize_s_m: float
    xbeam_m: float
    ybeam_m: float
    fbeam_m: float
    sbeam_m: float
    roi_fast: tuple[int, int]
    roi_slow: tuple[int, int]
    oversample: int
    oversample_auto: bool
    oversample_recommended: int
    oversample_omega: bool
    oversample_polar: bool
    oversample_thick: bool
    point_pixel: bool
    detector_thick_m: float
    detector_mu_per_m: float
    thicksteps: int
    thickstep_m: float
    # rotations
    phi0_rad: float
    osc_rad: float
    phistep_rad: float
    phisteps: int
    mosaic_spread_rad: float
    mosaic_domains: int
    mosaic_seed: int

    @property
    def steps(self) -> int:
        """nanoBragg's normaliser: sources x domains x phi steps x oversample^2 (no layers)."""
        from .sources import source_count

        return source_count(self) * self.mosaic_domains * self.phisteps * self.oversample**2


@dataclass(frozen=True)
class OutputOptions:
    """Files to write and where to run; parsed from the same command line as SimConfig."""

    floatfile: Optional[str] = None
    intfile: Optional[str] = None
    noisefile: Optional[str] = None
    pgmfile: Optional[str] = None
    write_noise: bool = True
    write_pgm: bool = True
    progress: bool = True
    intfile_scale: Optional[float] = None
    adc_offset: float = 40.0
    noise_seed: Optional[int] = None
    device: Optional[str] = None
    dtype: str = "float64"
    trace_pixel: Optional[tuple[int, int]] = None   # (slow, fast)
