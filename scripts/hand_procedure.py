"""What the hand procedure of the benchmarks runs at each step besides the two programs."""

# The comparison a person would script for `git bisect run`: the same thresholds as bisector's
# defaults, written against the raw float files.
COMPARE = '''\
import sys
import numpy as np
ref, img = (np.fromfile(p, "<f4").astype(np.float64) for p in sys.argv[1:3])
if img.size != ref.size or not np.isfinite(img).all():
    sys.exit(1)
corr = np.corrcoef(ref, img)[0, 1]
ratio = img.sum() / ref.sum()
sys.exit(0 if corr >= 0.999 and abs(ratio - 1) <= 5e-3 else 1)
'''
