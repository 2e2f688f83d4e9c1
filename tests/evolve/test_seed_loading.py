"""Seeds from JSONL / JSON / CSV / a save_to_disk directory / the built-in set, with field mapping and
errors that name the file, the line and the key."""

from __future__ import annotations

import json

import pytest

from wizardcoder.errors import UserError
from wizardcoder.evolve.config import SeedsConfig
from wizardcoder.evolve.seed_loader import load_seeds

ALPACA = [
    {"instruction": "Write a function that reverses a string.", "input": "", "output": "def r(s): return s[::-1]"},
    {"instruction": "Sum the numbers in a list.", "input": "[1, 2, 3]", "output": "sum(x)", "source": "alpaca"},
]


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_builtin_seed_set_is_the_default():
    seeds = list(load_seeds(SeedsConfig(limit=3)))
    assert [s.index for s in seeds] == [0, 1, 2]
    assert all(s.id.startswith("wc-seed-") and s.tests and s.entry_point and s.output for s in seeds)
    assert seeds[0].meta.keys() == {"topic", "difficulty"}
    assert len(list(load_seeds(SeedsConfig(limit=None)))) >= 100


def test_code_alpaca_jsonl(tmp_path):
    path = _jsonl(tmp_path / "alpaca.jsonl", ALPACA)
    seeds = list(load_seeds(SeedsConfig(path=str(path), limit=None)))
    assert [s.id for s in seeds] == ["seed-000000", "seed-000001"]
    assert seeds[1].full_instruction == "Sum the numbers in a list.\n\nInput: [1, 2, 3]"
    assert seeds[1].meta == {"source": "alpaca"} and seeds[0].output == "def r(s): return s[::-1]"
    record = seeds[1].to_record("python")
    assert (record.round, record.parent_id, record.seed_id, record.verdict) == (0, None, "seed-000001", "seed")


def test_json_list_and_csv_and_limit(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"data": ALPACA}))
    assert len(list(load_seeds(SeedsConfig(path=str(tmp_path / "a.json"), limit=None)))) == 2
    (tmp_path / "a.csv").write_text("instruction,input,output\nDo one thing.,,x\nDo another.,,y\n")
    seeds = list(load_seeds(SeedsConfig(path=str(tmp_path / "a.csv"), limit=1)))
    assert [s.instruction for s in seeds] == ["Do one thing."]


def test_a_saved_dataset_directory_with_mapped_fields(tmp_path):
    from datasets import Dataset, DatasetDict

    rows = {"prompt": ["Count vowels in a word.", "Check a palindrome."], "completion": ["c", "p"],
            "task_id": ["t1", "t2"]}
    DatasetDict({"train": Dataset.from_dict(rows)}).save_to_disk(str(tmp_path / "ds"))
    cfg = SeedsConfig(path=str(tmp_path / "ds"), limit=None,
                      fields={"instruction": "prompt", "output": "completion", "id": "task_id"})
    seeds = list(load_seeds(cfg))
    assert [(s.id, s.instruction, s.output) for s in seeds] == [
        ("t1", "Count vowels in a word.", "c"), ("t2", "Check a palindrome.", "p")]
    with pytest.raises(UserError, match="no split 'test'"):
        list(load_seeds(SeedsConfig(path=str(tmp_path / "ds"), split="test", fields=cfg.fields)))


def test_a_missing_key_names_the_file_line_and_key(tmp_path):
    path = tmp_path / "seeds.jsonl"
    path.write_text(json.dumps(ALPACA[0]) + "\n\n" + json.dumps({"prompt": "x y z"}) + "\n")
    with pytest.raises(UserError) as err:
        list(load_seeds(SeedsConfig(path=str(path), limit=None)))
    message = str(err.value)
    assert f"{path}:3" in message and "'instruction'" in message and "prompt" in message
    assert "seeds.fields.instruction" in message


def test_bad_json_names_the_line(tmp_path):
    path = tmp_path / "seeds.jsonl"
    path.write_text(json.dumps(ALPACA[0]) + "\n{not json\n")
    with pytest.raises(UserError, match=r"seeds.jsonl:2: not valid JSON"):
        list(load_seeds(SeedsConfig(path=str(path))))


def test_duplicate_ids_and_missing_files(tmp_path):
    path = _jsonl(tmp_path / "dup.jsonl", [{"id": "a", "instruction": "x y"}, {"id": "a", "instruction": "z w"}])
    with pytest.raises(UserError, match=r"dup.jsonl:2: duplicate seed id 'a'"):
        list(load_seeds(SeedsConfig(path=str(path))))
    with pytest.raises(UserError, match="seed file not found"):
        list(load_seeds(SeedsConfig(path=str(tmp_path / "nope.jsonl"))))
    with pytest.raises(UserError, match="unknown seed file type"):
        (tmp_path / "x.txt").write_text("hi")
        list(load_seeds(SeedsConfig(path=str(tmp_path / "x.txt"))))


def test_an_unknown_field_mapping_key_is_a_config_error():
    with pytest.raises(ValueError, match="did you mean instruction"):
        SeedsConfig(fields={"instrucion": "prompt"})


def test_a_hub_name_that_cannot_load_says_what_to_do(hub_offline):
    with pytest.raises(UserError, match="save_to_disk or export JSONL"):
        list(load_seeds(SeedsConfig(path="no-such-owner/no-such-dataset-xyz")))
