"""Data side of training: loading with field names, response-only labels, packing."""

from __future__ import annotations

import json

import pytest

from tests.train.conftest import make_records
from wizardcoder.errors import UserError
from wizardcoder.train import data as D


def test_load_jsonl_and_saved_dataset_dir(tmp_path, data_jsonl):
    import datasets

    recs = D.load_records(data_jsonl)
    assert len(recs) == 48 and set(recs[0]) == {"instruction", "response"}
    # a saved HF dataset with other field names, found through the aliases
    ds = datasets.Dataset.from_list([{"prompt": r["instruction"], "completion": r["output"]} for r in make_records(5)])
    ds.save_to_disk(str(tmp_path / "ds"))
    recs2 = D.load_records(tmp_path / "ds")
    assert recs2[0]["instruction"] == make_records(5)[0]["instruction"]
    assert recs2[0]["response"] == make_records(5)[0]["output"]


def test_missing_field_names_file_field_and_key(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"instruction": "x", "code": "y"}) + "\n")
    with pytest.raises(UserError) as err:
        D.load_records(bad)
    msg = str(err.value)
    assert str(bad) in msg and "'output'" in msg and "data.response_field" in msg
    # an explicitly named field that is missing is an error too (no silent alias)
    with pytest.raises(UserError, match="data.instruction_field"):
        D.load_records(bad, instruction_field="question")
    assert D.load_records(bad, response_field="code")[0]["response"] == "y"


def test_input_field_is_appended_when_present(tmp_path):
    path = tmp_path / "alpaca.jsonl"
    path.write_text(json.dumps({"instruction": "Fix the bug.", "input": "def f(): retur 1", "output": "x"}) + "\n"
                    + json.dumps({"instruction": "Say hi.", "input": "", "output": "hi"}) + "\n")
    recs = D.load_records(path)
    assert recs[0]["instruction"] == "Fix the bug.\n\ndef f(): retur 1"
    assert recs[1]["instruction"] == "Say hi."
    assert D.load_records(path, input_field="")[0]["instruction"] == "Fix the bug."


def test_bad_jsonl_line_is_named(tmp_path):
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\n{not json\n')
    with pytest.raises(UserError, match=r"broken.jsonl:2"):
        D.load_records(bad)


def test_labels_are_response_only(tiny_model_dir):
    from wizardcoder.data.template import render_prompt
    from wizardcoder.train.model import load_tokenizer

    tok = load_tokenizer(tiny_model_dir)
    recs = [{"instruction": "Write a function to sum list.", "response": "def f(x):\n    return sum"},
            {"instruction": "Write a function to sort.", "response": "def g(x):\n    return sort"}]
    exs, stats = D.tokenize_records(recs, tok, max_seq_len=512)
    prompt_ids = tok(render_prompt(recs[0]["instruction"]))["input_ids"]
    assert exs[0].input_ids[: exs[0].n_prompt] == prompt_ids  # the prompt exactly as at inference
    assert exs[0].input_ids[-1] == tok.eos_token_id
    assert stats.label_tokens == sum(len(e) - e.n_prompt for e in exs)
    for packing in (True, False):
        batch = D.Collator(tok.pad_token_id, packing=packing)([[exs[0]], [exs[1]]])
        for r, ex in enumerate(exs):
            labels = batch["labels"][r].tolist()
            assert labels[: ex.n_prompt] == [-100] * ex.n_prompt
            assert labels[ex.n_prompt: len(ex)] == ex.input_ids[ex.n_prompt:]
            assert set(labels[len(ex):]) <= {-100}  # padding
            assert (batch["input_ids"][r, len(ex):] == tok.pad_token_id).all()
        assert ("attention_mask" in batch) == (not packing)
    packed = D.Collator(tok.pad_token_id)([[exs[0], exs[1]]])
    pos = packed["position_ids"][0].tolist()
    assert pos[: len(exs[0])] == list(range(len(exs[0])))
    assert pos[len(exs[0]): len(exs[0]) + len(exs[1])] == list(range(len(exs[1])))


def test_truncation_and_too_long(tiny_model_dir):
    from wizardcoder.train.model import load_tokenizer

    tok = load_tokenizer(tiny_model_dir)
    recs = [{"instruction": "sum", "response": " ".join(["return"] * 200)},
            {"instruction": " ".join(["sort"] * 300), "response": "x"}]
    exs, stats = D.tokenize_records(recs, tok, max_seq_len=64)
    assert stats.truncated == 1 and stats.dropped_too_long == 1 and len(exs) == 1
    assert len(exs[0]) == 64


def test_pack_respects_capacity_and_uses_each_example_once():
    exs = [D.Example(list(range(n)), 1) for n in (5, 9, 3, 7, 1, 10, 2, 8, 6, 4)]
    rows = D.pack(exs, capacity=12)
    flat = sorted(i for row in rows for i in row)
    assert flat == list(range(len(exs)))
    assert all(sum(len(exs[i]) for i in row) <= 12 for row in rows)
    assert len(rows) == 5  # 55 tokens: 5 rows is optimal for capacity 12
    b1 = D.epoch_batches(len(rows), 2, seed=1, epoch=0)
    assert b1 == D.epoch_batches(len(rows), 2, seed=1, epoch=0)
    assert b1 != D.epoch_batches(len(rows), 2, seed=1, epoch=1)
    assert sorted(r for b in b1 for r in b) == list(range(len(rows)))
    # an example longer than a row (data.pack_len < data.max_seq_len) gets a row of its own
    rows = D.pack(exs + [D.Example(list(range(20)), 1)], capacity=12)
    assert [10] in rows and all(sum(len((exs + [None])[i]) for i in row) <= 12 for row in rows if row != [10])


def test_loss_index_marks_the_label_positions():
    exs = [D.Example(list(range(10, 16)), 2), D.Example(list(range(20, 24)), 3)]
    batch = D.Collator(pad_id=0, loss_index=True)([exs])
    flat = batch["labels"][:, 1:].reshape(-1)
    assert batch["loss_index"].tolist() == (flat != -100).nonzero().squeeze(1).tolist()
    assert len(batch["loss_index"]) == (6 - 2) + (4 - 3)


def test_content_fingerprint_follows_the_contents(tmp_path, data_jsonl):
    import os
    import shutil

    from wizardcoder.config import load_config
    from wizardcoder.train import TrainConfig
    from wizardcoder.train.rundir import run_dir_for

    path = tmp_path / "train.jsonl"
    shutil.copy(data_jsonl, path)
    st = path.stat()
    before = D.content_fingerprint(path)
    cfg = load_config(TrainConfig, None, [f"data.path={path}"])
    dir_before = run_dir_for(cfg)
    # same size, same mtime, one byte changed: the old size/mtime key could not tell
    text = path.read_text()
    path.write_text(text.replace("sum", "mus", 1))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    assert D.content_fingerprint(path) != before
    assert run_dir_for(cfg) != dir_before
    path.write_text(text)
    assert D.content_fingerprint(path) == before and run_dir_for(cfg) == dir_before
    # a dataset directory: every file's contents and name count
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "a.arrow").write_bytes(b"x" * 5000)
    (ds / "state.json").write_text("{}")
    fp = D.content_fingerprint(ds)
    assert fp == D.content_fingerprint(ds)
    (ds / "a.arrow").write_bytes(b"x" * 4999 + b"y")
    assert D.content_fingerprint(ds) != fp
    (ds / "a.arrow").write_bytes(b"x" * 5000)
    (ds / "a.arrow").rename(ds / "b.arrow")
    assert D.content_fingerprint(ds) != fp


def test_the_loss_plot_is_skipped_with_a_warning_without_matplotlib(tmp_path, monkeypatch, caplog):
    """A bare GPU image has torch and transformers but maybe no matplotlib: the run must still finish."""
    import logging
    import sys

    from wizardcoder.train.metrics import plot_losses

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # not installed
    with caplog.at_level(logging.WARNING, logger="wizardcoder"):
        plot_losses([{"step": 1, "loss": 2.0}], [], tmp_path / "loss.png")
    assert not (tmp_path / "loss.png").exists() and "matplotlib is not installed" in caplog.text
