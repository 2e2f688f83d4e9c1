"""Loading EvalPlus-format files: the offline MBPP+ v0.1.0 copy, gzipped files, bad files, the release."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from wizardcoder.errors import UserError
from wizardcoder.eval.plus import data
from wizardcoder.eval.plus.data import argument_types, canonical_suite, load_plus_suite, read_tasks

MBPP_PLUS = Path(__file__).resolve().parents[4] / "shared" / "data" / "evalplus" / "MbppPlus-v0.1.0-raw.jsonl"
needs_mbpp_plus = pytest.mark.skipif(not MBPP_PLUS.is_file(), reason=f"{MBPP_PLUS} is not here")


def task_row(**over):
    row = {"task_id": "X/0", "prompt": "def f(a):\n", "entry_point": "f", "canonical_solution": "    return a\n",
           "base_input": [[1]], "plus_input": [[2], [3]], "atol": 0, "contract": ""}
    row.update(over)
    return row


def write(path: Path, rows, gz=False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


@needs_mbpp_plus
def test_the_offline_mbpp_plus_file_loads_with_evalplus_argument_types():
    suite = load_plus_suite("mbppplus", MBPP_PLUS)
    assert suite.name == "mbpp+" and suite.dataset == "mbpp" and len(suite.tasks) == 399
    assert suite.rules == "0.2" and "v0.1.0" in suite.rules_why
    by_id = {t.task_id: t for t in suite.tasks}
    assert by_id["Mbpp/2"].base_input[0] == [(3, 4, 5, 6), (5, 7, 4, 10)]  # tuples, not lists
    assert by_id["Mbpp/124"].base_input[0] == [0.0, 1j]  # float and complex from strings
    assert by_id["Mbpp/793"].plus_input == []  # stored as {} in v0.1.0
    assert all(type(a) is dict for a in by_id["Mbpp/115"].plus_input[0][0])  # evalplus's quirk: {} for non-lists
    assert by_id["Mbpp/2"].assertion and sum(len(t.plus_input) for t in suite.tasks) > 40_000


def test_gzipped_and_plain_files_read_the_same(tmp_path):
    rows = [task_row(), task_row(task_id="X/1", atol=1e-4)]
    a = read_tasks(write(tmp_path / "a.jsonl", rows), "humaneval")
    b = read_tasks(write(tmp_path / "b.jsonl.gz", rows, gz=True), "humaneval")
    assert a == b and a[1].atol == 1e-4 and a[0].reference_code == "def f(a):\n    return a\n"


@pytest.mark.parametrize(("row", "message"), [
    ({"task_id": "X/0"}, r"missing key\(s\) prompt, entry_point"),
    (task_row(base_input=[1, 2]), "base_input must be a list of argument lists"),
    (task_row(atol=-1), "atol must be a number >= 0"),
    ([1, 2], "a JSON object was expected"),
])
def test_a_bad_task_is_named_by_file_line_and_key(tmp_path, row, message):
    path = write(tmp_path / "bad.jsonl", [task_row(task_id="X/ok"), row])
    with pytest.raises(UserError, match=message) as err:
        read_tasks(path, "humaneval")
    assert f"{path}:2" in str(err.value)


def test_bad_files_fail_clearly(tmp_path):
    with pytest.raises(UserError, match="--suite-file .*no such file"):
        read_tasks(tmp_path / "missing.jsonl", "mbpp")
    (tmp_path / "junk.jsonl").write_text("{not json\n")
    with pytest.raises(UserError, match=r"junk.jsonl:1: not JSON"):
        read_tasks(tmp_path / "junk.jsonl", "mbpp")
    write(tmp_path / "dup.jsonl", [task_row(), task_row()])
    with pytest.raises(UserError, match="appears twice"):
        read_tasks(tmp_path / "dup.jsonl", "mbpp")
    (tmp_path / "notgz.jsonl.gz").write_text("plain")
    with pytest.raises(UserError, match="cannot be read"):
        read_tasks(tmp_path / "notgz.jsonl.gz", "mbpp")


def test_suite_names_and_aliases():
    assert canonical_suite("HumanEvalPlus") == "humaneval+" and canonical_suite("mbpp+") == "mbpp+"
    assert canonical_suite("humaneval") is None
    with pytest.raises(UserError, match="humaneval\\+ or mbpp\\+"):
        load_plus_suite("mbpp")


def test_offline_the_release_download_fails_naming_suite_file(tmp_path, monkeypatch):
    # a port nothing listens on: the download fails the way it does without a network
    monkeypatch.setitem(data.RELEASES, "humaneval+", ("v9", "http://127.0.0.1:9/HumanEvalPlus.jsonl.gz"))
    with pytest.raises(UserError) as err:
        load_plus_suite("humaneval+", cache_dir=tmp_path)
    assert "--suite-file PATH" in str(err.value) and "HumanEvalPlus.jsonl.gz" in str(err.value)
    assert not list(tmp_path.iterdir())  # no partial file left behind


def test_a_release_file_already_in_the_cache_is_used_without_network(tmp_path, monkeypatch):
    monkeypatch.setitem(data.RELEASES, "humaneval+", ("v9", "http://127.0.0.1:9/HumanEvalPlus.jsonl.gz"))
    write(tmp_path / "humanevalplus-v9.jsonl.gz", [task_row()], gz=True)
    suite = load_plus_suite("humaneval+", cache_dir=tmp_path)
    assert suite.rules == "0.3" and suite.source.endswith("humanevalplus-v9.jsonl.gz")


def test_rules_can_be_chosen_and_are_checked(tmp_path):
    path = write(tmp_path / "a.jsonl", [task_row()])
    assert load_plus_suite("humaneval+", path, rules="0.2").rules == "0.2"
    assert load_plus_suite("mbpp+", path).rules == "0.3"  # not the 399-task v0.1.0 format
    with pytest.raises(UserError, match="auto, 0.2 or 0.3"):
        load_plus_suite("mbpp+", path, rules="0.4")


def test_argument_types_rebuild_only_the_listed_arguments():
    assert argument_types("Mbpp/106")([[1], [2, 3]]) == [[1], (2, 3)]
    assert argument_types("Mbpp/580")([[1, [2, [3]]]]) == [(1, (2, (3,)))]
    assert argument_types("Mbpp/722")([{"a": [1, 2]}, 5]) == [{"a": (1, 2)}, 5]
    assert argument_types("Mbpp/1") is None and argument_types("HumanEval/3") is None
