"""Run-job bookkeeping in `run_jobs`: start, heartbeat/progress, cancel, finish, and detached
worker processes (the Run page starts one so the job outlives Streamlit reruns and reloads).
No torch here: the app imports this module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from workbench.store import connect


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


def create_job(db: Any, job_id: str, run_id: str, *, backend: str, model: str, options: dict,
               n_total: int, pid: int | None = None) -> None:
    with connect(db) as con:
        con.execute("""INSERT INTO run_jobs (job_id, run_id, status, pid, backend, model, options, n_total)
                       VALUES (?, ?, 'running', ?, ?, ?, ?, ?)
                       ON CONFLICT (job_id) DO UPDATE SET status = 'running', pid = excluded.pid,
                         n_total = excluded.n_total, heartbeat_at = now()""",
                    [job_id, run_id, pid or os.getpid(), backend, model, json.dumps(options, default=str), n_total])


def finish_job(db: Any, job_id: str, status: str, message: str | None = None) -> None:
    with connect(db) as con:
        con.execute("""UPDATE run_jobs SET status = ?, message = coalesce(?, message), finished_at = now(),
                       heartbeat_at = now(), current_sample = NULL WHERE job_id = ?""", [status, message, job_id])


def request_cancel(db: Any, job_id: str) -> None:
    """Ask a running job to stop; it saves the partial trace of its current sample first."""
    with connect(db) as con:
        con.execute("UPDATE run_jobs SET cancel_requested = true WHERE job_id = ?", [job_id])


def job_status(db: Any, job_id: str) -> dict[str, Any] | None:
    """The job's row plus `tokens_per_second`, `eta_seconds` and `alive` (worker heartbeat fresh)."""
    with connect(db) as con:
        cur = con.execute("""SELECT *, epoch(now() - heartbeat_at) AS heartbeat_age FROM run_jobs
                             WHERE job_id = ?""", [job_id])
        row = cur.fetchone()
        if row is None:
            return None
        d = dict(zip([c[0] for c in cur.description], row))
    d["tokens_per_second"] = (d["tokens_generated"] / d["generation_seconds"]) if d["generation_seconds"] else None
    done = d["n_done"] + d["n_failed"]
    left = (d["n_total"] or 0) - done - d["n_skipped"]
    d["eta_seconds"] = (d["generation_seconds"] / done * left) if done and left > 0 else None
    d["alive"] = d["status"] == "running" and ((d["heartbeat_age"] or 0) < 120 or _pid_alive(d["pid"]))
    return d


def _pid_alive(pid: int | None) -> bool:
    """True when a process with that pid exists on this machine (the worker runs locally)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def latest_jobs(db: Any, limit: int = 10) -> list[dict[str, Any]]:
    with connect(db) as con:
        cur = con.execute("SELECT job_id, run_id, status, n_done, n_failed, n_total, started_at FROM run_jobs "
                          "ORDER BY started_at DESC LIMIT ?", [limit])
        return [dict(zip([c[0] for c in cur.description], r)) for r in cur.fetchall()]


def start_detached(argv: list[str], *, log_dir: Path, job_id: str) -> int:
    """Start `workbench run ... --job-id ID` in its own session (survives the app); return its pid."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"run-{job_id}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "run", *argv, "--job-id", job_id],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc.pid


def current_trace(db: Any, run_id: str, sample_id: str | None) -> dict[str, Any] | None:
    """The sample being generated (partial trace as last persisted), for the Run page."""
    if not sample_id:
        return None
    with connect(db) as con:
        cur = con.execute("SELECT sample_id, status, response, completion_tokens, finish_reason FROM samples "
                          "WHERE run_id = ? AND sample_id = ?", [run_id, sample_id])
        row = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], row)) if row else None


def run_argv(form: dict[str, Any], db: str) -> list[str]:
    """`workbench run` arguments for the Run page's form (the page starts the same job as the CLI)."""
    argv = ["--model", str(form["model"]), "--data", str(form["data"]), "--db", db,
            "--backend", form.get("backend") or "transformers"]
    for key, flag in [("run", "--run"), ("gpus", "--gpus"), ("max_memory", "--max-memory"), ("dtype", "--dtype"),
                      ("max_new_tokens", "--max-new-tokens"), ("temperature", "--temperature"), ("top_p", "--top-p"),
                      ("seed", "--seed"), ("system_prompt", "--system-prompt"), ("limit", "--limit"),
                      ("endpoint", "--endpoint"), ("api_key_env", "--api-key-env")]:
        v = form.get(key)
        if v not in (None, ""):
            argv += [flag, str(v)]
    if form.get("resume"):
        argv.append("--resume")
    if form.get("probe"):
        argv.append("--probe")
    return argv


def fail_job(db: Any, job_id: str, run_id: str, message: str) -> None:
    """Record a job that stopped on an error (also one that failed before it could start)."""
    with connect(db) as con:
        con.execute("""INSERT INTO run_jobs (job_id, run_id, status, pid, message, finished_at)
                       VALUES (?, ?, 'failed', ?, ?, now())
                       ON CONFLICT (job_id) DO UPDATE SET status = 'failed', message = excluded.message,
                         finished_at = now(), current_sample = NULL""",
                    [job_id, run_id, os.getpid(), message[:2000]])


def set_message(db: Any, job_id: str, message: str | None) -> None:
    with connect(db) as con:
        con.execute("UPDATE run_jobs SET message = ?, heartbeat_at = now() WHERE job_id = ?", [message, job_id])
