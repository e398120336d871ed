"""Should the cache compress reference images? Size and read time, stored raw vs compressed.

A scoring step reads its reference image from the cache on every miss, so the read time is
per-step overhead. Prints side-by-side ratios for a real C-twin image.

    python scripts/bench_cache_images.py [--size 2048]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from simkernel import cref

ARGS = "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100"


def _best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    size = parser.parse_args().size
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "image.bin"
        subprocess.run([str(cref.binary()), *ARGS.split(), "-detpixels", str(size), "-floatfile", str(out)],
                       check=True, capture_output=True)
        image = np.fromfile(out, dtype="<f4").reshape(size, size)
    raw, packed = io.BytesIO(), io.BytesIO()
    np.save(raw, image)
    np.savez_compressed(packed, image=image)
    raw_bytes, packed_bytes = raw.getvalue(), packed.getvalue()
    read_raw = _best_of(lambda: np.load(io.BytesIO(raw_bytes)))
    read_packed = _best_of(lambda: np.load(io.BytesIO(packed_bytes))["image"])
    as64 = image.astype(np.float64)
    print(f"C-twin image {size}x{size} float32")
    print(f"{'stored as':<24}{'bytes':>14}{'size ratio':>12}{'read s':>10}{'read ratio':>12}")
    print(f"{'npy float32 (used)':<24}{len(raw_bytes):>14,}{1.0:>12.2f}{read_raw:>10.3f}{1.0:>12.2f}")
    print(f"{'npz zlib float32':<24}{len(packed_bytes):>14,}{len(packed_bytes) / len(raw_bytes):>12.2f}"
          f"{read_packed:>10.3f}{read_packed / read_raw:>12.2f}")
    print(f"{'npy float64':<24}{as64.nbytes + 128:>14,}{(as64.nbytes + 128) / len(raw_bytes):>12.2f}")


if __name__ == "__main__":
    main()
