"""The speed settings: the built-in benchmark's probe, compile caches, --eager, --paranoid."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from bisector.config import (BUILTIN_PROBE, DEFAULT_SCENARIO_ARGS, Config, ConfigOverrides,
                             load_config)
from bisector.errors import ConfigError
from bisector.score.compile_cache import cache_root, candidate_compile_env, torch_version


def _port(tmp_path: Path, toml: str = "") -> Path:
    repo = tmp_path / "port"
    (repo / "src" / "nbport").mkdir(parents=True)
    (repo / "src" / "nbport" / "__main__.py").write_text("")
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n' + toml)
    return repo


def _benchmark(args: str, extra: str = "") -> str:
    return f'[tool.bisector.scenarios.benchmark]\nargs = "{args}"\n{extra}'


def test_builtin_probe_is_the_middle_of_the_builtin_benchmark(tmp_path):
    cfg = load_config(_port(tmp_path))
    full, probe = cfg.scenarios["benchmark"].args, cfg.scenarios[BUILTIN_PROBE].args
    assert cfg.judge == ("benchmark",)
    # Only the detector size differs: same pixel size, distance and beam convention.
    assert [a for a in full if a not in probe] == ["4096"] and [a for a in probe if a not in full] == ["1024"]


def test_a_benchmark_with_the_builtin_physics_at_another_size_gets_the_probe(tmp_path):
    args = DEFAULT_SCENARIO_ARGS.replace("4096", "2048")
    cfg = load_config(_port(tmp_path, "[tool.bisector]\n" + _benchmark(args)))
    assert cfg.scenarios["benchmark"].probe == BUILTIN_PROBE
    assert cfg.scenarios[BUILTIN_PROBE].args == tuple(shlex.split(args.replace("2048", "1024")))


@pytest.mark.parametrize("toml", [
    _benchmark(DEFAULT_SCENARIO_ARGS.replace("4096", "512")),            # already small
    _benchmark(DEFAULT_SCENARIO_ARGS.replace("-N 5", "-N 7")),           # other physics
    _benchmark(DEFAULT_SCENARIO_ARGS + " -oversample 2"),                # other physics
    _benchmark(DEFAULT_SCENARIO_ARGS, 'probe = "mine"\n') + '[tool.bisector.scenarios.mine]\nargs = "-detpixels 8"\n',
    "default_probe = false\n",
])
def test_no_builtin_probe_where_it_would_not_be_the_same_physics(tmp_path, toml):
    cfg = load_config(_port(tmp_path, "[tool.bisector]\n" + toml))
    assert BUILTIN_PROBE not in cfg.scenarios


def test_speed_flags_from_config_and_command_line(tmp_path):
    repo = _port(tmp_path, "[tool.bisector]\neager = true\nparanoid = true\ncompile_cache = false\n")
    cfg = load_config(repo)
    assert (cfg.eager, cfg.paranoid, cfg.compile_cache) == (True, True, False)
    cfg = load_config(repo, overrides=ConfigOverrides(eager=False, paranoid=False))
    assert (cfg.eager, cfg.paranoid) == (False, False)
    assert Config.from_json(cfg.to_json()) == cfg
    with pytest.raises(ConfigError, match="eager .* must be true or false"):
        load_config(_port(tmp_path / "b", '[tool.bisector]\neager = "yes"\n'))


def test_compile_env_shares_caches_per_torch_version_unless_the_user_chose(tmp_path):
    cfg = load_config(_port(tmp_path), overrides=ConfigOverrides(cache_dir=str(tmp_path / "cache")))
    env = candidate_compile_env(cfg, environ={})
    root = tmp_path / "cache" / "compile" / f"torch-{torch_version()}"
    assert cache_root(cfg) == root
    assert env == {"TORCHINDUCTOR_CACHE_DIR": str(root / "inductor"), "TRITON_CACHE_DIR": str(root / "triton")}
    assert candidate_compile_env(cfg, environ={"TRITON_CACHE_DIR": "/mine"}) == {
        "TORCHINDUCTOR_CACHE_DIR": str(root / "inductor")}
    off = Config.from_json(cfg.to_json().replace('"compile_cache": true', '"compile_cache": false'))
    assert candidate_compile_env(off, environ={}) == {}
    eager = Config.from_json(cfg.to_json().replace('"eager": false', '"eager": true'))
    assert candidate_compile_env(eager, environ={})["TORCH_COMPILE_DISABLE"] == "1"
    assert "TORCH_COMPILE_DISABLE" not in candidate_compile_env(eager, environ={"TORCH_COMPILE_DISABLE": "0"})
