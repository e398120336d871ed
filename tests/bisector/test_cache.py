"""The cache: round trips, damaged entries are recomputed, concurrent writers, atomic files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import numpy as np

from bisector.files import atomic_write
from bisector.store.cache import Cache

ARGS = ("-default_F", "100", "-detpixels", "8")


def test_reference_round_trip_and_keys(tmp_path):
    cache = Cache(tmp_path)
    image = np.arange(64, dtype=np.float32).reshape(8, 8)
    assert cache.get_reference("c-abc", ARGS) is None
    cache.put_reference("c-abc", ARGS, image)
    again = Cache(tmp_path).get_reference("c-abc", ARGS)
    assert again.dtype == np.float32 and np.array_equal(again, image)
    assert cache.get_reference("c-abd", ARGS) is None
    assert cache.get_reference("c-abc", ARGS + ("-N", "5")) is None


def test_damaged_image_file_is_a_miss(tmp_path):
    cache = Cache(tmp_path)
    cache.put_reference("k", ARGS, np.ones((8, 8)))
    (npy,) = (tmp_path / "images").glob("*.npy")
    data = npy.read_bytes()
    npy.write_bytes(data[: len(data) // 2])  # truncated
    assert cache.get_reference("k", ARGS) is None
    cache.put_reference("k", ARGS, np.ones((8, 8)))
    npy.write_bytes(data[:-8] + b"\x00" * 8)  # same size, flipped values: caught by the checksum
    assert cache.get_reference("k", ARGS) is None
    cache.put_reference("k", ARGS, np.ones((8, 8)))
    npy.unlink()
    assert cache.get_reference("k", ARGS) is None


def test_score_round_trip_and_bad_json_row(tmp_path):
    cache = Cache(tmp_path)
    parts = {"trees": {"src": "abc"}, "args": list(ARGS)}
    cache.put_score(parts, {"status": "measured", "metrics": {"correlation": 0.5}})
    assert cache.get_score(dict(reversed(list(parts.items()))))["metrics"]["correlation"] == 0.5
    with sqlite3.connect(tmp_path / "cache.sqlite3") as conn:
        conn.execute("UPDATE scores SET payload = ?", ('{"status": "meas',))
    assert cache.get_score(parts) is None
    cache.put_score(parts, {"status": "skip"})
    assert cache.get_score(parts) == {"status": "skip"}


def test_database_that_is_not_a_database_is_replaced(tmp_path):
    (tmp_path / "cache.sqlite3").write_bytes(b"this is not sqlite" * 100)
    cache = Cache(tmp_path)
    assert cache.get_score({"a": 1}) is None
    cache.put_score({"a": 1}, {"status": "skip"})
    assert Cache(tmp_path).get_score({"a": 1}) == {"status": "skip"}
    assert list(tmp_path.glob("cache.sqlite3.corrupt-*"))


def test_two_processes_write_concurrently(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        from bisector.store.cache import Cache
        cache = Cache({str(tmp_path)!r})
        who = sys.argv[1]
        for i in range(150):
            cache.put_score({{"who": who, "i": i}}, {{"status": "measured", "i": i}})
            if i % 30 == 0:
                cache.put_reference("ref", (who, str(i)), np.full((4, 4), i, dtype=np.float32))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, who], stderr=subprocess.PIPE)
             for who in ("a", "b")]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    cache = Cache(tmp_path)
    for who in ("a", "b"):
        assert all(cache.get_score({"who": who, "i": i}) == {"status": "measured", "i": i} for i in range(150))
        assert cache.get_reference("ref", (who, "120"))[0, 0] == 120


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "sub" / "file.bin"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["file.bin"]


def test_images_are_stored_as_float32_only_when_that_is_exact(tmp_path):
    cache = Cache(tmp_path)
    exact = np.arange(64, dtype=np.float64).reshape(8, 8) / 4  # quarters: exact in float32
    cache.put_reference("exact", ARGS, exact)
    stored = cache.get_reference("exact", ARGS)
    assert stored.dtype == np.float32 and np.array_equal(stored.astype(np.float64), exact)
    inexact = exact + 1e-9
    cache.put_reference("inexact", ARGS, inexact)
    assert np.array_equal(cache.get_reference("inexact", ARGS), inexact)
    sizes = sorted(p.stat().st_size for p in (tmp_path / "images").glob("*.npy"))
    assert sizes[1] - 128 == 2 * (sizes[0] - 128)  # npy header of 128 bytes, then half the data


def test_a_cache_path_that_is_a_file_degrades_with_a_notice(tmp_path):
    (tmp_path / "cache").write_text("a file")
    cache = Cache(tmp_path / "cache")
    assert "cannot be used" in cache.notice
    cache.put_reference("k", ARGS, np.ones((8, 8)))
    cache.put_score({"a": 1}, {"status": "skip"})
    assert cache.get_reference("k", ARGS) is None and cache.get_score({"a": 1}) is None
    assert (tmp_path / "cache").read_text() == "a file"
