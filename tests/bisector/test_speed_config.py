"""The speed settings: the built-in benchmark's probe, compile caches, --eager, --paranoid."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from bisector.config import (BUILTIN_PROBE, DEFAULT_SCENARIO_ARGS, Config, ConfigOverrides,
                             load_config)
from bisector.errors import ConfigError
from bisector.score import vec_isa
from bisector.score.compile_cache import cache_root, candidate_compile_env, isa_check_env, torch_version


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


def _tree(path: Path, text: str) -> Path:
    (path / "pkg").mkdir(parents=True)
    (path / "pkg" / "kernel.py").write_text(text)
    (path / "README.md").write_text("we might try torch.compile one day\n")
    return path


def test_the_vector_set_switch_goes_to_compiling_candidates_as_the_stored_answer_says(tmp_path):
    compiling = _tree(tmp_path / "compiling", "import torch\nrender = torch.compile(render)\n")
    plain = _tree(tmp_path / "plain", "import torch\n")
    (plain / ".venv" / "lib").mkdir(parents=True)  # hidden folders are not the port's sources
    (plain / ".venv" / "lib" / "inductor.py").write_text("torch.compile\n")
    assert vec_isa.uses_torch_compile(compiling) and not vec_isa.uses_torch_compile(plain)

    env = {"PATH": "/usr/bin:/bin"}
    cfg = load_config(_port(tmp_path), overrides=ConfigOverrides(cache_dir=str(tmp_path / "cache")))
    folder, logs = cache_root(cfg), tmp_path / "logs"
    logs.mkdir()
    for answer in (True, False):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "vec-isa.json").write_text(json.dumps({vec_isa.machine_key(env): answer}))
        expected = {"TORCHINDUCTOR_VEC_ISA_OK": "1"} if answer else {}
        assert isa_check_env(cfg, env, compiling, logs) == expected
    assert list(logs.iterdir()) == []  # a stored answer runs no check
    # Another compiler is another machine: its answer is not the stored one.
    assert vec_isa.machine_key({**env, "CXX": "clang++"}) != vec_isa.machine_key(env)

    (folder / "vec-isa.json").write_text(json.dumps({vec_isa.machine_key(env): True}))
    assert isa_check_env(cfg, env, plain, logs) == {}  # compiles nothing: needs no switch
    assert isa_check_env(cfg, {**env, "TORCHINDUCTOR_VEC_ISA_OK": "0"}, compiling, logs) == {}  # the user's
    assert isa_check_env(cfg, {**env, "TORCH_COMPILE_DISABLE": "1"}, compiling, logs) == {}
    shared_off = Config.from_json(cfg.to_json().replace('"compile_cache": true', '"compile_cache": false'))
    assert isa_check_env(shared_off, env, compiling, logs) == {}
