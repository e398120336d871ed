"""3-vector arithmetic in the C program's order of operations (numpy float64, shape (3,)).

numpy's matrix products and norms may sum in another order (or use BLAS), which changes the
last bit; the crystal axes, sources and rotations are built with these helpers instead, so
they carry the C program's bits, including the signs of zeros it prints ("-10 -0 0").
"""
from __future__ import annotations

import math

import numpy as np


def dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[0] + a[1] * b[1] + a[2] * b[2])


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def length(a: np.ndarray) -> float:
    return math.sqrt(dot(a, a))


def unit(a: np.ndarray) -> np.ndarray:
    """a * (1/|a|) (a itself when |a| == 0), as C's v_unit."""
    m = length(a)
    return a * (1.0 / m) if m > 0 else a


def rotate_axis(v: np.ndarray, u: np.ndarray, angle: float) -> np.ndarray:
    """Right-handed rotation of v about unit u (Rodrigues): u (u.v)(1 - cos) + (u x v) sin + v cos."""
    s, c = math.sin(angle), math.cos(angle)
    along = dot(u, v) * (1.0 - c)
    return (u * along + cross(u, v) * s) + v * c


def rotate_xyz(v: np.ndarray, rx: float, ry: float, rz: float) -> np.ndarray:
    """Rotation about X, then Y, then Z (the misset order)."""
    x, y, z = v
    y, z = y * math.cos(rx) - z * math.sin(rx), y * math.sin(rx) + z * math.cos(rx)
    x, z = x * math.cos(ry) + z * math.sin(ry), -x * math.sin(ry) + z * math.cos(ry)
    x, y = x * math.cos(rz) - y * math.sin(rz), x * math.sin(rz) + y * math.cos(rz)
    return np.array([x, y, z])


def mat_apply(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-major 3x3 matrix times column vector."""
    return np.array([m[i, 0] * v[0] + m[i, 1] * v[1] + m[i, 2] * v[2] for i in range(3)])
