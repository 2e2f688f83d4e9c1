"""`wizardcoder evolve` in C++ and Java, end to end: the CLI in its own process, a real HTTP server
speaking the OpenAI API, the Docker sandbox. Each seed names a scenario; the server answers its solve
prompt with that scenario's solution and tests. Tests that cannot fail, tests that never call the
function and wrong solutions must be dropped with their reason; right ones must reach the dataset. Only the
wrong solution (failed) gets a repair turn, which this teacher answers with the same code.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from wizardcoder.testing.fake_server import FakeOpenAIServer, body_text

REPO = Path(__file__).resolve().parents[2]

CPP = {
    "right": ("int add(int a, int b) { return a + b; }", "int main() { assert(add(2, 3) == 5); return 0; }"),
    "tautology": ("int add(int a, int b) { return a + b; }",
                  "int main() { int r = add(2, 3); assert(r == r); return 0; }"),
    "ortrue": ("int add(int a, int b) { return a + b; }", "int main() { assert(add(1, 2) >= 0 || true); return 0; }"),
    "nocall": ("int add(int a, int b) { return a + b; }", "int main() { assert(1 + 1 == 2); return 0; }"),
    "owncopy": ("int add(int a, int b) { return a + b; }",
                "int add2(int a, int b) { return a + b; }\nint main() { assert(add2(2, 3) == 5); return 0; }"),
    "wrong": ("int add(int a, int b) { return a - b; }", "int main() { assert(add(2, 3) == 5); return 0; }"),
    "helper": ("int twice(int a) { return 2 * a; }\nint add(int a, int b) { return a - b; }",
               "int main() { assert(twice(2) == 4); return 0; }"),
}
JAVA = {
    "right": ("class Calc {\n    static int add(int a, int b) { return a + b; }\n}",
              "public class Main {\n    public static void main(String[] args) { assert Calc.add(2, 3) == 5; }\n}"),
    "tautology": ("class Calc {\n    static int add(int a, int b) { return a + b; }\n}",
                  ("public class Main {\n    public static void main(String[] args) {\n"
                  "        int r = Calc.add(2, 3);\n        assert r == r;\n    }\n}")),
    "ortrue": ("class Calc {\n    static int add(int a, int b) { return a + b; }\n}",
               "public class Main {\n    public static void main(String[] args) { assert Calc.add(1, 2) >= 0 || true; }\n}"),
    "nocall": ("class Calc {\n    static int add(int a, int b) { return a + b; }\n}",
               "public class Main {\n    public static void main(String[] args) { assert 1 + 1 == 2; }\n}"),
    "owncopy": ("class Calc {\n    static int add(int a, int b) { return a + b; }\n}",
                ("public class Main {\n    static int add(int a, int b) { return a + b; }\n"
                "    public static void main(String[] args) { assert add(2, 3) == 5; }\n}")),
    "wrong": ("class Calc {\n    static int add(int a, int b) { return a * b; }\n}",
              "public class Main {\n    public static void main(String[] args) { assert Calc.add(2, 3) == 5; }\n}"),
    "helper": ("class Calc {\n    static int twice(int a) { return 2 * a; }\n"
               "    static int add(int a, int b) { return a * b; }\n}",
               "public class Main {\n    public static void main(String[] args) { assert Calc.twice(2) == 4; }\n}"),
}
EXPECTED = {"right": "passed", "tautology": "tests_cannot_fail", "ortrue": "tests_cannot_fail",
            "nocall": "no_asserts", "owncopy": "no_asserts", "wrong": "failed",
            "helper": "tests_miss_the_task_function"}


def replies(lang: str):
    programs = CPP if lang == "cpp" else JAVA

    def reply(body: dict) -> str:  # a repair turn (the whole conversation) gets the solve answer again
        text = "\n".join(str(m.get("content") or "") for m in body.get("messages") or []) or body_text(body)
        scenario = re.search(r"scenario (\w+)", text).group(1)
        if "### Tests" in text:  # the solve prompt
            solution, tests = programs[scenario]
            return (f"### Solution\n```{lang}\n{solution}\n```\n\n### Tests\n```{lang}\n"
                    + ("#include <cassert>\n" if lang == "cpp" else "") + f"{tests}\n```\n")
        return (f"Write a function add(a, b) that returns the sum of two integers (scenario {scenario}); it must "
                "also handle negative values and overflow-free inputs up to one million in absolute value.")
    return reply


@pytest.mark.docker
@pytest.mark.parametrize("lang", ["cpp", "java"])
def test_evolve_drops_weak_tests_and_wrong_solutions_keeps_right_ones(lang, tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    with open(seeds, "w") as fh:
        fh.writelines(json.dumps({"id": name, "instruction": f"Add two integers a and b (scenario {name}).",
                                 "output": ""}) + "\n" for name in EXPECTED)
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with FakeOpenAIServer(reply=replies(lang)) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "wizardcoder", "evolve", "--lang", lang, "--seeds", str(seeds), "--limit", "all",
             "--rounds", "1", "--output", str(run_dir), "--sandbox", "docker", "--base-url", server.url,
             "--model", "fake-model", "--no-progress", "evolve.include_seeds_in_dataset=false", "output.report=false"],
            check=False, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    verdicts = {}  # each task's decision: the chosen (solution, tests) pair's verdict
    for line in (run_dir / "raw" / "round_001" / "select.jsonl").read_text().splitlines():
        row = json.loads(line)
        verdicts[row["task_id"].split(".")[0]] = row
    assert {k: v["reason"] for k, v in verdicts.items()} == EXPECTED
    repairs = [json.loads(line) for line in (run_dir / "raw" / "round_001" / "repair.jsonl").read_text().splitlines()]
    assert [row["task_id"] for row in repairs] == ["wrong"] and "Failing assertion" in repairs[0]["follow_up"]
    assert verdicts["wrong"]["repair_turns"] == 1 and verdicts["wrong"]["repaired"] is False
    assert verdicts["right"]["entry_point"] == "add"  # taken from the solution by the pipeline's parser
    dataset = [json.loads(line) for line in (run_dir / "dataset.jsonl").read_text().splitlines()]
    assert [row["seed_id"] for row in dataset] == ["right"]
    # decontamination ran with no extra and no file outside the package: every built-in suite was checked
    stats = json.loads((run_dir / "stats.json").read_text())
    assert stats["dataset"]["decontamination"]["suites"] == {"humaneval": 164 + 161 + 158, "mbpp": 397}
