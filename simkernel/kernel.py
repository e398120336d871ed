"""The vectorised nanoBragg kernel, chunked over detector rows.

Shapes: the image is (slow, fast); a chunk is (rows, cols) of the ROI. Lengths in metres,
wavelengths in metres, Miller indices dimensionless.

Speed: the detector basis is orthonormal, so every dot product v.P with a pixel position
P = base + Fdet f + Sdet s splits into a per-row plus a per-column vector, and so does
|P|^2. For the square shape without an HKL table (the common case, where the lattice
factor is smooth at h = 0) a Miller index is h = (row + col) * (1/R) - a.i/lambda, built by
one broadcast add and two in-place passes. With a table or another shape the indices feed
thresholds (nearest index, tophat) or an ill-conditioned sinc3, so they are computed with
the C program's own order of operations instead (_Subpixel.direction). Constant factors
(F^2 without a table, r_e^2 fluence / steps) are applied once per chunk.

Difference from C, on purpose: nanoBragg skips the spindle rotation when phi == 0 and
reuses the previous pixel's last rotated vectors (golden case 07 sums to 112430);
simkernel always rotates by the actual phi, so case 07 sums to 112380.8, the mean of the
single-angle images at 0, 1/3 and 2/3 degrees (docs/simkernel.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .config import SimConfig
from .crystal import crystal_vectors
from .geometry import detector, layer_offsets, subpixel_coordinates
from .rng import mosaic_rotations
from .sources import build_sources, phi_angles, spin, POLARIZATION_AXIS
from .structure import nearest_lookup, tricubic
from .vectors import mat_apply

R_E_SQUARED_M2 = 7.94079248018965e-30  # classical electron radius squared
ROUND_XTAL_SCALE = 0.723601254558268
TOPHAT_LIMIT = 0.3969
# bytes of (rows, cols) temporaries one chunk may use
DEFAULT_CHUNK_BYTES = 32 * 2**20  # few chunks: fewer thread barriers on a busy machine
LIVE_TEMPORARIES = 6


@dataclass(frozen=True, eq=False)
class _Plan:
    """Everything that does not depend on the pixel, as float64 numpy arrays."""

    base_points: np.ndarray      # (layers, 3) pix0 + Odet o
    fast: np.ndarray
    slow: np.ndarray
    normal: np.ndarray
    close_distance_m: float
    incident: np.ndarray         # (sources, 3)
    wavelength_m: np.ndarray     # (sources,)
    real_m: np.ndarray           # (phisteps * domains, 3, 3) rows a, b, c (phi outer, mosaic inner)
    recip: np.ndarray            # (3, 3) unrotated a*, b*, c* in 1/A


def rotated_cells(config: SimConfig, real_m: np.ndarray) -> np.ndarray:
    """Real-space vectors for every (phi step, mosaic domain), shape (P*D, 3, 3).

    a = U_m R(phi_k) a0 (rows of the 3x3 are a, b, c), in C's order of operations; without
    a mosaic spread no matrix is applied (as in C).
    """
    mosaic = mosaic_rotations(config.mosaic_spread_rad, config.mosaic_domains, config.mosaic_seed)
    cells = []
    for phi in phi_angles(config.phi0_rad, config.phistep_rad, config.phisteps):
        spun = [spin(axis, phi) for axis in real_m]
        for umat in mosaic:
            if config.mosaic_spread_rad > 0:
                cells.append([mat_apply(umat, axis) for axis in spun])
            else:
                cells.append(spun)
    return np.array(cells)


def _plan(config: SimConfig) -> _Plan:
    det = detector(config)
    sources = build_sources(config)
    vectors = crystal_vectors(config.cell_angstrom, config.cell_angles_rad, config.misset_rad)
    bases = np.array([det.pix0_m + odet * det.normal for odet in layer_offsets(config)])
    return _Plan(bases, det.fast, det.slow, det.normal, det.close_distance_m,
                 sources.incident, sources.wavelength_m, rotated_cells(config, vectors.real_m),
                 vectors.recip_per_angstrom)


class _Subpixel:
    """Pixel positions of one subpixel over one chunk: separable dot products and 1/R."""

    def __init__(self, base: np.ndarray, fast: np.ndarray, slow: np.ndarray,
                 fdet: np.ndarray, sdet: np.ndarray, device, dtype):
        self.base, self.fast, self.slow = base, fast, slow
        self.fdet, self.sdet = fdet, sdet
        self.device, self.dtype = device, dtype
        # |P|^2 = |base|^2 + 2 S base.s + S^2 + 2 F base.f + F^2 (f, s orthonormal)
        row = sdet * sdet + 2.0 * sdet * float(base @ slow) + float(base @ base)
        col = fdet * fdet + 2.0 * fdet * float(base @ fast)
        self.inv_r = self._outer_sum(row, col).rsqrt_()
        self._direction = None

    def _vec(self, values: np.ndarray, shape) -> torch.Tensor:
        return torch.as_tensor(values, dtype=self.dtype).to(self.device).reshape(shape)

    def _outer_sum(self, row: np.ndarray, col: np.ndarray) -> torch.Tensor:
        return self._vec(row, (-1, 1)) + self._vec(col, (1, -1))

    def projection(self, v: np.ndarray, scale: float = 1.0) -> torch.Tensor:
        """scale * (v . P) as a new (rows, cols) tensor."""
        row = scale * (float(v @ self.base) + self.sdet * float(v @ self.slow))
        col = scale * self.fdet * float(v @ self.fast)
        return self._outer_sum(row, col)

    def along(self, v: np.ndarray, scale: float, offset: float) -> torch.Tensor:
        """scale * (v . d) - offset with d = P/R the diffracted direction (new tensor)."""
        return self.projection(v, scale).mul_(self.inv_r).sub_(offset)

    def direction(self) -> list[torch.Tensor]:
        """d = P * (1/R) per component, in the C program's order of operations.

        P_j = (fast_j F + slow_j S) + base_j and R = sqrt(Px Px + Py Py + Pz Pz), exactly as C
        adds and multiplies them, so d (and S = (d - i)/lambda) has C's bits: where C gets an
        exact zero (a subpixel on the direct beam), so do we. The fast separable path above
        leaves rounding residues there instead.
        """
        if self._direction is None:
            parts = [self._outer_sum(self.sdet * float(self.slow[j]), self.fdet * float(self.fast[j]))
                     .add_(float(self.base[j])) for j in range(3)]
            inv_r = (parts[0] * parts[0]).add_(parts[1] * parts[1]).add_(parts[2] * parts[2]).sqrt_().reciprocal_()
            self._direction = [part.mul_(inv_r) for part in parts]
        return self._direction

    def scattering(self, incident: np.ndarray, wavelength: float) -> list[torch.Tensor]:
        """S = (d - i) * (1/lambda) per component (1/m), in C's order of operations."""
        return [(d - float(i)).mul_(1.0 / wavelength) for d, i in zip(self.direction(), incident)]


def _sincg(x: torch.Tensor, n: int) -> torch.Tensor:
    """sin(n x)/sin(x) in place on x; n where sin(x) == 0 (x == 0 in practice)."""
    denominator = torch.sin(x)
    x.mul_(n).sin_().div_(denominator)
    return x.nan_to_num_(nan=float(n))


def _sinc3(x: torch.Tensor) -> torch.Tensor:
    """3 (sin x / x - cos x) / x^2, with 1 at x == 0, evaluated as C does.

    The formula cancels catastrophically for tiny x: a rounding residue of x (~1e-15, e.g.
    a subpixel on the direct beam seen through a misset or triclinic cell) gives 0, not ~1.
    C does exactly that, and the Miller indices are computed with C's arithmetic (see
    _Subpixel.direction), so simkernel gets the same 0 where C does; a Taylor series here
    would be "more right" and disagree with the C program by a whole subpixel.
    """
    direct = 3.0 * (torch.sin(x) / x - torch.cos(x)) / (x * x)
    return torch.where(x == 0, 1.0, direct)


class _Kernel:
    """Per-chunk evaluation of F_cell^2 F_latt^2 and the pixel factors for one config."""

    def __init__(self, config: SimConfig, plan: _Plan, device, dtype):
        self.config, self.plan = config, plan
        self.device, self.dtype = device, dtype
        self.n_cells = config.n_cells
        table = config.hkl
        self.grid = (torch.tensor(np.array(table.values, copy=True).reshape(-1), dtype=dtype, device=device)
                     if table is not None else None)
        # without a table F_cell is default_F everywhere: F^2 becomes a scalar factor
        self.constant_f2 = config.default_F ** 2 if table is None else None
        self.needs_indices = table is not None or config.xtal_shape != "square"

    # -- lattice and structure factors -------------------------------------------------
    def _square_lattice(self, sub: _Subpixel, cell: np.ndarray, incident, wavelength):
        """F_latt = prod sincg(pi h, N) from the fractional indices; None if every N == 1."""
        flatt = None
        scale = math.pi / wavelength
        for axis, n in zip(cell, self.n_cells):
            if n == 1:
                continue  # C skips N == 1 axes: factor 1
            x = _sincg(sub.along(axis, scale, scale * float(axis @ incident)), n)
            flatt = x if flatt is None else flatt.mul_(x)
        return flatt

    @staticmethod
    def _indices(scattering: list[torch.Tensor], cell: np.ndarray) -> list[torch.Tensor]:
        """h = (a_x S_x + a_y S_y) + a_z S_z for a, b, c: C's arithmetic, so the nearest-index
        lookup, the shape thresholds and the round shape's sinc3 see C's values."""
        sx, sy, sz = scattering
        return [(sx * float(axis[0])).add_(sy * float(axis[1])).add_(sz * float(axis[2])) for axis in cell]

    def _shaped_lattice(self, hkl) -> torch.Tensor:
        na, nb, nc = self.n_cells
        shape, fudge = self.config.xtal_shape, self.config.fudge
        if shape == "square":
            flatt = None
            for x, n in zip(hkl, self.n_cells):
                if n > 1:
                    value = _sincg(x * math.pi, n)
                    flatt = value if flatt is None else flatt.mul_(value)
            return flatt if flatt is not None else torch.ones_like(hkl[0])
        frac = [x - torch.ceil(x - 0.5) for x in hkl]
        # every product below in C's order (see _Subpixel.direction for why bits matter)
        nnn = float(na * nb * nc)
        if shape == "round":
            hrad2 = frac[0] * frac[0] * na * na + frac[1] * frac[1] * nb * nb + frac[2] * frac[2] * nc * nc
            return nnn * ROUND_XTAL_SCALE * _sinc3(math.pi * torch.sqrt(hrad2 * fudge))
        recip = self.plan.recip
        delta = [frac[0] * recip[0, j] + frac[1] * recip[1, j] + frac[2] * recip[2, j] for j in range(3)]
        rad2 = (delta[0] * delta[0] + delta[1] * delta[1] + delta[2] * delta[2]) * na * na * nb * nb * nc * nc
        if shape == "gauss":
            return nnn * torch.exp(-(rad2 / 0.63 * fudge))
        return torch.where(rad2 * fudge < TOPHAT_LIMIT, nnn, 0.0).to(rad2.dtype)

    def _structure_factor(self, hkl) -> torch.Tensor:
        table, default_F = self.config.hkl, self.config.default_F
        if self.config.interpolate:
            return tricubic(table, *hkl, self.grid, default_F)
        h0, k0, l0 = (torch.ceil(x - 0.5).long() for x in hkl)
        return nearest_lookup(table, h0, k0, l0, self.grid, default_F)

    def term(self, sub: _Subpixel, cell: np.ndarray, incident, wavelength):
        """(F_cell^2 F_latt^2, F_latt == 0) for one orientation and source.

        The intensity lacks the constant F^2 when there is no table; None means the constant
        1 (every N == 1, square shape, no table). The mask says where C skips the whole term,
        running -oversample_* multiplies included: where F_latt is 0, not where F_cell is
        (a zero F_cell from the table still takes the multiplies).
        """
        if not self.needs_indices:
            flatt = self._square_lattice(sub, cell, incident, wavelength)
            if flatt is None:
                return None, None
            intensity = flatt.square_()
            return intensity, intensity == 0
        hkl = self._indices(sub.scattering(incident, wavelength), cell)
        flatt = self._shaped_lattice(hkl)
        intensity = flatt.square()
        if self.config.hkl is not None:
            intensity.mul_(self._structure_factor(hkl).square_())
        return intensity, flatt == 0

    # -- pixel factors ------------------------------------------------------------------
    def omega(self, sub: _Subpixel) -> torch.Tensor:
        """Solid angle of the (whole) pixel seen from the sample, steradian."""
        inv_r2 = sub.inv_r * sub.inv_r
        if self.config.point_pixel:
            return inv_r2
        p = self.config.pixel_size_m
        return inv_r2.mul_(sub.inv_r).mul_(p * p * self.plan.close_distance_m)

    def polarization(self, sub: _Subpixel, incident: np.ndarray) -> torch.Tensor:
        """Kahn polarisation factor for incident unit vector ``incident``."""
        cos2t = sub.along(incident, 1.0, 0.0)
        cos2t.square_()
        kahn = self.config.polarization_kahn
        if kahn == 0:
            return cos2t.add_(1.0).mul_(0.5)
        b_in = np.cross(POLARIZATION_AXIS, incident)
        b_in /= np.linalg.norm(b_in)
        e_in = np.cross(incident, b_in)
        e_in /= np.linalg.norm(e_in)
        y, x = sub.projection(b_in), sub.projection(e_in)
        # cos(2 psi) with psi = -atan2(y, x); atan2(0, 0) = 0 gives 1
        x2, y2 = x.square_(), y.square_()
        cos2psi = ((x2 - y2) / (x2 + y2)).nan_to_num_(nan=1.0)
        sin2t = 1.0 - cos2t
        return (1.0 + cos2t - kahn * cos2psi * sin2t).mul_(0.5)

    def capture(self, sub: _Subpixel, layer: int) -> torch.Tensor:
        """Fraction of photons absorbed in sensor layer ``layer`` (rho = d.o)."""
        c = self.config
        rho = sub.along(self.plan.normal, 1.0, 0.0)
        k = c.thickstep_m * c.detector_mu_per_m
        return torch.exp(-layer * k / rho) - torch.exp(-(layer + 1) * k / rho)


def _accumulate(kernel: _Kernel, plan: _Plan, config: SimConfig, rows: np.ndarray,
                cols: np.ndarray) -> torch.Tensor:
    """The pixel values (before the r_e^2 fluence / steps scale) of one chunk."""
    n = config.oversample
    running = config.oversample_omega or config.oversample_polar or config.oversample_thick
    acc = None
    omega = polar = capture = None
    thick = config.detector_thick_m > 0 and config.detector_mu_per_m > 0  # mu 0: no absorption
    for layer, base in enumerate(plan.base_points):
        layer_capture = None
        for ss in range(n):
            sdet = subpixel_coordinates(rows, ss, n, config.pixel_size_m)
            for sf in range(n):
                fdet = subpixel_coordinates(cols, sf, n, config.pixel_size_m)
                sub = _Subpixel(base, plan.fast, plan.slow, fdet, sdet, kernel.device, kernel.dtype)
                if omega is None or config.oversample_omega:
                    omega = kernel.omega(sub)
                if thick and (layer_capture is None or config.oversample_thick):
                    layer_capture = kernel.capture(sub, layer)
                for incident, wavelength in zip(plan.incident, plan.wavelength_m):
                    if config.polarization_enabled and (polar is None or config.oversample_polar):
                        polar = kernel.polarization(sub, incident)
                    for cell in plan.real_m:
                        term, skipped = kernel.term(sub, cell, incident, wavelength)
                        if term is None:
                            term = torch.ones_like(sub.inv_r)
                        acc = term if acc is None else acc.add_(term)
                        if not running:
                            continue
                        for on, factor in ((config.oversample_thick, layer_capture),
                                           (config.oversample_polar, polar),
                                           (config.oversample_omega, omega)):
                            if on and factor is not None:
                                acc.mul_(factor if skipped is None else torch.where(skipped, 1.0, factor))
        capture = layer_capture
    if thick and not config.oversample_thick:
        acc.mul_(capture)
    if polar is not None and not config.oversample_polar:
        acc.mul_(polar)
    if not config.oversample_omega:
        acc.mul_(omega)
    return acc


def _chunk_rows(cols: int, element_bytes: int, budget_bytes: int) -> int:
    return max(1, budget_bytes // (LIVE_TEMPORARIES * element_bytes * max(cols, 1)))


def simulate(config: SimConfig, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64,
             chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> torch.Tensor:
    """Render the nanoBragg image for ``config``.

    Returns a (spixels, fpixels) tensor on ``device`` in ``dtype`` (photons per pixel);
    pixels outside the ROI are 0. ``chunk_bytes`` bounds the (rows, cols) temporaries of one
    chunk (memory use, not results, depends on it).
    """
    device = torch.device(device)
    image = torch.zeros((config.spixels, config.fpixels), dtype=dtype, device=device)
    f0, f1 = max(config.roi_fast[0], 0), min(config.roi_fast[1], config.fpixels - 1)
    s0, s1 = max(config.roi_slow[0], 0), min(config.roi_slow[1], config.spixels - 1)
    if f1 < f0 or s1 < s0:
        return image
    plan = _plan(config)
    kernel = _Kernel(config, plan, device, dtype)
    cols = np.arange(f0, f1 + 1, dtype=np.float64)
    scale = R_E_SQUARED_M2 * config.fluence_photons_per_m2 / config.steps
    if kernel.constant_f2 is not None:
        scale *= kernel.constant_f2
    step = _chunk_rows(len(cols), image.element_size(), chunk_bytes)
    with torch.no_grad():
        for r0 in range(s0, s1 + 1, step):
            rows = np.arange(r0, min(r0 + step, s1 + 1), dtype=np.float64)
            values = _accumulate(kernel, plan, config, rows, cols)
            image[r0:r0 + len(rows), f0:f1 + 1] = values.mul_(scale)
    return image
