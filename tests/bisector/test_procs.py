"""Processes bisector starts end with the run that started them, through the real command line.

Candidates, setup, the C reference and its build each leave children behind here (in their
group, and in a session of their own as `setsid` makes); every one must be gone, checked
by pid, whatever way the run ended. Also: output size does not become memory, a candidate
that deletes its folders is a skip, and odd scenario names stay inside the scratch folder.

bisector itself runs in this process (``bisector.cli.main``): the processes under test are
the ones it starts. Two tests start a real `bisector` process, where that process is the
point: its peak memory as the kernel measures it, and `kill PID` reaching it alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from bisector.score.procs import exit_waiter
from portrepo import scenario_args
from procwatch import alive, wait_for
from repostate import snapshot

# A candidate's children: one in its process group, one in a session of its own (setsid).
SPAWN = textwrap.dedent("""
    import os, subprocess, sys
    group = subprocess.Popen(["sleep", "300"])
    session = subprocess.Popen(["sleep", "300"], start_new_session=True)
    with open(os.environ["PIDS"], "a") as fh:
        fh.write(f"{group.pid} {session.pid}\\n")
""")


def _git(repo: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout


def make_repo(path: Path, candidate: str, *, c_bin: Path, pids: Path, scenario: str = "small",
              reference_toml: str | None = None) -> Path:
    """A repository whose candidate is ``src/cand.py`` (given as Python text)."""
    (path / "src").mkdir(parents=True)
    (path / "src" / "cand.py").write_text(candidate)
    reference = reference_toml or f'kind = "c"\nc_bin = "{c_bin}"\n'
    (path / "bisector.toml").write_text(textwrap.dedent(f"""\
        paths = ["src"]
        command = "{{python}} {{worktree}}/src/cand.py {{out}}"
        timeout = 120
        [env]
        PIDS = "{pids}"
        [reference]
        """) + reference + f'[scenarios."{scenario}"]\nargs = "{scenario_args(32)}"\n')
    _git(path.parent, "init", "-q", str(path))
    _git(path, "add", ".")
    _git(path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "candidate")
    return path


@pytest.fixture
def bisector(bisector_cli, monkeypatch):
    """`bisector ARGS` in ``cwd``, in this process, with the environment of ``_env(tmp)``."""
    def run(*args: str, cwd: Path, tmp: Path):
        env = _env(tmp)
        # bisector's scratch folders come from tempfile, which read TMPDIR once already.
        monkeypatch.setattr(tempfile, "tempdir", env["TMPDIR"])
        return bisector_cli(*args, cwd=cwd, env={k: env[k] for k in ("XDG_CACHE_HOME", "TMPDIR", "PIDS")})
    return run


def _env(tmp: Path) -> dict[str, str]:
    (tmp / "t").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "NB_C_BIN"}
    # PIDS: where the programs here note the pids of the children they leave behind
    return dict(env, XDG_CACHE_HOME=str(tmp / "cache"), TMPDIR=str(tmp / "t"), PYTHONUNBUFFERED="1",
                PIDS=str(tmp / "pids"))


def spawned(pids: Path) -> list[int]:
    return [int(p) for p in pids.read_text().split()] if pids.exists() else []


def test_a_candidates_children_end_with_its_normal_exit(tmp_path, c_twin, bisector):
    pids = tmp_path / "pids"
    repo = make_repo(tmp_path / "repo", SPAWN + "sys.exit(0)\n", c_bin=c_twin, pids=pids)
    proc = bisector("score", "--json", cwd=repo, tmp=tmp_path)
    assert proc.returncode == 125, proc.stderr  # exited without an image: a skip
    assert "was not written" in json.loads(proc.stdout)["scenarios"][0]["reason"]
    assert len(spawned(pids)) == 2
    assert [p for p in spawned(pids) if alive(p)] == []


def test_a_timeout_ends_the_candidate_and_all_its_children(tmp_path, c_twin, bisector):
    pids = tmp_path / "pids"
    repo = make_repo(tmp_path / "repo", SPAWN + "import time; time.sleep(300)\n", c_bin=c_twin, pids=pids)
    proc = bisector("score", "--timeout", "3", "--json", cwd=repo, tmp=tmp_path)
    assert proc.returncode == 125, proc.stderr
    assert "timeout after 3s" in json.loads(proc.stdout)["scenarios"][0]["reason"]
    assert len(spawned(pids)) == 2 and [p for p in spawned(pids) if alive(p)] == []


def test_setup_children_end_too(tmp_path, c_twin, bisector):
    pids = tmp_path / "pids"
    repo = make_repo(tmp_path / "repo", "import sys; sys.exit(3)\n", c_bin=c_twin, pids=pids)
    (repo / "src" / "setup.py").write_text(SPAWN)
    config = (repo / "bisector.toml").read_text()
    (repo / "bisector.toml").write_text(config.replace("timeout = 120", 'timeout = 120\nsetup = "{python} src/setup.py"'))
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "setup")
    proc = bisector("score", cwd=repo, tmp=tmp_path)
    assert proc.returncode == 125, proc.stderr  # the candidate exits 3
    assert len(spawned(pids)) == 2 and [p for p in spawned(pids) if alive(p)] == []


def test_a_candidate_that_deletes_its_tmpdir_and_scratch_is_a_skip_not_an_abort(tmp_path, c_twin, bisector):
    wipe = ("import os, shutil, sys; tmp = os.environ['TMPDIR']; print('x' * 5000, file=sys.stderr)\n"
            "shutil.rmtree(os.path.dirname(tmp)); sys.exit(1)\n")
    repo = make_repo(tmp_path / "repo", wipe, c_bin=c_twin, pids=tmp_path / "pids")
    proc = bisector("score", "--json", cwd=repo, tmp=tmp_path)
    assert proc.returncode == 125, proc.stderr
    reason = json.loads(proc.stdout)["scenarios"][0]["reason"]
    assert reason.startswith("exit status 1: ...") and reason.endswith("x" * 100)  # the log tail survived
    assert "Traceback" not in proc.stderr


def test_huge_output_costs_no_memory(tmp_path, c_twin):
    # A real bisector process: its peak memory, as the kernel counts it, is the point.
    megabytes = 400
    loud = ("import sys\nblock = b'y' * (1 << 20)\n"
            f"for _ in range({megabytes // 2}):\n    sys.stdout.buffer.write(block); sys.stderr.buffer.write(block)\n"
            "sys.exit(1)\n")
    repo = make_repo(tmp_path / "repo", loud, c_bin=c_twin, pids=tmp_path / "pids")
    # The peak resident memory of bisector and its children, measured by the kernel.
    probe = ("import resource, subprocess, sys; "
             "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
             "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "bisector", "score"],
                          cwd=repo, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    code, peak_kb = map(int, proc.stdout.split())
    assert code == 125, proc.stderr
    assert peak_kb < megabytes * 1024 / 4, f"peak {peak_kb / 1024:.0f} MB for {megabytes} MB of output"


def test_a_scenario_name_cannot_reach_outside_the_scratch_folder(tmp_path, c_twin, bisector):
    # scratch = t/bisector-score-*/: "out/../../../victim" would be tmp_path/victim
    victim = tmp_path / "victim.bin"
    victim.write_text("precious")
    writer = "import sys; open(sys.argv[1], 'wb').write(b'\\0' * 16); sys.exit(0)\n"
    repo = make_repo(tmp_path / "repo", writer, c_bin=c_twin, pids=tmp_path / "pids",
                     scenario="../../../victim")
    proc = bisector("score", cwd=repo, tmp=tmp_path)
    assert proc.returncode in (1, 125, 128), proc.stderr
    assert "Traceback" not in proc.stderr
    assert victim.read_text() == "precious"
    assert {p.name for p in tmp_path.iterdir()} <= {"cache", "pids", "repo", "t", "victim.bin"}


# --- the reference side: the C program and its build ---------------------------------------

def _c_script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n" + body)
    path.chmod(0o755)
    return path


def test_a_hanging_c_reference_is_ended_with_its_children_on_timeout(tmp_path, c_twin, bisector):
    pids = tmp_path / "pids"
    hanging = _c_script(tmp_path / "nanoBragg", SPAWN + "import time; time.sleep(300)\n")
    repo = make_repo(tmp_path / "repo", "import sys; sys.exit(0)\n", c_bin=c_twin, pids=pids)
    proc = bisector("score", "--c-bin", str(hanging), "--timeout", "3", cwd=repo, tmp=tmp_path)
    assert proc.returncode == 128, proc.stderr  # the harness failed: abort, never blame the commit
    assert "the C reference timed out after 3 s" in proc.stderr and "Traceback" not in proc.stderr
    assert len(spawned(pids)) == 2 and [p for p in spawned(pids) if alive(p)] == []


def test_kill_pid_during_the_c_reference_ends_its_children(tmp_path, c_twin):
    # A real bisector process: `kill PID` must reach it alone.
    pids = tmp_path / "pids"
    hanging = _c_script(tmp_path / "nanoBragg", SPAWN + "import time; time.sleep(300)\n")
    repo = make_repo(tmp_path / "repo", "import sys; sys.exit(0)\n", c_bin=c_twin, pids=pids)
    proc = subprocess.Popen([sys.executable, "-m", "bisector", "score", "--c-bin", str(hanging)], cwd=repo,
                            env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: len(spawned(pids)) == 2), proc.communicate()
    os.kill(proc.pid, signal.SIGTERM)  # `kill PID`: bisector alone gets the signal
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert [p for p in spawned(pids) if alive(p)] == []


def test_the_c_build_leaves_no_process_behind(tmp_path, c_twin, bisector):
    pids = tmp_path / "pids"
    build = tmp_path / "build.py"
    build.write_text(SPAWN + f"import shutil; shutil.copy({str(c_twin)!r}, 'nanoBragg')\n")
    reference = f'kind = "c"\nbuild = "{sys.executable} {build}"\n'
    repo = make_repo(tmp_path / "repo", "import sys; sys.exit(0)\n", c_bin=c_twin, pids=pids,
                     reference_toml=reference)
    before = snapshot(repo)
    proc = bisector("score", cwd=repo, tmp=tmp_path)
    assert proc.returncode == 125, proc.stderr  # built, then the candidate wrote nothing
    assert len(spawned(pids)) == 2 and [p for p in spawned(pids) if alive(p)] == []
    assert snapshot(repo) == before  # built in a private checkout: no worktree registered here


def test_the_supervisor_wakes_when_its_program_exits_not_at_its_next_poll():
    # procs waits on a pidfd: the wait for a 30 s slice ends when the program does.
    program = subprocess.Popen(["sleep", "0.2"])
    started = time.monotonic()
    assert hasattr(os, "pidfd_open"), "this Python on Linux 5.3 or later has pidfd_open"
    with exit_waiter(program) as wait_up_to:
        wait_up_to(30.0)
    assert time.monotonic() - started < 10.0 and program.poll() == 0
