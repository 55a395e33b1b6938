"""A real demo store (imported and analysed) shared by the AppTests of a module."""

from __future__ import annotations

import json

import pytest
from apptest_util import use_store

from workbench.demo import build_demo
from workbench.ingest import import_paths

XSS = "Here <script>alert(1)</script> and <img src=x onerror=alert(1)> end.\n\nThe answer is A."


@pytest.fixture(scope="module")
def app_db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("appdb")
    db = tmp / "store.duckdb"
    build_demo(db)
    second = tmp / "second.jsonl"  # a second run with the same ids, for compare, and an XSS trace
    rows = [{"id": "clean-bar", "question": "Which month?", "response": "March is the highest.\n\nSo the answer is C.",
             "answer": "C", "correct": True},
            {"id": "xss", "question": "<b>bold?</b>", "response": XSS, "answer": "A", "correct": True}]
    second.write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_paths([second], db, run="second run", progress=False)
    from workbench.analysis.pipeline import analyze_store
    analyze_store(db, progress=False, workers=1)
    with use_store(db):
        yield db
