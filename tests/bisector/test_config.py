"""Configuration: sources and their order, defaults, validation messages, JSON pinning."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bisector.config import SIMKERNEL_NOTICE, Config, ConfigOverrides, Thresholds, load_config
from bisector.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_user_env(monkeypatch, tmp_path):
    monkeypatch.delenv("NB_C_BIN", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def _port(tmp_path: Path, pyproject: str | None = None, packages=("nbport",)) -> Path:
    repo = tmp_path / "repo"
    for name in packages:
        (repo / "src" / name).mkdir(parents=True)
        (repo / "src" / name / "__main__.py").write_text("")
    if pyproject is not None:
        (repo / "pyproject.toml").write_text(pyproject)
    return repo


def _exe(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_defaults_without_any_configuration(tmp_path):
    repo = _port(tmp_path, pyproject='[project]\nname = "x"\n')
    cfg = load_config(repo)
    assert cfg.source == "defaults"
    assert cfg.paths == ("src",) and cfg.package == "nbport"
    assert cfg.command == "{python} -m {package} {args} -floatfile {out}"
    assert cfg.env == {"PYTHONPATH": "{worktree}/src"}
    assert cfg.timeout_s == 900
    assert list(cfg.scenarios) == ["benchmark", "benchmark_probe"] and cfg.judge == ("benchmark",)
    assert cfg.scenarios["benchmark"].args[-2:] == ("-detpixels", "4096")
    assert cfg.scenarios["benchmark"].probe == "benchmark_probe"
    assert cfg.compile_cache is True and cfg.eager is False and cfg.paranoid is False
    assert cfg.thresholds == Thresholds(0.999, 5e-3)
    assert cfg.reference.kind == "simkernel" and cfg.notices == (SIMKERNEL_NOTICE,)
    assert cfg.cache_dir == tmp_path / "xdg" / "bisector"


def test_pyproject_table_is_read_and_merged_with_defaults(tmp_path):
    repo = _port(tmp_path, pyproject="""
[tool.bisector]
paths = ["src", "lib"]
timeout = 30
[tool.bisector.env]
OMP_NUM_THREADS = "1"
[tool.bisector.thresholds]
min_correlation = 0.99
[tool.bisector.scenarios.small]
args = "-default_F 100 -detpixels 32"
probe = "tiny"
[tool.bisector.scenarios.tiny]
args = ["-default_F", "100", "-detpixels", "8"]
""")
    cfg = load_config(repo)
    assert cfg.paths == ("src", "lib") and cfg.timeout_s == 30
    assert cfg.env == {"PYTHONPATH": "{worktree}/src", "OMP_NUM_THREADS": "1"}
    assert cfg.thresholds == Thresholds(0.99, 5e-3)
    assert cfg.scenarios["small"].args == ("-default_F", "100", "-detpixels", "32")
    # "tiny" is only a probe, so it is not judged on its own.
    assert cfg.judge == ("small",)
    assert cfg.scenarios["small"].probe == "tiny" and cfg.scenarios["small"].probe_margin == 0.9


def test_source_order_config_flag_then_bisector_toml_then_pyproject(tmp_path):
    repo = _port(tmp_path, pyproject="[tool.bisector]\ntimeout = 1\n")
    assert load_config(repo).timeout_s == 1
    (repo / "bisector.toml").write_text("timeout = 2\n")
    assert load_config(repo).timeout_s == 2
    other = tmp_path / "other.toml"
    other.write_text("[tool.bisector]\ntimeout = 3\n")
    cfg = load_config(repo, other)
    assert cfg.timeout_s == 3 and cfg.source == str(other)


def test_overrides_win(tmp_path):
    repo = _port(tmp_path, pyproject="""
[tool.bisector]
[tool.bisector.scenarios.a]
args = "-detpixels 8"
[tool.bisector.scenarios.b]
args = "-detpixels 16"
""")
    cfg = load_config(repo, overrides=ConfigOverrides(scenarios=["b"], timeout_s=5, min_correlation=0.5,
                                                      max_sum_ratio_error=0.1, cache_dir=tmp_path / "c",
                                                      paths=["src/nbport"]))
    assert cfg.judge == ("b",) and cfg.timeout_s == 5 and cfg.paths == ("src/nbport",)
    assert cfg.thresholds == Thresholds(0.5, 0.1) and cfg.cache_dir == tmp_path / "c"


def test_json_round_trip_and_pinned_overrides(tmp_path):
    c_bin = _exe(tmp_path / "nanoBragg")
    repo = _port(tmp_path, pyproject=f"""
[tool.bisector]
[tool.bisector.reference]
c_bin = "{c_bin}"
[tool.bisector.scenarios.s]
args = "-detpixels 8"
probe = "p"
probe_margin = 0.5
[tool.bisector.scenarios.p]
args = "-detpixels 4"
""")
    cfg = load_config(repo)
    again = Config.from_json(cfg.to_json())
    assert again == cfg and isinstance(again.repo, Path)
    with pytest.raises(ConfigError, match="pinned configuration"):
        Config.from_json('{"repo": "x"}')


def test_reference_resolution_order(tmp_path, monkeypatch):
    in_config = _exe(tmp_path / "from_config")
    in_env = _exe(tmp_path / "from_env")
    on_cli = _exe(tmp_path / "from_cli")
    repo = _port(tmp_path, pyproject=f'[tool.bisector.reference]\nc_bin = "{in_config}"\n')
    assert load_config(repo).reference.c_bin == str(in_config)
    monkeypatch.setenv("NB_C_BIN", str(in_env))
    assert load_config(repo).reference.c_bin == str(in_env)
    cfg = load_config(repo, overrides=ConfigOverrides(c_bin=on_cli))
    assert cfg.reference.kind == "c" and cfg.reference.c_bin == str(on_cli) and cfg.notices == ()


def test_build_reference_spec(tmp_path):
    repo = _port(tmp_path, pyproject='[tool.bisector.reference]\nbuild = "make nanoBragg"\nbuild_commit = "v1"\n')
    ref = load_config(repo).reference
    assert (ref.kind, ref.build, ref.build_commit, ref.binary) == ("c", "make nanoBragg", "v1", "nanoBragg")


@pytest.mark.parametrize("problem", ["missing", "not_executable"])
def test_unusable_c_bin_is_named_with_the_fixes(tmp_path, problem):
    c_bin = tmp_path / "nanoBragg"
    if problem == "not_executable":
        c_bin.write_text("data")
    repo = _port(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(repo, overrides=ConfigOverrides(c_bin=c_bin))
    text = str(info.value)
    assert str(c_bin) in text and "--c-bin" in text and "NB_C_BIN" in text and "c_bin" in text


@pytest.mark.parametrize("toml, words", [
    ("[tool.bisector]\npaths = [\n", ["not valid TOML", "pyproject.toml", "line"]),
    ("[tool.bisector]\ntimout = 3\n", ["'timout'", "timeout", "allowed keys"]),
    ("[tool.bisector.thresholds]\nmin_correlation = 1.5\n", ["min_correlation", "(0, 1]", "1.5"]),
    ("[tool.bisector.thresholds]\nmax_sum_ratio_error = 0\n", ["max_sum_ratio_error", "(0, 1]"]),
    ("[tool.bisector.thresholds]\nmin_corr = 0.9\n", ["'min_corr'", "min_correlation"]),
    ("[tool.bisector]\ntimeout = -1\n", ["timeout", "> 0"]),
    ("[tool.bisector]\ntimeout = inf\n", ["timeout", "at most 604800", "inf"]),
    ("[tool.bisector]\ntimeout = nan\n", ["timeout", "nan"]),
    ("[tool.bisector.scenarios.a]\nargs = \"-detpixels '8\"\n", ["args of", "scenarios.a", "quotation"]),
    ("[tool.bisector]\nsetup = \"pip install 'x\"\n", ["setup", "quotation"]),
    ("[tool.bisector.scenarios.\"../x\"]\nargs = \"-detpixels 8\"\n", ["'../x'", "not allowed"]),
    ("[tool.bisector]\npaths = \"src\"\n", ["paths", "list"]),
    ("[tool.bisector.reference]\nkind = \"fortran\"\n", ["fortran", "simkernel"]),
    ("[tool.bisector.reference]\nkind = \"c\"\n", ["needs a C program", "--c-bin"]),
    ("[tool.bisector]\nscenarios_to_judge = [\"nope\"]\n", ["'nope'", "benchmark"]),
    ("[tool.bisector.scenarios.a]\nargs = \"-detpixels 8\"\nprobe = \"ghost\"\n", ["ghost", "probe", "a"]),
    ("[tool.bisector.scenarios.a]\nargs = \"-detpixels 8 -floatfile x\"\n", ["-floatfile"]),
    ("[tool.bisector.scenarios.a]\nargz = \"-detpixels 8\"\n", ["'argz'", "args"]),
])
def test_invalid_configuration_names_key_and_allowed_values(tmp_path, toml, words):
    repo = _port(tmp_path, pyproject=toml)
    with pytest.raises(ConfigError) as info:
        load_config(repo)
    text = str(info.value)
    for word in words:
        assert word in text, (word, text)


def test_unknown_scenario_on_the_command_line(tmp_path):
    repo = _port(tmp_path)
    with pytest.raises(ConfigError, match="unknown scenario 'x' in --scenario"):
        load_config(repo, overrides=ConfigOverrides(scenarios=["x"]))


def test_paths_and_package_defaults_need_src(tmp_path):
    repo = tmp_path / "empty"
    repo.mkdir()
    with pytest.raises(ConfigError, match="paths"):
        load_config(repo)
    two = _port(tmp_path, packages=("alpha", "beta"))
    with pytest.raises(ConfigError) as info:
        load_config(two)
    assert "alpha" in str(info.value) and "beta" in str(info.value)
    (two / "pyproject.toml").write_text('[tool.bisector]\npackage = "beta"\n')
    assert load_config(two).package == "beta"


def test_missing_config_file(tmp_path):
    repo = _port(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(repo, tmp_path / "nope.toml")


def test_relative_c_bin_is_relative_to_the_config_file(tmp_path):
    repo = _port(tmp_path)
    tools = tmp_path / "tools"
    tools.mkdir()
    c_bin = _exe(tools / "nb")
    (tools / "bisector.toml").write_text('[reference]\nc_bin = "./nb"\n')
    assert load_config(repo, tools / "bisector.toml").reference.c_bin == str(c_bin)
    assert os.access(load_config(repo, tools / "bisector.toml").reference.c_bin, os.X_OK)


def test_every_judging_option_applies_to_a_pinned_configuration(tmp_path):
    # narrow judges with the pinned configuration of the run it follows: an option it accepts
    # (--eager, --repeats, ...) must change that configuration, not be dropped silently.
    from bisector.config import with_overrides

    c_bin = _exe(tmp_path / "nanoBragg")
    repo = _port(tmp_path, pyproject=f'[tool.bisector]\nmax_repeats = 3\n[tool.bisector.reference]\nc_bin = "{c_bin}"\n')
    pinned = Config.from_json(load_config(repo).to_json())
    assert not pinned.eager and not pinned.paranoid and pinned.noise.repeats == 1
    judged = with_overrides(pinned, ConfigOverrides(eager=True, paranoid=True, repeats=5, timeout_s=7,
                                                    min_correlation=0.5))
    assert judged.eager and judged.paranoid and judged.timeout_s == 7
    assert judged.thresholds.min_correlation == 0.5
    assert (judged.noise.repeats, judged.noise.max_repeats) == (5, 5)  # max_repeats never below repeats
    assert with_overrides(pinned, ConfigOverrides()) == pinned
    with pytest.raises(ConfigError, match="--repeats"):
        with_overrides(pinned, ConfigOverrides(repeats=0))
