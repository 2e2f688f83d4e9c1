"""write_dataset: JSONL + HF dataset on disk, round trip through datasets.load_from_disk."""

from __future__ import annotations

import json

import datasets
import pytest

from wizardcoder.data.dataset_writer import FIELDS, fenced, write_dataset
from wizardcoder.errors import UserError

RECORDS = [
    {"id": "seed-1", "seed_id": "seed-1", "round": 0, "method": None, "parent_id": None, "language": "python",
     "instruction": "Add two numbers.", "solution": "def add(a, b):\n    return a + b\n",
     "tests": "assert add(1, 2) == 3", "entry_point": "add", "verdict": "seed"},
    {"id": "seed-1-r1", "seed_id": "seed-1", "round": 1, "method": "constraints", "parent_id": "seed-1",
     "language": "cpp", "instruction": "Add two 64-bit integers, detecting overflow.",
     "solution": "#include <cstdint>\nbool add(int64_t a, int64_t b, int64_t* out) {\n"
                 "    return !__builtin_add_overflow(a, b, out);\n}\n",
     "tests": "int main() { int64_t r; assert(add(1, 2, &r) && r == 3); }"},
    {"id": "seed-2", "language": "java", "instruction": "Reverse a string.",
     "output": "```java\nclass S { static String r(String s) { return new StringBuilder(s).reverse().toString(); } }\n```"},
]


def test_round_trip(tmp_path):
    stats = write_dataset(iter(RECORDS), tmp_path / "out")
    assert stats["records"] == 3
    assert stats["by_language"] == {"cpp": 1, "java": 1, "python": 1}
    assert stats["by_round"] == {"0": 2, "1": 1}
    ds = datasets.load_from_disk(stats["dataset_path"])
    assert ds.num_rows == 3 and ds.column_names == list(FIELDS)
    rows = list(ds)
    assert rows[0]["output"] == "```python\ndef add(a, b):\n    return a + b\n```"
    assert rows[0]["method"] == "seed" and rows[0]["parent_id"] is None and rows[0]["round"] == 0
    assert rows[1]["output"].startswith("```cpp\n#include <cstdint>") and rows[1]["parent_id"] == "seed-1"
    assert rows[2]["output"] == RECORDS[2]["output"] and rows[2]["seed_id"] == "seed-2"
    with open(stats["jsonl_path"]) as fh:
        lines = [json.loads(line) for line in fh]
    assert lines == rows


def test_rewrite_replaces_the_previous_dataset(tmp_path):
    write_dataset(RECORDS, tmp_path)
    stats = write_dataset(RECORDS[:1], tmp_path)
    assert datasets.load_from_disk(stats["dataset_path"]).num_rows == 1
    assert not (tmp_path / ".dataset_cache").exists()


def test_empty_dataset(tmp_path):
    stats = write_dataset([], tmp_path)
    ds = datasets.load_from_disk(stats["dataset_path"])
    assert ds.num_rows == 0 and ds.column_names == list(FIELDS)


@pytest.mark.parametrize("bad, message", [
    ({"language": "python", "instruction": "x", "solution": "y"}, "without an 'id'"),
    ({"id": "a", "language": "python", "instruction": "", "solution": "y"}, "'instruction'"),
    ({"id": "a", "language": "python", "instruction": "x"}, "needs an 'output' or a 'solution'"),
])
def test_bad_records_name_the_problem(tmp_path, bad, message):
    with pytest.raises(UserError, match=message):
        write_dataset([bad], tmp_path)


def test_duplicate_ids_are_refused(tmp_path):
    with pytest.raises(UserError, match="appears twice"):
        write_dataset([RECORDS[0], RECORDS[0]], tmp_path)


def test_fence_grows_when_the_code_holds_one():
    code = 'DOC = """\n```python\nx = 1\n```\n"""\n'
    block = fenced(code, "python")
    assert block.startswith("````python\n") and block.endswith("\n````")
