import gzip
import json

import pytest

from wizardcoder.errors import UserError
from wizardcoder.eval.problems import (
    HUMANEVAL_STOP,
    KNOWN_BROKEN,
    entry_point_of,
    find_data_file,
    humaneval_data_file,
    load_suite,
)


@pytest.mark.parametrize("suite,count,language", [
    ("humaneval", 164, "python"), pytest.param("mbpp", 397, "python", marks=pytest.mark.multipl_e),
    pytest.param("humaneval-cpp", 161, "cpp", marks=pytest.mark.multipl_e),
    pytest.param("humaneval-java", 158, "java", marks=pytest.mark.multipl_e),
])
def test_builtin_suites_load_with_entry_points(suite, count, language):
    problems = load_suite(suite)
    assert len(problems) == count
    assert {p.language for p in problems} == {language}
    assert len({p.task_id for p in problems}) == count
    for p in problems:
        assert p.entry_point, p.task_id
        assert p.entry_point in p.prompt
        assert p.stop
    assert set(KNOWN_BROKEN[suite]) <= {p.task_id for p in problems}


def test_humaneval_is_read_from_the_package_data_file_with_canonical_solutions():
    problems = load_suite("humaneval")
    with gzip.open(humaneval_data_file(), "rt") as fh:
        raw = [json.loads(line) for line in fh]
    assert [p.task_id for p in problems] == [r["task_id"] for r in raw]
    first = problems[0]
    assert first.task_id == "HumanEval/0" and first.entry_point == "has_close_elements"
    assert first.canonical == raw[0]["canonical_solution"]
    assert first.stop == HUMANEVAL_STOP
    assert first.tests.rstrip().endswith("check(has_close_elements)")
    assert all(p.canonical for p in problems)


@pytest.mark.multipl_e
def test_multipl_e_problems_have_no_reference_and_their_stop_tokens():
    cpp = load_suite("humaneval-cpp")
    assert all(p.canonical is None for p in cpp)
    assert cpp[0].stop == ("\n}",)
    java = {p.task_id: p for p in load_suite("humaneval-java")}
    assert java["HumanEval_56_correct_bracketing"].entry_point == "correctBracketing"


def test_data_dir_search_order(tmp_path, monkeypatch):
    (tmp_path / "mbpp-py.json").write_text(json.dumps([{
        "name": "t_1_f", "language": "py", "prompt": "def f(x: int) -> int:\n", "tests": "assert f(1) == 1\n",
        "stop_tokens": ["\ndef"]}]))
    assert find_data_file("mbpp-py.json", str(tmp_path)) == tmp_path / "mbpp-py.json"
    assert [p.task_id for p in load_suite("mbpp", str(tmp_path))] == ["t_1_f"]
    monkeypatch.setenv("WIZARDCODER_DATA", str(tmp_path))
    assert len(load_suite("mbpp")) == 1
    with pytest.raises(UserError, match="no such directory"):
        find_data_file("humaneval-cpp.json", str(tmp_path / "nope"))


def test_local_files_in_both_formats(tmp_path):
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text(json.dumps({"task_id": "x/0", "prompt": "def f():\n", "test": "def check(c):\n    pass\n",
                                 "entry_point": "f"}) + "\n")
    (p,) = load_suite(str(jsonl))
    assert p.tests.endswith("check(f)\n") and p.stop == HUMANEVAL_STOP
    cpp = tmp_path / "mine.json"
    cpp.write_text(json.dumps([{"name": "c_1", "language": "cpp", "prompt": "long add(long x, long y) {\n",
                                "tests": "}\nint main() {}\n", "stop_tokens": ["\n}"]}]))
    (q,) = load_suite(str(cpp))
    assert (q.language, q.entry_point, q.stop) == ("cpp", "add", ("\n}",))


def test_bad_inputs_name_the_problem(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"name": "a", "prompt": "x"}\n')
    with pytest.raises(UserError, match=r"record 1: missing field\(s\) tests"):
        load_suite(str(bad))
    bad.write_text('{"name": "a"\n')
    with pytest.raises(UserError, match=r"bad.jsonl:1: not valid JSON"):
        load_suite(str(bad))
    with pytest.raises(UserError, match="no such file"):
        load_suite(str(tmp_path / "missing.jsonl"))


def test_unknown_name_tries_the_hub_and_explains(hub_offline):
    with pytest.raises(UserError, match="not a built-in suite"):
        load_suite("nobody/no-such-dataset:cfg")


def test_entry_point_of_signatures():
    assert entry_point_of("def a():\n    pass\ndef b(x):\n", "python") == "b"
    assert entry_point_of("std::vector<long> f(std::vector<long> l, std::tuple<long, long> t) {\n", "cpp") == "f"
    assert entry_point_of("class Problem {\n    public static Pair<Long, Long> g(ArrayList<Long> l) {\n", "java") == "g"
