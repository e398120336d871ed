"""Nothing bisector starts outlives it, and nothing it leaves after a SIGKILL outlives the next run.

The hostile programs here detach a child the hard way: double fork, new session, empty
environment (``env -i setsid``), so neither the process group nor an environment marker
can find it. Each test asserts by pid that every process is gone and that no scratch
folder (``bisector-*``) is left in the temp folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from portrepo import Change, make_port_repo
from procwatch import alive, cmdline, wait_for, with_env
from repostate import snapshot
from warmcache import share_references
from test_procs import _env, _git, make_repo, spawned as pids_in

# Writes the pid of a detached `sleep 300` (env -i, setsid, double fork) to the file PIDS names.
DETACH = textwrap.dedent("""
    import os, subprocess
    pids = os.environ["PIDS"]
    subprocess.run(["env", "-i", "setsid", "sh", "-c", f"sleep 300 & echo $! >> {pids}"], check=True)
""")


def bisector(*args: str, cwd: Path, tmp: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """A real bisector process: the programs here kill their parents and detach children, which
    must never reach the test process."""
    return subprocess.run([sys.executable, "-m", "bisector", *args], cwd=cwd, env=_env(tmp),
                          capture_output=True, text=True, timeout=timeout)



def scratch_folders(tmp: Path) -> list[str]:
    return sorted(p.name for p in (tmp / "t").glob("bisector-*"))


def test_a_detached_child_with_an_empty_environment_ends_with_the_candidate(tmp_path, c_twin):
    pids = tmp_path / "pids"
    repo = make_repo(tmp_path / "repo", DETACH + "import sys; sys.exit(0)\n", c_bin=c_twin, pids=pids)
    proc = bisector("score", cwd=repo, tmp=tmp_path)
    assert proc.returncode == 125, proc.stderr  # no image: a skip
    (daemon,) = pids_in(pids)
    assert not alive(daemon)
    assert scratch_folders(tmp_path) == []


def test_a_detached_child_of_a_c_bin_script_ends_with_the_hunt(tmp_path, c_twin):
    pids = tmp_path / "pids"
    # The C reference is a script that detaches a child, then runs the real C twin.
    wrapper = tmp_path / "nanoBragg"
    wrapper.write_text(f"#!/bin/sh\nenv -i setsid sh -c 'sleep 300 & echo $! >> {pids}'\n"
                       f'exec {c_twin} "$@"\n')
    wrapper.chmod(0o755)
    port = make_port_repo(tmp_path / "port", history=[Change("refactor"), Change("regress"), Change("docs")],
                          reference="c", c_bin=c_twin)
    before = snapshot(port.path)
    proc = bisector("run", "--good", port.base, "--c-bin", str(wrapper), "--report-dir", str(tmp_path / "r"),
                    cwd=port.path, tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"culprit: {port.shas[1][:10]}" in proc.stdout + proc.stderr
    daemons = pids_in(pids)
    assert daemons and [p for p in daemons if alive(p)] == []
    assert scratch_folders(tmp_path) == []
    assert snapshot(port.path) == before


# A candidate that hangs while a flag file exists (so the next run can finish).
HANG_WHILE_FLAGGED = DETACH + textwrap.dedent("""
    import sys, time
    with open(os.environ["PIDS"] + ".cand", "w") as fh:
        fh.write(str(os.getpid()))
    while os.path.exists(os.environ["PIDS"] + ".flag"):
        time.sleep(0.1)
    sys.exit(0)
""")


@pytest.mark.parametrize("command, folder", [("score", "bisector-score-"), ("verify", "bisector-verify-")])
def test_after_sigkill_the_candidate_dies_and_the_next_run_prunes_the_folder(tmp_path, c_twin, command, folder):
    pids = tmp_path / "pids"
    Path(f"{pids}.flag").write_text("hang")
    repo = make_repo(tmp_path / "repo", HANG_WHILE_FLAGGED, c_bin=c_twin, pids=pids)
    proc = subprocess.Popen([sys.executable, "-m", "bisector", command], cwd=repo, env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: pids_in(pids) and Path(f"{pids}.cand").exists()), proc.communicate()
    candidate = int(Path(f"{pids}.cand").read_text())
    os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert wait_for(lambda: not alive(candidate) and not any(alive(p) for p in pids_in(pids)), 20), \
        (alive(candidate), [(p, alive(p), cmdline(p)) for p in pids_in(pids)], err[-2000:])
    left = scratch_folders(tmp_path)
    assert left and all(name.startswith(folder) for name in left), (left, err[-2000:])  # SIGKILL cleans nothing

    Path(f"{pids}.flag").unlink()
    after = bisector("score", cwd=repo, tmp=tmp_path)
    assert after.returncode == 125, after.stderr[-2000:]
    assert scratch_folders(tmp_path) == [], (scratch_folders(tmp_path), after.stderr[-2000:])


KILL_MY_SCORER = DETACH + textwrap.dedent("""
    import signal, time
    # Walk up to the bisector process that scores us and kill it outright.
    pid = os.getppid()
    while pid > 1:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            command = fh.read()
        if b"bisector" in command and b"keeper" not in command:
            break
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        pid = int(stat[stat.rfind(b")") + 2:].split()[1])
    with open(os.environ["PIDS"] + ".cand", "w") as fh:
        fh.write(str(os.getpid()))
    os.kill(pid, signal.SIGKILL)
    time.sleep(300)
""")


def test_a_candidate_that_kills_its_scoring_step_is_ended_and_its_folder_removed(tmp_path, c_twin):
    pids = tmp_path / "pids"
    repo = make_repo(tmp_path / "repo", KILL_MY_SCORER, c_bin=c_twin, pids=pids)
    started = time.monotonic()
    proc = bisector("score", "--timeout", "60", cwd=repo, tmp=tmp_path)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    candidate = int(Path(f"{pids}.cand").read_text())
    # Ended long before its 60 s deadline: the keeper saw its owner die.
    assert wait_for(lambda: not alive(candidate) and not any(alive(p) for p in pids_in(pids)), 20)
    assert time.monotonic() - started < 60
    assert scratch_folders(tmp_path)  # the dead scorer's folder...

    (repo / "src" / "cand.py").write_text("import sys; sys.exit(0)\n")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "tame")
    assert bisector("score", cwd=repo, tmp=tmp_path).returncode == 125
    assert scratch_folders(tmp_path) == []  # ...is removed by the next run


# Starts PROGRAM supervised, prints the keeper's pid, then waits to be killed.
OWNER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from bisector.score import procs
    child = procs.start(sys.argv[1:], cwd=Path.cwd(), stdout=None, stderr=None)
    print(child.pid, flush=True)
    time.sleep(300)
""")


def test_a_sweep_elsewhere_while_a_keeper_ends_its_tree_frees_nothing(tmp_path):
    """Every bisector process sweeps after each program it runs, killing marked processes
    whose owner is gone. Between its owner's death and the end of its own tree, a keeper
    is such a process; killed then, what it adopted (unmarked, ``env -i setsid``) would
    run on. The keeper is held stopped here while a sweep runs, which makes the race sure."""
    pids = tmp_path / "pids"
    program = tmp_path / "program.py"
    program.write_text(DETACH + "import time; time.sleep(300)\n")
    owner = subprocess.Popen([sys.executable, "-c", OWNER, sys.executable, str(program)], cwd=tmp_path,
                             env=dict(_env(tmp_path), PYTHONPATH=str(Path(__file__).resolve().parents[2])),
                             stdout=subprocess.PIPE, text=True)
    keeper = int(owner.stdout.readline())
    assert wait_for(lambda: pids_in(pids), 30)
    (daemon,) = pids_in(pids)
    try:
        os.kill(keeper, signal.SIGSTOP)
        owner.kill()
        owner.wait()
        from bisector.score import procs
        procs.sweep()  # what any other bisector process does after any program it ran
        os.kill(keeper, signal.SIGCONT)
        assert wait_for(lambda: not alive(daemon) and not alive(keeper), 20), \
            [(p, alive(p), cmdline(p)) for p in (daemon, keeper)]
    finally:
        for pid in (keeper, daemon):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_after_sigkill_of_a_parallel_hunt_workers_die_and_every_folder_is_pruned(tmp_path, warm_references):
    history = [Change("docs"), Change("refactor"), Change("hang"), Change("regress"), Change("unhang"),
               Change("refactor"), Change("docs")]
    port = make_port_repo(tmp_path / "port", history=history, timeout=120)
    before = snapshot(port.path)
    env = _env(tmp_path)
    marker = f"XDG_CACHE_HOME={env['XDG_CACHE_HOME']}"
    share_references(warm_references, Path(env["XDG_CACHE_HOME"]) / "bisector")  # the session's reference images
    proc = subprocess.Popen([sys.executable, "-m", "bisector", "run", "--good", port.base, "--jobs", "2",
                             "--report-dir", str(tmp_path / "r")], cwd=port.path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: [p for p in with_env(marker) if "nbport" in cmdline(p)], 180), proc.communicate()
    workers = with_env(marker)
    left = scratch_folders(tmp_path)
    assert any(n.startswith("bisector-images-") for n in left) and any(n.startswith("bisector-workers-") for n in left)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert wait_for(lambda: not any(alive(p) for p in workers), 30)  # keepers saw their owner die
    assert scratch_folders(tmp_path)

    done = bisector("score", port.base, cwd=port.path, tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    assert scratch_folders(tmp_path) == []
    assert snapshot(port.path) == before


def test_a_folder_whose_owner_is_still_naming_itself_is_not_pruned(tmp_path):
    # owned_tempdir makes the folder, then writes its owner's name: another bisector's sweep
    # in between reads an empty owner file. That folder belongs to a live process.
    from bisector.score.procs import OWNER_FILE, owner_id, prune_orphans

    naming, dead, live = (tmp_path / f"bisector-{name}" for name in ("naming", "dead", "live"))
    for folder, owner in ((naming, ""), (dead, "999999999:0"), (live, owner_id())):
        folder.mkdir()
        (folder / OWNER_FILE).write_text(owner)
    assert prune_orphans(tmp_path) == [dead]
    assert naming.is_dir() and live.is_dir() and not dead.exists()
