"""Append-only stores survive a kill mid-write: a torn last line is skipped when read, cut before appending."""

from __future__ import annotations

import json

from wizardcoder.data.store import AtomicJsonlWriter, JsonlStore, read_jsonl, truncate, write_json_atomic


def test_a_torn_last_line_is_skipped_then_cut_before_appending(tmp_path):
    path = tmp_path / "rows.jsonl"
    with JsonlStore(path) as store:
        store.append({"key": "a"})
        store.append({"key": "b"})
    with open(path, "a") as fh:
        fh.write('{"key": "c", "text": "half a li')  # the process died here
    assert [r["key"] for r in read_jsonl(path)] == ["a", "b"]
    with JsonlStore(path) as store:
        store.append({"key": "c"})
    assert [r["key"] for r in read_jsonl(path)] == ["a", "b", "c"]
    assert path.read_text().count("\n") == 3


def test_a_file_that_is_one_torn_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"key": ')
    assert list(read_jsonl(path)) == []
    with JsonlStore(path) as store:
        store.append({"key": "x"})
    assert path.read_text() == '{"key": "x"}\n'


def test_missing_file_reads_empty(tmp_path):
    assert list(read_jsonl(tmp_path / "none.jsonl")) == []


def test_truncate_undoes_appends(tmp_path):
    path = tmp_path / "records.jsonl"
    with JsonlStore(path) as store:
        store.append({"n": 1})
    size = path.stat().st_size
    with JsonlStore(path) as store:
        store.append({"n": 2})
    truncate(path, size)
    assert [r["n"] for r in read_jsonl(path)] == [1]


def test_atomic_writers_leave_nothing_half_written(tmp_path):
    target = tmp_path / "pool.jsonl"
    writer = AtomicJsonlWriter(target)
    writer.write({"id": 1})
    assert not target.exists()  # not visible until committed
    writer.abort()
    assert not target.exists() and not list(tmp_path.iterdir())
    writer = AtomicJsonlWriter(target)
    writer.write({"id": 1})
    writer.commit()
    assert list(read_jsonl(target)) == [{"id": 1}]
    write_json_atomic(tmp_path / "m.json", {"done": True})
    assert json.loads((tmp_path / "m.json").read_text()) == {"done": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "pool.jsonl"]
