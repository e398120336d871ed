"""Time the images of a run's report bundle: the plain PNGs of before against the figure of now.

Before: 4 plain PNGs (reference, parent, culprit: log grey over 3 decades; difference:
white/red/blue), rendered as bisector did before its figures; that renderer lives only here now.
After:  report/figures.comparison_figure (one figure: 3 panels, difference, zoom, caption).
Each is timed in a fresh Python process, imports included, as `bisector run` pays them once
per hunt; the rest of the bundle (markdown, JSON) is unchanged and not timed. CPU seconds
(user + system of the child) are printed beside wall seconds: on a shared, oversubscribed
machine they are the steadier measure of the work done.

    python scripts/bench_figures.py [--size 4096] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MAKE = """
import numpy as np
size = {size}
yy, xx = np.mgrid[:size, :size].astype(np.float32) * (64.0 / size)
ref = (1000 * np.exp(-((yy % 8 - 4) ** 2 + (xx % 8 - 4) ** 2) / 0.5) + 0.1).astype(np.float32)
culprit = (ref * 1.5).astype(np.float32)
np.save("{tmp}/ref.npy", ref); np.save("{tmp}/culprit.npy", culprit)
"""

BEFORE = """
import time; t = time.perf_counter()
import io
import numpy as np
from PIL import Image
from bisector.report.images import reduce_for_display

def grey(img):
    top = img.max(initial=0.0)
    floor = top * 1e-3
    level = np.log1p(np.clip(img, 0, None) / floor) / np.log1p(top / floor) if top > 0 else np.zeros(img.shape)
    return np.repeat(np.round(255 * level).astype(np.uint8)[:, :, None], 3, axis=2)

def signed(d):
    scale = np.abs(d).max(initial=0.0)
    u = d / scale if scale > 0 else np.zeros(d.shape)
    rgb = np.stack([1 - np.clip(-u, 0, 1), 1 - np.abs(u), 1 - np.clip(u, 0, 1)], axis=2)
    return np.round(255 * rgb).astype(np.uint8)

ref, culprit = np.load("{tmp}/ref.npy"), np.load("{tmp}/culprit.npy")
for name, img, colour in (("reference", ref, grey), ("parent", ref, grey), ("culprit", culprit, grey),
                          ("difference", culprit.astype(np.float64) - ref, signed)):
    buf = io.BytesIO()
    Image.fromarray(colour(reduce_for_display(img, 1024)), mode="RGB").save(buf, format="PNG")
    open("{tmp}/before-" + name + ".png", "wb").write(buf.getvalue())
print(time.perf_counter() - t)
"""

AFTER = """
import time; t = time.perf_counter()
import numpy as np
from pathlib import Path
from bisector.report.figures import Panel, comparison_figure
ref, culprit = np.load("{tmp}/ref.npy"), np.load("{tmp}/culprit.npy")
comparison_figure(Path("{tmp}/after.png"), [Panel("reference", "reference", ref), Panel("parent", "parent", ref),
                  Panel("culprit", "culprit", culprit)], title="bench", caption=["metrics"],
                  difference_of=("culprit", "reference"))
print(time.perf_counter() - t)
"""


def timed(code: str) -> tuple[float, float]:
    """(wall seconds measured inside the child, CPU seconds of the whole child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return float(out.strip().splitlines()[-1]), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-c", MAKE.format(size=opts.size, tmp=tmp)], check=True)
        before = [timed(BEFORE.format(tmp=tmp)) for _ in range(opts.repeat)]
        after = [timed(AFTER.format(tmp=tmp)) for _ in range(opts.repeat)]
        sizes = (sum(p.stat().st_size for p in Path(tmp).glob("before-*.png")), (Path(tmp) / "after.png").stat().st_size)
    print(f"report images of a run bundle, {opts.size}^2, median of {opts.repeat} fresh processes (imports included)")
    print(f"{'':28}{'before (4 plain PNGs)':>24}{'after (one figure)':>22}{'after/before':>14}")
    for i, what in ((0, "wall seconds"), (1, "CPU seconds")):
        b, a = statistics.median(t[i] for t in before), statistics.median(t[i] for t in after)
        print(f"{what:28}{b:>24.2f}{a:>22.2f}{a / b:>14.2f}x")
    print(f"{'bytes written':28}{sizes[0]:>24,}{sizes[1]:>22,}{sizes[1] / sizes[0]:>14.2f}x")


if __name__ == "__main__":
    main()
