"""Run jobs seen from outside the worker: status with derived figures (tokens/s, ETA, liveness),
dead-worker detection, cancel, and detached worker processes (the Run page starts one so the job
outlives Streamlit reruns and reloads). The SQL lives in workbench/store/generation.py. No torch
here: the app imports this module.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from workbench.store import generation as gstore

STALE_OTHER_HOST = 600.0   # seconds without a heartbeat after which a job on another machine counts as dead


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


def host_name() -> str:
    return socket.gethostname()


def pid_alive(pid: int | None) -> bool:
    """True when a process with that pid exists on this machine."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_jobs(db: Any) -> list[str]:
    """Mark 'running' jobs whose worker process is gone as 'dead'; return their ids.

    A job started on this machine is dead when its pid no longer exists (a SIGKILL, an OOM kill,
    a reboot); a job from another machine (a shared store) when it has not sent a heartbeat for
    STALE_OTHER_HOST seconds (its worker writes one at least every 20 s)."""
    here = host_name()
    dead = []
    for j in gstore.running_jobs(db):
        gone = not pid_alive(j["pid"]) if j["host"] in (None, here) else (j["heartbeat_age"] or 0) > STALE_OTHER_HOST
        if gone:
            dead.append(j["job_id"])
    gstore.mark_dead(db, dead, "the worker process is gone (killed or crashed) before it finished; "
                               "start the run again with Resume (--resume) to continue it")
    return dead


def job_status(db: Any, job_id: str) -> dict[str, Any] | None:
    """The job's row plus `tokens_per_second` (all replicas together), `eta_seconds`, `alive` and
    `replicas` (per-replica rows with their own `tokens_per_second`). A job whose worker is gone
    is reported (and stored) as 'dead'."""
    reap_dead_jobs(db)
    d = gstore.job_row(db, job_id)
    if d is None:
        return None
    d["tokens_per_second"] = (d["tokens_generated"] / d["generation_seconds"]) if d["generation_seconds"] else None
    done = d["n_done"] + d["n_failed"]
    left = (d["n_total"] or 0) - done - d["n_skipped"]
    d["eta_seconds"] = (d["generation_seconds"] / done * left) if done and left > 0 else None
    d["alive"] = d["status"] == "running"
    reps = gstore.job_replicas(db, job_id)
    for r in reps:
        r["tokens_per_second"] = (r["tokens_generated"] / r["busy_seconds"]) if r["busy_seconds"] else None
    d["replica_rows"] = reps
    return d


def latest_jobs(db: Any, limit: int = 10) -> list[dict[str, Any]]:
    reap_dead_jobs(db)
    return gstore.latest_jobs(db, limit)


def request_cancel(db: Any, job_id: str) -> None:
    gstore.request_cancel(db, job_id)


def current_trace(db: Any, run_id: str, sample_id: str | None) -> dict[str, Any] | None:
    return gstore.current_trace(db, run_id, sample_id)


def start_detached(argv: list[str], *, log_dir: Path, job_id: str) -> int:
    """Start `workbench run ... --job-id ID` in its own session (survives the app); return its pid."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"run-{job_id}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "run", *argv, "--job-id", job_id],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc.pid


FORM_FLAGS = [("run", "--run"), ("gpus", "--gpus"), ("max_memory", "--max-memory"), ("dtype", "--dtype"),
              ("max_new_tokens", "--max-new-tokens"), ("temperature", "--temperature"), ("top_p", "--top-p"),
              ("seed", "--seed"), ("system_prompt", "--system-prompt"), ("limit", "--limit"),
              ("endpoint", "--endpoint"), ("api_key_env", "--api-key-env"), ("batch_size", "--batch-size"),
              ("replicas", "--replicas"), ("tensor_parallel", "--tensor-parallel"),
              ("pipeline_parallel", "--pipeline-parallel"), ("distributed_executor", "--distributed-executor"),
              ("concurrency", "--concurrency")]


def run_argv(form: dict[str, Any], db: str) -> list[str]:
    """`workbench run` arguments for the Run page's form (the page starts the same job as the CLI)."""
    argv = ["--model", str(form["model"]), "--data", str(form["data"]), "--db", db,
            "--backend", form.get("backend") or "transformers"]
    for key, flag in FORM_FLAGS:
        v = form.get(key)
        if v not in (None, ""):
            argv += [flag, str(v)]
    if form.get("resume"):
        argv.append("--resume")
    if form.get("probe"):
        argv.append("--probe")
    return argv


def fail_job(db: Any, job_id: str, run_id: str, message: str) -> None:
    gstore.fail_job(db, job_id, run_id, message)
