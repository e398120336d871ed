"""Image files as nanoBragg writes them: raw float32 and SMV (ADSC-style) 16-bit images.

Arrays are (slow, fast); files are slow-major (offset = slow * fpixels + fast). numpy only:
no torch import (a torch tensor passed in is converted through its own methods).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

import numpy as np

SMV_HEADER_BYTES = 512
SMV_FULL_SCALE = 55000.0
SMV_MAX_COUNT = 65535.0


def _as_numpy(image) -> np.ndarray:
    if hasattr(image, "detach"):  # torch tensor on any device
        image = image.detach().cpu().numpy()
    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D (slow, fast) image, got shape {array.shape}")
    return array


def as_float_image(image) -> np.ndarray:
    """The (slow, fast) float32 image nanoBragg stores: files and statistics use these values."""
    return _as_numpy(image).astype(np.float32)


def smv_header_items(config) -> dict:
    """SMV header fields after SIZE1/SIZE2, in the C twin's order and %g format (ADC_OFFSET is
    added by write_smv)."""
    return {"PIXEL_SIZE": "%g" % (config.pixel_size_m * 1e3), "DISTANCE": "%g" % (config.distance_m * 1e3),
            "WAVELENGTH": "%g" % (config.wavelength_m * 1e10),
            "BEAM_CENTER_X": "%g" % (config.xbeam_m * 1e3), "BEAM_CENTER_Y": "%g" % (config.ybeam_m * 1e3)}


def write_floatfile(path: str | Path, image) -> None:
    """Raw little-endian float32, slow-major, no header (nanoBragg's -floatfile)."""
    _as_numpy(image).astype("<f4").tofile(str(path))


def read_floatfile(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """Read a -floatfile back as a (slow, fast) float32 array.

    Raises ValueError naming the file when its size is not slow * fast float32 values
    (OSError if it cannot be read).
    """
    data = np.fromfile(str(path), dtype="<f4")
    if data.size != shape[0] * shape[1]:
        raise ValueError(f"{Path(path).name} holds {data.size} float32 values, "
                         f"expected {shape[0]} x {shape[1]} = {shape[0] * shape[1]}")
    return data.reshape(shape)


def smv_scale(image) -> float:
    """nanoBragg's default intfile scale: 55000 / max (1 if the image has no positive value)."""
    peak = float(_as_numpy(image).max(initial=0.0))
    return SMV_FULL_SCALE / peak if peak > 0 else 1.0


def _smv_header(fpixels: int, spixels: int, items: Mapping[str, object]) -> bytes:
    lines = ["{", "HEADER_BYTES=512;", "DIM=2;", "BYTE_ORDER=little_endian;", "TYPE=unsigned_short;",
             f"SIZE1={fpixels};", f"SIZE2={spixels};"]
    lines += [f"{key}={value};" for key, value in items.items()]
    text = "\n".join(lines) + "\n}\f"
    if len(text) > SMV_HEADER_BYTES:
        raise ValueError("SMV header items do not fit in 512 bytes")
    return text.ljust(SMV_HEADER_BYTES).encode("ascii")


def write_smv(path: str | Path, image, scale: Optional[float] = None, adc_offset: float = 40.0,
              header_items: Optional[Mapping[str, object]] = None) -> float:
    """SMV file: 512-byte header, unsigned 16-bit counts = floor(value * scale + adc_offset + 0.5)
    (adc_offset alone where value <= 0), clipped to 0..65535 (nanoBragg's -intfile, the C twin's
    arithmetic). Returns the scale used (55000/max by default)."""
    array = _as_numpy(image).astype(np.float64)
    if scale is None:
        scale = smv_scale(array)
    counts = np.clip(np.where(array > 0, array * scale + adc_offset, adc_offset), 0.0, SMV_MAX_COUNT)
    counts = np.floor(counts + 0.5).astype("<u2")
    spixels, fpixels = array.shape
    items = dict(header_items or {})
    items["ADC_OFFSET"] = "%g" % adc_offset
    with open(path, "wb") as handle:
        handle.write(_smv_header(fpixels, spixels, items))
        handle.write(counts.tobytes())
    return scale
