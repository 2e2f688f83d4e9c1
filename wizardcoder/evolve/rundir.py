"""The evolve run directory: where each file of a run lives (the stores are `wizardcoder.data.store`).

Layout (`runs/evolve/<fingerprint>/`):

    config.yaml                  the resolved config
    pool/round_000.jsonl         the seeds; pool/round_NNN.jsonl the pool after round N
    raw/round_NNN/<step>.jsonl   the round's keyed answers: LLM outputs (evolve, judge, solve), sandbox
                                 verdicts (exec) and each task's selection (select)
    records.jsonl                every evolved task version with lineage, verdict and reason
    rounds/round_NNN.done.json   the round's completion marker (holds its stats)
    dataset/, dataset.jsonl      the dataset; stats.json, report.md, plots/
    decontaminated.jsonl         the rows decontamination dropped, each with its benchmark task and n-gram
    sessions.json                each invocation's seconds and LLM usage (stats.json: this_session, whole_run)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wizardcoder.data.store import JsonlStore, read_json


class RunDir:
    """Paths and stores of one evolve run."""

    def __init__(self, root: str | Path, fsync: bool = True):
        self.root = Path(root)
        self.fsync = fsync

    # -- paths ----------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    def pool_path(self, round_: int) -> Path:
        return self.root / "pool" / f"round_{round_:03d}.jsonl"

    def raw_path(self, round_: int, step: str) -> Path:
        return self.root / "raw" / f"round_{round_:03d}" / f"{step}.jsonl"

    @property
    def records_path(self) -> Path:
        return self.root / "records.jsonl"

    def round_marker(self, round_: int) -> Path:
        return self.root / "rounds" / f"round_{round_:03d}.done.json"

    def finalize_marker(self, round_: int) -> Path:
        return self.root / "rounds" / f"round_{round_:03d}.finalizing.json"

    @property
    def dataset_marker(self) -> Path:
        return self.root / "dataset.done.json"

    @property
    def stats_path(self) -> Path:
        return self.root / "stats.json"

    @property
    def decontaminated_path(self) -> Path:
        return self.root / "decontaminated.jsonl"

    @property
    def sessions_path(self) -> Path:
        return self.root / "sessions.json"

    @property
    def report_path(self) -> Path:
        return self.root / "report.md"

    @property
    def dataset_jsonl(self) -> Path:
        return self.root / "dataset.jsonl"

    # -- stores ---------------------------------------------------------------------------------
    def store(self, path: Path) -> JsonlStore:
        # fsync at most once a second: every row is still flushed (kill -9 loses nothing), and a row
        # lost to a power cut is a keyed answer the rerun asks for again
        return JsonlStore(path, fsync=self.fsync, fsync_interval=1.0)

    def round_stats(self, round_: int) -> dict[str, Any] | None:
        return read_json(self.round_marker(round_))

    def holds_work(self) -> bool:
        """Whether any answer, verdict, round or dataset of the run is on file: a run stopped by its preflight (a
        wrong --model) holds its seeds and config only."""
        files = [*(self.root / "raw").rglob("*.jsonl"), *(self.root / "rounds").glob("*"), self.records_path,
                 self.dataset_marker, self.dataset_jsonl]
        return any(f.is_file() and f.stat().st_size > 0 for f in files)
