"""Writes and reads of model runs: run jobs and their replicas, generated samples with their tokens,
partial traces, heartbeats, progress and cancel. The generation path's one place for SQL
(workbench/models/runner.py and workbench/models/jobs.py call these; so does the Run page).

A model run has ONE writer: the process that runs `run_model` (the replicas' worker processes
send their results to it). Everything one writer loop iteration produced (finished samples with
their tokens, partial traces, job and replica progress) goes in one short transaction through
`write_progress`, so a finished sample is committed with all its tokens or not at all, and the
store's lock is held for milliseconds (see db.py for the concurrency design).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from workbench.records import RunRecord
from workbench.store.db import connect
from workbench.store.runs import refresh_run_counts, upsert_run
from workbench.store.samples import samples_table, upsert_samples

TOKENS_SCHEMA = pa.schema([("run_id", pa.string()), ("sample_id", pa.string()), ("token_index", pa.int32()),
                           ("token_id", pa.int32()), ("text", pa.string()), ("logprob", pa.float64()),
                           ("entropy", pa.float64()), ("top_alternatives", pa.string()),
                           ("char_start", pa.int32()), ("char_end", pa.int32())])


def tokens_table(run_id: str, tokens: dict[str, list[Any]]) -> pa.Table:
    """The `tokens` rows of several samples. `tokens`: sample id -> token records (objects with
    token_index, token_id, text, logprob, entropy, top_alternatives, char_start, char_end)."""
    cols: dict[str, list] = {name: [] for name in TOKENS_SCHEMA.names}
    for sid, toks in tokens.items():
        for t in toks:
            cols["run_id"].append(run_id)
            cols["sample_id"].append(sid)
            cols["token_index"].append(t.token_index)
            cols["token_id"].append(t.token_id)
            cols["text"].append(t.text)
            cols["logprob"].append(t.logprob)
            cols["entropy"].append(t.entropy)
            cols["top_alternatives"].append(json.dumps(t.top_alternatives, ensure_ascii=False)
                                            if t.top_alternatives else None)
            cols["char_start"].append(t.char_start)
            cols["char_end"].append(t.char_end)
    return pa.table(cols, schema=TOKENS_SCHEMA)


# ---------------------------------------------------------------- the run and its samples

def sample_statuses(db: Any, run_id: str) -> dict[str, str]:
    """sample id -> status of the run's samples already in the store."""
    with connect(db) as con:
        return {r[0]: r[1] for r in con.execute("SELECT sample_id, status FROM samples WHERE run_id = ?",
                                                [run_id]).fetchall()}


def start_run(db: Any, run: RunRecord, write_inputs: Any = None) -> None:
    """Create or update the run row and store the inputs' images (`write_inputs(con)`), in one
    transaction."""
    with connect(db) as con:
        con.begin()
        upsert_run(con, run)
        if write_inputs is not None:
            write_inputs(con)
        con.commit()


def write_progress(db: Any, run_id: str, job_id: str | None, *, samples: Iterable[dict[str, Any]] = (),
                   tokens: dict[str, list[Any]] | None = None, job: dict[str, Any] | None = None,
                   replicas: Iterable[dict[str, Any]] = ()) -> bool:
    """One transaction: upsert sample rows (the last row per sample wins; `status` 'partial' for a
    trace still being generated), replace the tokens of the samples in `tokens`, set the job's
    progress counters (`job`: n_done, n_failed, tokens_generated, generation_seconds,
    current_sample) and heartbeat, and upsert its replica rows. Returns whether a cancel of the job
    was requested."""
    rows: dict[str, dict[str, Any]] = {}
    for row in samples:
        rows[row["sample_id"]] = row
    tokens = tokens or {}
    with connect(db) as con:
        con.begin()
        if rows:
            upsert_samples(con, run_id, samples_table(rows.values()))
        if tokens:
            con.execute("DELETE FROM tokens WHERE run_id = ? AND sample_id IN (SELECT unnest(?::VARCHAR[]))",
                        [run_id, list(tokens)])
            table = tokens_table(run_id, tokens)
            if table.num_rows:
                con.register("_tok", table)
                con.execute("INSERT INTO tokens SELECT * FROM _tok")
                con.unregister("_tok")
        cancel = False
        if job_id:
            if job:
                con.execute("""UPDATE run_jobs SET n_done = ?, n_failed = ?, tokens_generated = ?,
                                 generation_seconds = ?, current_sample = ?, heartbeat_at = now()
                               WHERE job_id = ?""",
                            [int(job.get("n_done", 0)), int(job.get("n_failed", 0)),
                             int(job.get("tokens_generated", 0)), float(job.get("generation_seconds", 0.0)),
                             job.get("current_sample"), job_id])
            else:
                con.execute("UPDATE run_jobs SET heartbeat_at = now() WHERE job_id = ?", [job_id])
            for r in replicas:
                con.execute("""INSERT INTO run_job_replicas (job_id, replica, pid, gpus, status, n_done, n_failed,
                                 in_flight, tokens_generated, busy_seconds, message, heartbeat_at)
                               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())
                               ON CONFLICT (job_id, replica) DO UPDATE SET pid = excluded.pid,
                                 gpus = excluded.gpus, status = excluded.status, n_done = excluded.n_done,
                                 n_failed = excluded.n_failed, in_flight = excluded.in_flight,
                                 tokens_generated = excluded.tokens_generated,
                                 busy_seconds = excluded.busy_seconds, message = excluded.message,
                                 heartbeat_at = now()""",
                            [job_id, r["replica"], r.get("pid"), r.get("gpus"), r.get("status", "running"),
                             r.get("n_done", 0), r.get("n_failed", 0), r.get("in_flight", 0),
                             r.get("tokens_generated", 0), r.get("busy_seconds", 0.0), r.get("message")])
            got = con.execute("SELECT cancel_requested FROM run_jobs WHERE job_id = ?", [job_id]).fetchone()
            cancel = bool(got and got[0])
        if any(r.get("status") != "partial" for r in rows.values()):
            refresh_run_counts(con, run_id)
        con.commit()
    return cancel


# ---------------------------------------------------------------- jobs

def create_job(db: Any, job_id: str, run_id: str, *, backend: str, model: str, options: dict, n_total: int,
               n_skipped: int = 0, pid: int | None = None, host: str | None = None, batch_size: int = 1,
               replicas: int = 1) -> None:
    with connect(db) as con:
        con.execute("""INSERT INTO run_jobs (job_id, run_id, status, pid, backend, model, options, n_total, n_skipped,
                                             host, batch_size, replicas)
                       VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT (job_id) DO UPDATE SET status = 'running', pid = excluded.pid,
                         n_total = excluded.n_total, n_skipped = excluded.n_skipped, host = excluded.host,
                         batch_size = excluded.batch_size, replicas = excluded.replicas, heartbeat_at = now()""",
                    [job_id, run_id, pid or os.getpid(), backend, model, json.dumps(options, default=str), n_total,
                     n_skipped, host, batch_size, replicas])


def finish_job(db: Any, job_id: str, status: str, message: str | None = None) -> None:
    with connect(db) as con:
        con.begin()
        con.execute("""UPDATE run_jobs SET status = ?, message = coalesce(?, message), finished_at = now(),
                       heartbeat_at = now(), current_sample = NULL WHERE job_id = ?""", [status, message, job_id])
        con.execute("UPDATE run_job_replicas SET status = ?, in_flight = 0 WHERE job_id = ? AND status = 'running'",
                    [status, job_id])
        con.commit()


def fail_job(db: Any, job_id: str, run_id: str, message: str, *, pid: int | None = None) -> None:
    """Record a job that stopped on an error (also one that failed before it could start)."""
    with connect(db) as con:
        con.execute("""INSERT INTO run_jobs (job_id, run_id, status, pid, message, finished_at)
                       VALUES (?, ?, 'failed', ?, ?, now())
                       ON CONFLICT (job_id) DO UPDATE SET status = 'failed', message = excluded.message,
                         finished_at = now(), current_sample = NULL""",
                    [job_id, run_id, pid or os.getpid(), message[:2000]])


def set_message(db: Any, job_id: str, message: str | None) -> None:
    with connect(db) as con:
        con.execute("UPDATE run_jobs SET message = ?, heartbeat_at = now() WHERE job_id = ?", [message, job_id])


def request_cancel(db: Any, job_id: str) -> None:
    with connect(db) as con:
        con.execute("UPDATE run_jobs SET cancel_requested = true WHERE job_id = ?", [job_id])


def job_row(db: Any, job_id: str) -> dict[str, Any] | None:
    """The job's row plus `heartbeat_age` (seconds since its last heartbeat)."""
    with connect(db) as con:
        cur = con.execute("SELECT *, epoch(now() - heartbeat_at) AS heartbeat_age FROM run_jobs WHERE job_id = ?",
                          [job_id])
        row = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], row)) if row else None


def job_replicas(db: Any, job_id: str) -> list[dict[str, Any]]:
    with connect(db) as con:
        cur = con.execute("""SELECT replica, pid, gpus, status, n_done, n_failed, in_flight, tokens_generated,
                                    busy_seconds, message FROM run_job_replicas WHERE job_id = ? ORDER BY replica""",
                          [job_id])
        return [dict(zip([c[0] for c in cur.description], r)) for r in cur.fetchall()]


def latest_jobs(db: Any, limit: int = 10) -> list[dict[str, Any]]:
    with connect(db) as con:
        cur = con.execute("SELECT job_id, run_id, status, n_done, n_failed, n_total, replicas, batch_size, started_at "
                          "FROM run_jobs ORDER BY started_at DESC LIMIT ?", [limit])
        return [dict(zip([c[0] for c in cur.description], r)) for r in cur.fetchall()]


def current_trace(db: Any, run_id: str, sample_id: str | None) -> dict[str, Any] | None:
    """The sample being generated (partial trace as last persisted), for the Run page."""
    if not sample_id:
        return None
    with connect(db) as con:
        cur = con.execute("SELECT sample_id, status, response, completion_tokens, finish_reason FROM samples "
                          "WHERE run_id = ? AND sample_id = ?", [run_id, sample_id])
        row = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], row)) if row else None


def running_jobs(db: Any) -> list[dict[str, Any]]:
    """Jobs whose status is 'running': job_id, pid, host and heartbeat_age (seconds)."""
    with connect(db) as con:
        cur = con.execute("SELECT job_id, pid, host, epoch(now() - heartbeat_at) AS heartbeat_age FROM run_jobs "
                          "WHERE status = 'running'")
        return [dict(zip([c[0] for c in cur.description], r)) for r in cur.fetchall()]


def mark_dead(db: Any, job_ids: list[str], message: str) -> None:
    """Mark still-'running' jobs whose worker is gone as 'dead' (and their running replicas)."""
    if not job_ids:
        return
    with connect(db) as con:
        con.begin()
        con.execute("""UPDATE run_jobs SET status = 'dead', message = ?, finished_at = now(), current_sample = NULL
                       WHERE status = 'running' AND job_id IN (SELECT unnest(?::VARCHAR[]))""", [message, job_ids])
        con.execute("""UPDATE run_job_replicas SET status = 'dead', in_flight = 0
                       WHERE status = 'running' AND job_id IN (SELECT unnest(?::VARCHAR[]))""", [job_ids])
        con.commit()
