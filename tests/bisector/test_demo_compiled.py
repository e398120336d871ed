"""The demo's compiled port: right images, and one compiled graph for every physics state.

Real processes with a real ``torch.compile`` (a tiny image keeps the cold compile short);
the images are compared with the C twin, an independent implementation.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bisector import git
from bisector.demo import generate
from simkernel import cref

ARGS = "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels 32"

# The port's CLI in a process that reports, on its last stderr line, the FX graph cache's hits
# and misses of the run.
RUN = """
import atexit, json, sys
from torch._dynamo.utils import counters
atexit.register(lambda: print(json.dumps(dict(counters["inductor"])), file=sys.stderr))
from nbport.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run(repo, sha: str, work: Path, cache: Path) -> tuple[np.ndarray, dict]:
    git.export(repo.path, sha, ["src"], work)
    tmp = work / "tmp"
    tmp.mkdir()
    # as bisector's candidates: a private TMPDIR whose Inductor folder (headers) is shared
    (tmp / f"torchinductor_{getpass.getuser()}").symlink_to(cache / "tmpdir", target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TORCH", "TRITON"))}
    env.update(PYTHONPATH=str(work / "src"), TMPDIR=str(tmp), TORCHINDUCTOR_CACHE_DIR=str(cache / "inductor"),
               TORCHINDUCTOR_COMPILE_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", RUN, *ARGS.split(), "-floatfile", "out.bin"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    image = np.fromfile(work / "out.bin", dtype="<f4").reshape(32, 32)
    return image, json.loads(proc.stderr.strip().splitlines()[-1])


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1])


@pytest.mark.slow
def test_compiled_port_matches_c_and_reuses_its_graph_when_the_physics_changes(tmp_path):
    repo = generate(tmp_path / "port", commits=120, size=32, compiled=True)
    (tmp_path / "cache" / "tmpdir").mkdir(parents=True)
    reference = cref.simulate(ARGS.split())
    good, first = _run(repo, repo.first_good, tmp_path / "good", tmp_path / "cache")
    assert (first.get("fxgraph_cache_miss", 0), first.get("fxgraph_cache_hit", 0)) == (1, 0)  # cold: compiled
    assert _corr(good, reference) >= 0.9999
    assert abs(good.astype(np.float64).sum() / reference.sum() - 1) < 1e-3
    # The unit slip changes the wavelength the kernel gets by 1e10: another image, the same graph.
    slipped, second = _run(repo, repo.regression("unit_slip").culprit, tmp_path / "slip", tmp_path / "cache")
    assert (second.get("fxgraph_cache_miss", 0), second.get("fxgraph_cache_hit", 0)) == (0, 1)
    # and the regression still shows: nothing like the reference, far too bright
    assert _corr(slipped, reference) < 0.9 and slipped.astype(np.float64).sum() / reference.sum() > 5
