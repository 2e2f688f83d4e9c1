"""C++ / Java checks: how many get no mutant (the "tests must be able to fail" check then proves
nothing), how many mutants do not compile, and the CPU one build costs.

    python benchmarks/bench_c_like_mutants.py --compile                # this checkout
    git archive <rev> | tar -x -C /tmp/old
    python benchmarks/bench_c_like_mutants.py --compile --root /tmp/old   # an older one, same corpus

Corpus: every MultiPL-E HumanEval C++ / Java prompt (`$WIZARDCODER_DATA`, else ../shared/data/multipl-e)
completed with a body that holds a comment and a string with braces and `return`, and a local lambda
(C++ twice: the declared return type, and `auto`); its tests as the check's tests; plus the C++ / Java
cases of tests/eliminate/test_entry_points.py and tests/languages/test_c_like_hard_cases.py. The
corpus is read from THIS checkout; `--root` picks the `wizardcoder` that builds it. `--compile` runs
`g++ -std=c++17 -fsyntax-only` / `javac` on each mutant (`--compile-every N`: of every Nth MultiPL-E
check; results cached by text in --cache, so a second run compiles only the mutants that differ).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

CPP_BODY = ('    // a comment with { braces } and return 0;\n    const char* note = "}{ return 1; /* */";\n'
            "    auto helper = [&](long v) -> long { return v + 1; };\n    (void)note; (void)helper;\n")
JAVA_BODY = ('        // a comment with { braces } and return null;\n        String note = "}{ return 1; /* */";\n'
             "        java.util.function.LongUnaryOperator helper = v -> v + 1;\n"
             "        if (note.isEmpty()) helper.applyAsLong(1);\n")


def multipl_e(data: Path) -> list[tuple[str, str, str, str]]:
    """(key, language, solution, tests) from the MultiPL-E files."""
    checks = []
    for problem in json.loads((data / "humaneval-cpp.json").read_text()):
        tests = problem["tests"][problem["tests"].index("}") + 1:]
        prompt = problem["prompt"]
        checks.append((problem["name"], "cpp", prompt + CPP_BODY + "    throw 0;\n}\n", tests))
        head = prompt.rstrip().splitlines()[-1]
        m = re.match(r"(.*?)\s*\b(\w+)\s*\(", head)
        if m:  # the same function with a deduced return type
            auto = prompt[:prompt.rindex(head)] + head.replace(m.group(1), "auto", 1)
            checks.append((problem["name"] + "-auto", "cpp", auto + CPP_BODY + f"    return {m.group(1)}{{}};\n}}\n",
                           tests))
    for problem in json.loads((data / "humaneval-java.json").read_text()):
        tests = "class Problem {\n" + problem["tests"][problem["tests"].index("}") + 1:]
        solution = problem["prompt"] + JAVA_BODY + "        throw new UnsupportedOperationException();\n    }\n}\n"
        checks.append((problem["name"], "java", solution, tests))
    return checks


def test_cases() -> list[tuple[str, str, str, str]]:
    sys.path.insert(0, str(HERE))
    from tests.eliminate.test_entry_points import CASES
    from tests.languages.test_c_like_hard_cases import HARD_CASES

    return ([(k, lang, sol, tests) for k, (lang, sol, tests, _) in CASES.items() if lang != "python"]
            + [(k, lang, sol, tests) for k, (lang, sol, tests) in HARD_CASES.items()])


# MultiPL-E's Java imports org.javatuples: the sandbox image has it (sandbox/worker.py JAVA_LIBRARIES)
JAVA_CLASSPATH = [p for p in ("/usr/share/java/javatuples.jar",) if os.path.exists(p)]


def compiles(language: str, program: str, cache: Path) -> bool:
    classpath = ":".join(JAVA_CLASSPATH) if language == "java" else ""
    key = cache / (hashlib.sha256((language + classpath + program).encode()).hexdigest() + ".ok")
    if key.exists():
        return key.read_text() == "1"
    with tempfile.TemporaryDirectory() as d:
        if language == "cpp":
            path = Path(d) / "a.cpp"
            argv = ["g++", "-std=c++17", "-fsyntax-only", str(path)]
        else:
            path = Path(d) / "Main.java"
            argv = ["javac", "-d", d, *(["-cp", classpath] if classpath else []), str(path)]
        path.write_text(program)
        ok = subprocess.run(argv, capture_output=True, check=False).returncode == 0
    key.write_text("1" if ok else "0")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(HERE), help="checkout whose wizardcoder builds the checks")
    parser.add_argument("--compile", action="store_true", help="compile each mutant (g++, javac)")
    parser.add_argument("--compile-every", type=int, default=1, metavar="N",
                        help="compile the mutants of every Nth MultiPL-E check only (all the test cases' mutants)")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "bench_c_like_mutants"))
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    data = Path(os.environ.get("WIZARDCODER_DATA") or HERE.parent / "shared" / "data" / "multipl-e")
    sampled = multipl_e(data)
    corpus = [(key, lang, sol, tests, i % args.compile_every == 0) for i, (key, lang, sol, tests) in enumerate(sampled)]
    corpus += [(key, lang, sol, tests, True) for key, lang, sol, tests in test_cases()]
    sys.path.insert(0, args.root)
    for name in [m for m in sys.modules if m == "wizardcoder" or m.startswith("wizardcoder.")]:
        del sys.modules[name]  # the corpus came from this checkout; the builder comes from --root
    from wizardcoder import languages
    from wizardcoder.languages.base import ExecutionCheck

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    figures: dict[str, dict] = {}
    for language in ("cpp", "java"):
        module = languages.get(language)
        counts = {"checks": 0, "static_verdict": 0, "no_mutant": 0, "mutant": 0, "mutants_compiled": 0,
                  "mutant_does_not_compile": 0}
        cpu = []
        for key, lang, solution, tests, compile_it in corpus:
            if lang != language:
                continue
            check = ExecutionCheck(key, lang, solution, tests)
            start = time.process_time()
            built = module.build(check, True)
            cpu.append(time.process_time() - start)
            counts["checks"] += 1
            if built.program is None:
                counts["static_verdict"] += 1
            elif built.mutant is None:
                counts["no_mutant"] += 1
            else:
                counts["mutant"] += 1
                if args.compile and compile_it:
                    counts["mutants_compiled"] += 1
                    counts["mutant_does_not_compile"] += not compiles(language, built.mutant, cache)
        counts["cpu_ms_per_build_median"] = round(statistics.median(cpu) * 1000, 2)
        counts["cpu_ms_per_build_mean"] = round(statistics.mean(cpu) * 1000, 2)
        figures[language] = counts
        print(language, json.dumps(counts))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
