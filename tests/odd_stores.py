"""Odd stores every command and page must survive (issue 14 item 4): empty, one unanalysed sample,
no grades and no images, a ~200k-character trace with ids that need encoding and escaping. Shared by
the CLI fuzz test and the page test on odd stores."""

from __future__ import annotations

import json
from pathlib import Path

LONG = ("Let me compute the area again. " * 40 + "\n\n") * 170     # ~200k characters, a loop inside
ODD_IDS = ["x+y&z#1", "emoji 🙂 id", "../../etc/passwd", "a\tb", "<script>alert(1)</script>"]
KINDS = ("empty", "one-unanalysed", "no-grades-no-images", "long-and-odd-ids")


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _store(tmp: Path, name: str, rows: list[dict] | None, *, analyse: bool) -> Path:
    from workbench.analysis.pipeline import analyze_store
    from workbench.ingest import import_paths
    from workbench.store import connect
    db = tmp / f"{name}.duckdb"
    with connect(db):
        pass
    if rows:
        import_paths([_jsonl(tmp / f"{name}.jsonl", rows)], db, run="odd", progress=False)
        if analyse:
            analyze_store(db, progress=False, workers=1)
    return db


def build_odd_stores(tmp: Path) -> dict[str, Path]:
    """One store per KINDS entry under `tmp`; the run in each is called "odd"."""
    return {
        "empty": _store(tmp, "empty", None, analyse=False),
        "one-unanalysed": _store(tmp, "one", [{"id": "only", "response": "Short."}], analyse=False),
        "no-grades-no-images": _store(tmp, "nogrades", [
            {"id": f"s{i}", "question": "Q?", "response": "Step one.\n\n" + "Check it again now. " * (i % 4 * 5)
             + "\n\nThe answer is 3."} for i in range(12)], analyse=True),
        "long-and-odd-ids": _store(tmp, "long", [{"id": ODD_IDS[0], "response": LONG, "answer": "7", "correct": False}]
                                   + [{"id": i, "question": i, "response": f"{i} 这是 mixing. The answer is A."}
                                      for i in ODD_IDS[1:]], analyse=True),
    }
