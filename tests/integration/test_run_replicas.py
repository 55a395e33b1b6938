"""Data-parallel replicas on CPU: two worker processes of the tiny Qwen2-VL, one writer to the store.
Every sample is stored exactly once, also after a SIGKILL of the run and --resume; the killed job is
marked dead and its replicas die with it; `run --probe` probes every sample in the replica that
generated it, with batching."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

pytest.importorskip("torch")
pytestmark = [pytest.mark.models, pytest.mark.slow, pytest.mark.xdist_group("run_tiny")]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from workbench.models.tiny import build_tiny_model
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_two_replicas_with_batching_and_probe_store_and_probe_every_sample_once(tiny: Path, tmp_path: Path,
                                                                               capsys: pytest.CaptureFixture) -> None:
    from workbench.cli import main
    from workbench.models.testdata import write_questions
    data = write_questions(tmp_path / "d", 6, corrupt=True)
    db = tmp_path / "s.duckdb"
    rc = main(["run", "--model", str(tiny), "--data", str(data), "--db", str(db), "--run", "dp",
               "--replicas", "2", "--batch-size", "2", "--max-new-tokens", "10", "--dtype", "float32",
               "--probe", "--probe-layers", "all"])
    out = capsys.readouterr()
    assert rc == 0, out.err[-3000:]
    assert "6 done, 1 failed" in out.out
    got = rows(db, "SELECT sample_id, status, completion_tokens, json_extract(metadata, '$.replica') "
                   "FROM samples WHERE status = 'ok' ORDER BY 1")
    assert [g[0] for g in got] == [f"q{i}" for i in range(6)] and {g[2] for g in got} == {10}
    assert {int(g[3]) for g in got} == {0, 1}, "both replicas generated"
    assert rows(db, "SELECT count(*), count(DISTINCT (sample_id, token_index)) FROM tokens")[0] == (60, 60)
    reps = rows(db, "SELECT replica, pid, status, n_done, tokens_generated, busy_seconds FROM run_job_replicas "
                    "ORDER BY replica")
    assert [r[0] for r in reps] == [0, 1] and len({r[1] for r in reps} | {os.getpid()}) == 3
    assert sum(r[3] for r in reps) == 6 and all(r[2] == "done" and r[4] > 0 and r[5] > 0 for r in reps)
    # the probe ran in the replica that holds the model, on the run's own stored tokens
    probed = rows(db, "SELECT sample_id, status, token_source, n_tokens FROM probe_traces ORDER BY 1")
    assert probed == [(f"q{i}", "ok", "stored", 10) for i in range(6)]
    assert "[replica 0] probe" in out.err and "[replica 1] probe" in out.err


def test_sigkill_of_a_replicated_run_marks_the_job_dead_kills_its_replicas_and_resume_completes_it(
        tiny: Path, tmp_path: Path) -> None:
    from workbench.models import jobs
    from workbench.models.testdata import write_questions
    from workbench.store import connect
    data = write_questions(tmp_path / "d", 10)
    db = tmp_path / "s.duckdb"
    cmd = [sys.executable, "-m", "workbench.cli", "run", "--model", str(tiny), "--data", str(data), "--db", str(db),
           "--replicas", "2", "--batch-size", "2", "--max-new-tokens", "300", "--dtype", "float32",
           "--progress-interval", "0.2", "--job-id", "killed"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 900   # generous: the replicas load the model first, on a shared CPU
    done = 0
    while time.monotonic() < deadline and proc.poll() is None and done < 2:
        time.sleep(0.3)
        if db.exists():
            with connect(db, timeout=30) as con:
                done = con.execute("SELECT count(*) FROM samples WHERE status = 'ok'").fetchone()[0]
    assert proc.poll() is None, f"run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    assert done >= 2, "no two samples finished before the deadline"
    replica_pids = [r[0] for r in rows(db, "SELECT pid FROM run_job_replicas WHERE job_id = 'killed'")]
    assert len(replica_pids) == 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # the replicas die with their parent (no orphan holding a GPU)
    gone_by = time.monotonic() + 30
    while time.monotonic() < gone_by and any(jobs.pid_alive(p) for p in replica_pids):
        time.sleep(0.2)
    assert not any(jobs.pid_alive(p) for p in replica_pids)
    assert rows(db, "SELECT status FROM run_jobs WHERE job_id = 'killed'") == [("running",)], "nobody looked yet"
    st = jobs.job_status(db, "killed")
    assert st["status"] == "dead" and "Resume" in st["message"] and not st["alive"]
    assert {r["status"] for r in st["replica_rows"]} == {"dead"}
    before = dict(rows(db, "SELECT sample_id, status FROM samples"))
    n_ok = sum(s == "ok" for s in before.values())
    assert 2 <= n_ok < 10
    resumed = subprocess.run([*cmd[:-2], "--resume"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{n_ok} finished sample(s) skipped" in resumed.stderr
    after = rows(db, "SELECT sample_id, status, completion_tokens FROM samples ORDER BY sample_id")
    assert [r[0] for r in after] == sorted(f"q{i}" for i in range(10)) and {r[1] for r in after} == {"ok"}
    counts = dict(rows(db, "SELECT sample_id, count(*) FROM tokens GROUP BY 1"))
    assert counts == {r[0]: r[2] for r in after}
    assert rows(db, "SELECT count(*) - count(DISTINCT (sample_id, token_index)) FROM tokens")[0][0] == 0
