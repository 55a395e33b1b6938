"""Staged imports: an import killed midway (SIGKILL, a real process) publishes nothing, keeps its staged
batches, and the same command run again resumes after the last one and ends with exactly the store a
clean import makes; another import discards the unfinished one; a bad file leaves no staging rows and
no images that only it brought."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.errors import InputError
from workbench.ingest import import_paths, readers
from workbench.store import connect

ROOT = Path(__file__).resolve().parents[2]

# a child that imports with 3-record batches, each committed (the batched path a large import takes;
# argv[4] = "small": the one-transaction path of a small one), and kills itself (SIGKILL: no cleanup
# runs) as it stages batch `kill_after` + 1, so exactly `kill_after` batches are committed
CHILD = """
import os, signal, sys
from pathlib import Path
import workbench.ingest as ingest
from workbench.ingest import readers, import_paths
from workbench.store import staging
readers.BATCH_ROWS = readers.HEAD_ROWS = 3
ingest.SMALL_IMPORT_BYTES = 10**9 if sys.argv[4:] == ["small"] else 0
n = {"batches": 0}
record = staging.record_batch
def record_or_die(con, *a, **k):
    n["batches"] += 1
    if n["batches"] == int(sys.argv[3]) + 1:
        os.kill(os.getpid(), signal.SIGKILL)
    record(con, *a, **k)
staging.record_batch = record_or_die
import_paths([Path(p) for p in sys.argv[1].split(",")], sys.argv[2], run="big", progress=False)
"""


def rows(n: int, tag: str = "") -> list[dict]:
    out = [{"id": f"s{i}", "question": f"q{i}", "response": f"step one {i}{tag}.\n\nSo the answer is A."}
           for i in range(n)]
    out[4] = dict(out[2])                           # an identical repeat: stored once
    out[7] = dict(out[1], response="other text")    # a repeated id with other content: kept apart as s1#2
    return out


def write(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return path


def q(db, sql):
    with connect(db) as con:
        return con.execute(sql).fetchall()


def published(db) -> tuple:
    return (q(db, "SELECT run_id, sample_id, content_hash, source_line FROM samples ORDER BY 1, 2"),
            q(db, "SELECT run_id, n_samples FROM runs ORDER BY 1"),
            q(db, "SELECT run_id, path, n_records, counts FROM import_files ORDER BY 1, 2"))


def staged(db) -> tuple:
    return tuple(q(db, f"SELECT count(*) FROM {t}")[0][0] for t in ("import_jobs", "import_batches", "import_staging"))


def kill_midway(files: list[Path], db: Path, after: int, *extra: str) -> None:
    proc = subprocess.run([sys.executable, "-c", CHILD, ",".join(map(str, files)), str(db), str(after), *extra],
                          cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.fixture
def small_batches(monkeypatch):
    import workbench.ingest as ingest
    monkeypatch.setattr(readers, "BATCH_ROWS", 3)
    monkeypatch.setattr(readers, "HEAD_ROWS", 3)
    monkeypatch.setattr(ingest, "SMALL_IMPORT_BYTES", 0)   # the batched path of a large import


def test_killed_import_publishes_nothing_and_the_same_command_resumes(tmp_path, small_batches):
    from PIL import Image
    for i in range(3):
        Image.new("RGB", (4, 4), (i * 80, 10, 10)).save(tmp_path / f"img{i}.png")
    recs = rows(20)
    for i, r in enumerate(recs):   # images early (staged before the kill) and late; one never readable
        r["image"] = {1: "img0.png", 3: "missing.png", 16: "img1.png", 18: "img2.png"}.get(i)
    a = write(tmp_path / "a.jsonl", recs)
    b = write(tmp_path / "b.jsonl", rows(10, tag=" from b"))
    clean = tmp_path / "clean.duckdb"
    first = import_paths([a, b], clean, run="big", progress=False, update=True)

    db = tmp_path / "store.duckdb"
    import_paths([write(tmp_path / "other.jsonl", rows(8))], db, progress=False)
    before = published(db)
    # killed after 4 committed batches (12 records of a.jsonl): nothing visible, the batches staged
    child = CHILD.replace('run="big"', 'run="big", update=True')
    proc = subprocess.run([sys.executable, "-c", child, f"{a},{b}", str(db), "4"], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert published(db) == before
    jobs, batches, staged_rows = staged(db)
    assert (jobs, batches) == (1, 4) and staged_rows > 0

    again = import_paths([a, b], db, run="big", progress=False, update=True)
    assert any("resuming the unfinished import" in w for w in again.warnings)
    assert (again.images_stored, again.images_missing) == (first.images_stored, first.images_missing) == (3, 1)
    assert [w for w in again.warnings if "image reference" in w] == [w for w in first.warnings if "image ref" in w]
    assert q(db, "SELECT count(*) FROM image_blobs") == [(3,)]
    assert staged(db) == (0, 0, 0)
    want = published(clean)
    got = published(db)
    assert [r for r in got[0] if r[0] == "big"] == want[0]
    assert [r for r in got[1] if r[0] == "big"] == want[1]
    # what the resumed import says it did counts the batches the killed run staged, too
    assert [(r[2], json.loads(r[3])) for r in got[2] if r[0] == "big"] == [(r[2], json.loads(r[3])) for r in want[2]]
    assert q(db, "SELECT sample_id FROM samples WHERE run_id = 'big' AND sample_id LIKE 's1#%'") == [("s1#2",)]
    # and a second run of the finished import is idempotent (b.jsonl replaces a.jsonl's s0-s9 again)
    import_paths([a, b], db, run="big", progress=False, update=True)
    assert published(db)[:2] == got[:2]
    assert staged(db) == (0, 0, 0)


def test_another_import_discards_the_unfinished_one(tmp_path, small_batches):
    a = write(tmp_path / "a.jsonl", rows(20))
    db = tmp_path / "store.duckdb"
    kill_midway([a], db, 2)
    assert staged(db)[:2] == (1, 2)
    other = import_paths([write(tmp_path / "c.jsonl", rows(8))], db, run="c", progress=False)
    assert any("unfinished import was discarded" in w and "a.jsonl" in w for w in other.warnings)
    assert staged(db) == (0, 0, 0)
    assert q(db, "SELECT DISTINCT run_id FROM samples") == [("c",)]


def test_a_small_import_killed_midway_left_nothing_but_its_job(tmp_path, small_batches):
    """A small import stages and publishes in one transaction: killed midway, it staged nothing (it wrote
    no rows to disk twice), and the same command then imports it whole."""
    a = write(tmp_path / "a.jsonl", rows(20))
    db = tmp_path / "store.duckdb"
    import_paths([write(tmp_path / "other.jsonl", rows(8))], db, progress=False)
    before = published(db)
    kill_midway([a], db, 4, "small")
    assert published(db) == before
    assert staged(db) == (1, 0, 0)
    import_paths([a], db, run="big", progress=False)
    assert staged(db) == (0, 0, 0)
    assert q(db, "SELECT count(*) FROM samples WHERE run_id = 'big'") == [(19,)]


def test_a_changed_file_is_not_resumed(tmp_path, small_batches):
    a = write(tmp_path / "a.jsonl", rows(20))
    db = tmp_path / "store.duckdb"
    kill_midway([a], db, 2)
    write(a, rows(20, tag=" edited"))
    s = import_paths([a], db, run="big", progress=False)
    assert not any("resuming" in w for w in s.warnings)
    assert q(db, "SELECT count(*) FROM samples WHERE response LIKE '%edited%'") == [(18,)]


def test_a_bad_batch_leaves_no_staging_and_no_images_of_its_own(tmp_path, small_batches):
    from PIL import Image
    img = tmp_path / "only-mine.png"
    Image.new("RGB", (4, 4), (200, 10, 10)).save(img)
    recs = [{"id": f"n{i}", "response": "ok", "image": img.name} for i in range(7)]
    path = tmp_path / "late.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs) + '{"id": "bad", "response": \n', encoding="utf-8")
    db = tmp_path / "store.duckdb"
    with connect(db):
        pass
    with pytest.raises(InputError, match=r"late\.jsonl:8: malformed JSON"):
        import_paths([path], db, progress=False)
    assert staged(db) == (0, 0, 0)
    assert q(db, "SELECT count(*) FROM samples") == [(0,)]
    assert q(db, "SELECT count(*) FROM images") == [(0,)] and q(db, "SELECT count(*) FROM image_blobs") == [(0,)]
