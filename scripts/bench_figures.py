"""Time the images of a run's report bundle: the plain PNGs of before against the figure of now.

Before: report/images.save_png for reference, parent, culprit and difference (4 PNGs).
After:  report/figures.comparison_figure (one figure: 3 panels, difference, zoom, caption).
Each is timed in a fresh Python process, imports included, as `bisector run` pays them once
per hunt; the rest of the bundle (markdown, JSON) is unchanged and not timed.

    python scripts/bench_figures.py [--size 4096] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
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
import numpy as np
from bisector.report import images
ref, culprit = np.load("{tmp}/ref.npy"), np.load("{tmp}/culprit.npy")
for name, img, signed in (("reference", ref, False), ("parent", ref, False), ("culprit", culprit, False),
                          ("difference", culprit.astype(np.float64) - ref, True)):
    images.save_png(__import__("pathlib").Path("{tmp}/before-" + name + ".png"), img, signed=signed)
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


def timed(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


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
    b, a = statistics.median(before), statistics.median(after)
    print(f"report images of a run bundle, {opts.size}^2, median of {opts.repeat} fresh processes (imports included)")
    print(f"{'':28}{'before (4 plain PNGs)':>24}{'after (one figure)':>22}{'after/before':>14}")
    print(f"{'seconds':28}{b:>24.2f}{a:>22.2f}{a / b:>14.2f}x")
    print(f"{'bytes written':28}{sizes[0]:>24,}{sizes[1]:>22,}{sizes[1] / sizes[0]:>14.2f}x")


if __name__ == "__main__":
    main()
