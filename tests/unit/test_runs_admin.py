"""`workbench runs rename|delete|merge`: everything keyed by the run follows; nothing is lost silently."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.cli import main
from workbench.ingest import import_paths
from workbench.store import connect


def q(db, sql, params=()):
    with connect(db) as con:
        return con.execute(sql, list(params)).fetchall()


def two_runs(tmp_path: Path, db: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.jsonl").write_text(
            "".join(json.dumps({"id": str(i), "response": f"{name}{i}", "correct": i == 0}) + "\n" for i in range(3)),
            encoding="utf-8")
        import_paths([tmp_path / f"{name}.jsonl"], db, progress=False)
    with connect(db) as con:
        con.execute("INSERT INTO tags (run_id, sample_id, tag) VALUES ('a', '1', 'look')")


def test_rename_moves_everything(tmp_path, tmp_db, capsys):
    two_runs(tmp_path, tmp_db)
    assert main(["runs", "rename", "a", "Run A (fixed)", "--db", str(tmp_db)]) == 0
    assert "id run-a-fixed" in capsys.readouterr().out
    assert q(tmp_db, "SELECT run_id, name, n_samples, n_correct FROM runs ORDER BY 1") == \
        [("b", "b", 3, 1), ("run-a-fixed", "Run A (fixed)", 3, 1)]
    assert q(tmp_db, "SELECT run_id FROM tags") == [("run-a-fixed",)]
    assert q(tmp_db, "SELECT DISTINCT run_id FROM import_files ORDER BY 1") == [("b",), ("run-a-fixed",)]
    assert main(["runs", "rename", "run-a-fixed", "b", "--db", str(tmp_db)]) == 2   # exists: refused


def test_merge_refuses_colliding_ids_unless_prefixed(tmp_path, tmp_db, capsys):
    two_runs(tmp_path, tmp_db)
    assert main(["runs", "merge", "a", "b", "--into", "both", "--db", str(tmp_db)]) == 2
    assert "sample id '0' is in more than one" in capsys.readouterr().err
    assert q(tmp_db, "SELECT count(*) FROM samples") == [(6,)]
    assert main(["runs", "merge", "a", "b", "--into", "both", "--prefix", "--db", str(tmp_db)]) == 0
    assert q(tmp_db, "SELECT run_id, n_samples, n_correct FROM runs") == [("both", 6, 2)]
    assert q(tmp_db, "SELECT sample_id FROM samples ORDER BY 1")[:2] == [("a/0",), ("a/1",)]
    assert q(tmp_db, "SELECT run_id, sample_id FROM tags") == [("both", "a/1")]


def test_delete_needs_yes(tmp_path, tmp_db, capsys):
    two_runs(tmp_path, tmp_db)
    assert main(["runs", "delete", "a", "--db", str(tmp_db)]) == 1
    assert "would delete run 'a' with 3 samples" in capsys.readouterr().out
    assert main(["runs", "delete", "a", "--yes", "--db", str(tmp_db)]) == 0
    assert q(tmp_db, "SELECT run_id FROM runs") == [("b",)]
    assert q(tmp_db, "SELECT count(*) FROM samples WHERE run_id = 'a'") == [(0,)]
    assert q(tmp_db, "SELECT count(*) FROM tags") == [(0,)]
    assert main(["runs", "--db", str(tmp_db)]) == 0   # the listing still works
