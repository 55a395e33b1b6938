"""`workbench run` end to end with the tiny Qwen2-VL: records, failures, SIGKILL + resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

pytest.importorskip("torch")
pytestmark = [pytest.mark.models, pytest.mark.xdist_group("run_tiny")]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from workbench.models.tiny import build_tiny_model
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def make_data(folder: Path, n: int, *, corrupt: bool = False) -> Path:
    from workbench.models.testdata import write_questions
    return write_questions(folder, n, corrupt=corrupt)


def rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_run_fills_tokens_logprobs_entropies_and_records_failures(tiny: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    from workbench.cli import main
    data = make_data(tmp_path / "data", 3, corrupt=True)
    db = tmp_path / "s.duckdb"
    rc = main(["run", "--model", str(tiny), "--data", str(data), "--db", str(db), "--run", "tiny run",
               "--max-new-tokens", "12", "--dtype", "float32", "--top-alternatives", "3"])
    assert rc == 0
    assert "3 done, 1 failed" in capsys.readouterr().out
    samples = {r[0]: r[1:] for r in rows(db, "SELECT sample_id, status, finish_reason, completion_tokens, "
                                              "prompt_tokens, response, error FROM samples WHERE run_id='tiny-run'")}
    assert samples["broken"][0] == "failed" and "broken.png" in samples["broken"][5]
    for sid in ("q0", "q1", "q2"):
        status, finish, n, prompt, response, _ = samples[sid]
        assert status == "ok" and finish in ("eos", "length") and prompt > 40
        assert (finish == "length") == (n == 12)
        toks = rows(db, f"SELECT token_index, text, logprob, entropy, char_start, char_end, top_alternatives "
                        f"FROM tokens WHERE run_id='tiny-run' AND sample_id='{sid}' ORDER BY token_index")
        assert [t[0] for t in toks] == list(range(n))
        assert all(t[2] <= 0 and t[3] > 0 for t in toks)
        assert "".join(response[t[4]:t[5]] for t in toks) == response
        assert len(json.loads(toks[0][6])) == 3
    # idempotent: the same run again without --resume is refused, with --resume nothing is redone
    assert main(["run", "--model", str(tiny), "--data", str(data), "--db", str(db), "--run", "tiny run",
                 "--max-new-tokens", "12", "--dtype", "float32"]) == 2
    assert main(["run", "--model", str(tiny), "--data", str(data), "--db", str(db), "--run", "tiny run",
                 "--max-new-tokens", "12", "--dtype", "float32", "--resume"]) == 0
    assert "0 done, 1 failed, 3 skipped" in capsys.readouterr().out
    assert rows(db, "SELECT count(*) FROM samples")[0][0] == 4


def test_sigkill_mid_batched_run_marks_the_job_dead_and_resume_gives_every_sample_exactly_once(
        tiny: Path, tmp_path: Path) -> None:
    from workbench.models import jobs
    data = make_data(tmp_path / "data", 8)
    db = tmp_path / "s.duckdb"
    cmd = [sys.executable, "-m", "workbench.cli", "run", "--model", str(tiny), "--data", str(data), "--db", str(db),
           "--max-new-tokens", "400", "--dtype", "float32", "--progress-interval", "0.2", "--batch-size", "3",
           "--job-id", "batched"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    from workbench.store import connect
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.3)
        if db.exists():
            # killed once two samples are finished and the running batch has saved its partial traces (a kill
            # right between two batches would leave no partial to check; under load that happened)
            with connect(db, timeout=30) as con:
                done, partial = con.execute("SELECT count(*) FILTER (WHERE status = 'ok'), "
                                            "count(*) FILTER (WHERE status = 'partial') FROM samples").fetchone()
            if done >= 2 and partial:
                break
    assert proc.poll() is None, f"run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = dict(rows(db, "SELECT sample_id, status FROM samples"))
    assert 2 <= sum(s == "ok" for s in before.values()) < 8
    assert "partial" in before.values(), "the batch's unfinished traces were saved as partial"
    # the killed job is no longer 'running' once anyone looks (its process is gone)
    assert rows(db, "SELECT status FROM run_jobs WHERE job_id = 'batched'") == [("running",)]
    st = jobs.job_status(db, "batched")
    assert st["status"] == "dead" and not st["alive"] and st["finished_at"] is not None
    assert rows(db, "SELECT status FROM run_jobs WHERE job_id = 'batched'") == [("dead",)]
    resumed = subprocess.run([*cmd[:-2], "--resume"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = rows(db, "SELECT sample_id, status, completion_tokens FROM samples ORDER BY sample_id")
    assert [r[0] for r in after] == [f"q{i}" for i in range(8)] and {r[1] for r in after} == {"ok"}
    counts = dict(rows(db, "SELECT sample_id, count(*) FROM tokens GROUP BY 1"))
    assert counts == {r[0]: r[2] for r in after}
    n_tokens = rows(db, "SELECT count(*), count(DISTINCT (sample_id, token_index)) FROM tokens")[0][0]
    assert n_tokens == sum(counts.values())
    assert f"{sum(s == 'ok' for s in before.values())} finished sample(s) skipped" in resumed.stderr


def test_folder_of_images_with_questions_file(tiny: Path, tmp_path: Path) -> None:
    from workbench.cli import main
    folder = tmp_path / "folder"
    make_data(folder, 2)
    db = tmp_path / "s.duckdb"
    assert main(["run", "--model", str(tiny), "--data", str(folder), "--db", str(db), "--run", "folder",
                 "--max-new-tokens", "4", "--dtype", "float32", "--system-prompt", ""]) == 0
    got = rows(db, "SELECT sample_id, status, n_images, ground_truth FROM samples ORDER BY 1")
    assert got == [("q0", "ok", 1, "0"), ("q1", "ok", 1, "1")]
    assert rows(db, "SELECT count(*) FROM images WHERE NOT missing")[0][0] == 2


def test_missing_model_path_is_a_clear_error_and_the_job_is_marked_failed(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture) -> None:
    from workbench.cli import main
    data = make_data(tmp_path / "d", 1)
    db = tmp_path / "s.duckdb"
    assert main(["run", "--model", str(tmp_path / "no-such-model"), "--data", str(data), "--db", str(db),
                 "--job-id", "j1"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert rows(db, "SELECT status, message LIKE '%does not exist%' FROM run_jobs WHERE job_id = 'j1'") == [
        ("failed", True)]
    assert main(["run", "--model", "x", "--data", str(tmp_path / "nope.jsonl"), "--db", str(db)]) == 1
    assert "nope.jsonl: no such file" in capsys.readouterr().err
