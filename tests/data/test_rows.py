"""The one reader of user rows (seeds, training data, eval suites): every format, and errors that name the
file and line, or the setting, and the fix."""

from __future__ import annotations

import gzip
import json

import pytest

from wizardcoder.data.rows import read_rows
from wizardcoder.errors import UserError

ROWS = [{"instruction": "Reverse a string.", "output": "s[::-1]"}, {"instruction": "Add two numbers.", "output": "a+b"}]


def _read(source, **kwargs):
    return [(row.where, dict(row)) for row in read_rows(source, **kwargs)]


def _jsonl(rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_jsonl_plain_and_gzipped_name_each_line(tmp_path):
    plain = tmp_path / "a.jsonl"
    plain.write_text(json.dumps(ROWS[0]) + "\n\n" + json.dumps(ROWS[1]) + "\n")
    assert _read(plain) == [(f"{plain}:1", ROWS[0]), (f"{plain}:3", ROWS[1])]
    packed = tmp_path / "a.jsonl.gz"
    with gzip.open(packed, "wt") as fh:
        fh.write(_jsonl(ROWS))
    assert _read(packed) == [(f"{packed}:1", ROWS[0]), (f"{packed}:2", ROWS[1])]


@pytest.mark.parametrize("text", [
    json.dumps(ROWS, indent=2),  # a list of objects
    json.dumps({"data": ROWS, "version": 1}),  # an object holding one list of objects
    _jsonl(ROWS),  # JSON lines in a file named .json
])
def test_json_shapes(tmp_path, text):
    path = tmp_path / "a.json"
    path.write_text(text)
    assert [row for _, row in _read(path)] == ROWS


def test_json_single_object_gzip_and_an_array_in_a_jsonl_file(tmp_path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"name": "p", "stop_tokens": ["\n}"]}))
    assert _read(one) == [(f"{one}[0]", {"name": "p", "stop_tokens": ["\n}"]})]
    packed = tmp_path / "a.json.gz"
    with gzip.open(packed, "wt") as fh:
        fh.write(json.dumps(ROWS))
    assert _read(packed) == [(f"{packed}[0]", ROWS[0]), (f"{packed}[1]", ROWS[1])]
    array = tmp_path / "array.jsonl"
    array.write_text("\n  " + json.dumps(ROWS))
    assert [row for _, row in _read(array)] == ROWS


def test_csv_and_parquet(tmp_path):
    import datasets

    csv = tmp_path / "a.csv"
    csv.write_text("instruction,output\nReverse a string.,s[::-1]\nAdd two numbers.,a+b\n")
    assert _read(csv) == [(f"{csv}[0]", ROWS[0]), (f"{csv}[1]", ROWS[1])]
    parquet = tmp_path / "a.parquet"
    datasets.Dataset.from_list(ROWS).to_parquet(str(parquet))
    assert [row for _, row in _read(parquet)] == ROWS


def test_saved_datasets_run_directories_and_one_jsonl_folders(tmp_path):
    import datasets

    datasets.Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "plain"))
    assert _read(tmp_path / "plain")[1] == (f"{tmp_path / 'plain'}[1]", ROWS[1])
    splits = datasets.DatasetDict({"test": datasets.Dataset.from_list(ROWS[:1]),
                                   "train": datasets.Dataset.from_list(ROWS)})
    splits.save_to_disk(str(tmp_path / "run" / "dataset"))  # an evolve run directory holds one
    assert len(_read(tmp_path / "run")) == 2  # no split asked: "train"
    assert [row for _, row in _read(tmp_path / "run" / "dataset", split="test")] == ROWS[:1]
    with pytest.raises(UserError, match=r"no split 'dev'; it has test, train \(set seeds.split\)"):
        _read(tmp_path / "run", split="dev", split_setting="seeds.split")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "only.jsonl").write_text(_jsonl(ROWS))
    assert _read(tmp_path / "folder")[0] == (f"{tmp_path / 'folder' / 'only.jsonl'}:1", ROWS[0])


def test_a_bad_jsonl_line_is_named_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n\n{not json\n" + json.dumps(ROWS[1]) + "\n")
    with pytest.raises(UserError, match=r"bad.jsonl:3: not valid JSON \(.* at column 2\)"):
        _read(path)
    path.write_text(json.dumps(ROWS[0]) + "\n[1, 2]\n")
    with pytest.raises(UserError, match=r"bad.jsonl:2: expected an object .* got list; write one JSON object per line"):
        _read(path)


def test_a_bad_json_document_is_named_file_and_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n  {"instruction": "a"},\n  {"instruction": }\n]\n')
    with pytest.raises(UserError, match=r"bad.json:3: not valid JSON"):
        _read(path)
    path.write_text(json.dumps({"train": ROWS, "test": ROWS}))
    with pytest.raises(UserError, match=r"bad.json: an object holding several lists of records \('train', 'test'\); "
                                        "keep one list"):
        _read(path)


def test_a_missing_file_names_it_and_the_fix(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(UserError, match=r"seed file not found: .*nope.jsonl \(no such file or directory\); "
                                        r"set seeds.path"):
        _read(missing, what="seed file", fix="set seeds.path / --seeds", hub=True)
    # a name shaped like a hub dataset is still a missing file where the caller reads no hub
    with pytest.raises(UserError, match="training data not found: owner/name"):
        _read("owner/name", what="training data")


def test_an_unknown_format_lists_the_supported_ones(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(UserError) as err:
        _read(path, what="seed file")
    message = str(err.value)
    assert f"{path}: unknown seed file type '.txt'" in message
    assert ".jsonl, .json (either also .gz), .csv, .parquet, a save_to_disk directory" in message
    assert "hub" not in message
    with pytest.raises(UserError, match="or a hub dataset name"):
        _read(path, hub=True)


def test_a_folder_that_is_no_dataset_and_a_malformed_csv_say_so(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"empty: a directory, but not one written by datasets' save_to_disk .*; "
                                        "pass --data"):
        _read(tmp_path / "empty", fix="pass --data")
    bad = tmp_path / "bad.csv"
    bad.write_text('instruction,output\n"never closed,x\n')
    with pytest.raises(UserError, match=r"bad.csv: not a readable CSV file: ParserError"):
        _read(bad)
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(UserError, match=r"bad.parquet: not a readable Parquet file: ArrowInvalid"):
        _read(bad)


def test_a_hub_name_that_cannot_load_says_what_to_do(hub_offline):
    with pytest.raises(UserError, match=r"'no-such-owner/no-such-data:cfg' is no local file or directory, and the hub "
                                        r"could not load it \(split 'test'\): .*save_to_disk or export JSONL.*; "
                                        "set suite.name"):
        _read("no-such-owner/no-such-data:cfg", split="test", hub=True, fix="set suite.name")
