"""The outcome of a bisection is read from a real `git bisect log`."""

import subprocess

from bisector.hunt.bisectlog import parse_bisect_log


def _repo_with_values(tmp_path, values):
    repo = tmp_path / "r"
    repo.mkdir()
    run = lambda *a, **k: subprocess.run(["git", "-C", str(repo), *a], check=True,  # noqa: E731
                                         capture_output=True, text=True, **k)
    run("init", "-q")
    run("config", "user.name", "t")
    run("config", "user.email", "t@example.com")
    shas = []
    for v in values:
        (repo / "v").write_text(f"{v}\n")
        run("add", "v")
        run("commit", "-qm", f"value {v}")
        shas.append(run("rev-parse", "HEAD").stdout.strip())
    return repo, shas, run


def _bisect(repo, run, good, bad, script):
    step = repo.parent / "step.sh"
    step.write_text(script)
    step.chmod(0o755)
    run("bisect", "start", "--no-checkout", bad, good)
    subprocess.run(["git", "-C", str(repo), "bisect", "run", str(step)], capture_output=True)
    log = run("bisect", "log").stdout
    run("bisect", "reset")
    return parse_bisect_log(log)


def test_first_bad_commit_and_verdicts(tmp_path):
    repo, shas, run = _repo_with_values(tmp_path, range(10))
    outcome = _bisect(repo, run, shas[0], shas[-1],
                      '#!/bin/sh\n[ "$(git show BISECT_HEAD:v)" -lt 6 ]\n')
    assert outcome.culprit == shas[6]
    assert outcome.candidates == [shas[6]]
    assert outcome.verdicts[shas[0]] == "good" and outcome.verdicts[shas[-1]] == "bad"
    assert set(outcome.verdicts.values()) <= {"good", "bad"}


def test_skips_next_to_the_culprit_give_candidates(tmp_path):
    repo, shas, run = _repo_with_values(tmp_path, range(10))
    script = ('#!/bin/sh\nv=$(git show BISECT_HEAD:v)\n'
              'case $v in 5|6) exit 125;; esac\n[ "$v" -lt 6 ]\n')
    outcome = _bisect(repo, run, shas[0], shas[-1], script)
    assert outcome.culprit is None
    assert set(outcome.candidates) == {shas[5], shas[6], shas[7]}
    assert "skip" in outcome.verdicts.values()


def test_an_aborted_bisection_is_not_finished(tmp_path):
    repo, shas, run = _repo_with_values(tmp_path, range(6))
    outcome = _bisect(repo, run, shas[0], shas[-1], "#!/bin/sh\nexit 128\n")
    assert not outcome.finished
    assert outcome.culprit is None
