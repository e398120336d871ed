"""`bisector cache info|clear` cover every folder bisector writes: compile caches and the C twin too."""

from __future__ import annotations

from simkernel import cref

from bisector import cli


def _info(capsys) -> str:
    assert cli.main(["cache", "info"]) == 0
    return capsys.readouterr().out


def test_info_counts_and_clear_removes_the_twin_and_the_compile_caches(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    twin = cref.binary()  # a real build, into this test's private folder
    assert twin.is_relative_to(tmp_path)
    compiled = tmp_path / "xdg" / "bisector" / "compile" / "torch-2.13.0" / "inductor" / "fx"
    compiled.mkdir(parents=True)
    (compiled / "entry").write_bytes(b"x" * 5000)

    shown = _info(capsys)
    assert "1 built C programs" in shown
    assert "compile caches 0.0 MB (5,000 bytes)" in shown
    on_disk = sum(f.stat().st_size for root in (tmp_path / "xdg" / "bisector", twin.parent)
                  for f in root.rglob("*") if f.is_file())
    assert f"({on_disk:,} bytes)" in shown.split("size:")[1].split(";")[0]

    assert cli.main(["cache", "clear"]) == 0
    assert "removed 2 entries" in capsys.readouterr().out  # the twin build and one compile cache
    assert not twin.exists() and not compiled.exists()
    assert "0 built C programs" in _info(capsys)


def test_clearing_another_cache_folder_keeps_the_twin(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    twin = cref.binary()
    other = tmp_path / "other"
    (other / "compile" / "torch-x").mkdir(parents=True)
    assert cli.main(["cache", "clear", "--cache-dir", str(other)]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert twin.exists() and not (other / "compile" / "torch-x").exists()
