"""A crash-safe, resumable model run: inputs -> backend -> store, one sample at a time.

- Each finished sample is committed at once (sample row + all its tokens, one transaction).
- While generating, the partial trace is upserted every `progress_interval` seconds with
  status 'partial', so a killed run loses at most those seconds of one sample.
- `resume=True` skips samples already 'ok' (re-generates partial/failed ones); tokens are
  keyed by (run, sample, index) and replaced per sample, so nothing is ever duplicated.
- A failing sample (corrupt/missing image, OOM, endpoint error) is recorded 'failed' with the
  reason and the run goes on. Every write is a short-lived store.connect() (single writer).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import pyarrow as pa

from workbench.errors import UsageError, WorkbenchError
from workbench.models import jobs
from workbench.models.backends.base import GenerationRequest, GenerationResult, Sampling, TokenRecord
from workbench.records import RunRecord, slugify_run
from workbench.store import connect
from workbench.store.runs import refresh_run_counts, upsert_run
from workbench.store.samples import samples_table, upsert_samples

_SUMMARY_LOCK = threading.Lock()
TOKENS_SCHEMA = pa.schema([("run_id", pa.string()), ("sample_id", pa.string()), ("token_index", pa.int32()),
                           ("token_id", pa.int32()), ("text", pa.string()), ("logprob", pa.float64()),
                           ("entropy", pa.float64()), ("top_alternatives", pa.string()),
                           ("char_start", pa.int32()), ("char_end", pa.int32())])


@dataclass
class RunOptions:
    model: str
    data: str
    run: str | None = None
    backend: str = "transformers"
    db: str | None = None
    gpus: list[int] | None = None
    max_memory: str | None = None
    dtype: str = "bfloat16"
    sampling: Sampling = field(default_factory=Sampling)
    system_prompt: str | None = None
    resume: bool = False
    limit: int | None = None
    endpoint: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 4
    progress_interval: float = 2.0
    probe: dict[str, Any] | None = None   # probe each finished sample (ProbeOptions fields), transformers only


@dataclass
class RunSummary:
    run_id: str
    job_id: str
    done: int = 0
    failed: int = 0
    skipped: int = 0
    tokens: int = 0
    seconds: float = 0.0
    status: str = "done"


def tokens_table(run_id: str, sample_id: str, toks: list[TokenRecord]) -> pa.Table:
    return pa.table({
        "run_id": [run_id] * len(toks), "sample_id": [sample_id] * len(toks),
        "token_index": [t.token_index for t in toks], "token_id": [t.token_id for t in toks],
        "text": [t.text for t in toks], "logprob": [t.logprob for t in toks], "entropy": [t.entropy for t in toks],
        "top_alternatives": [json.dumps(t.top_alternatives, ensure_ascii=False) if t.top_alternatives else None
                             for t in toks],
        "char_start": [t.char_start for t in toks], "char_end": [t.char_end for t in toks]}, schema=TOKENS_SCHEMA)


def _sample_row(base: dict[str, Any], model: str, **over: Any) -> dict[str, Any]:
    row = {k: base.get(k) for k in ("sample_id", "question", "ground_truth", "benchmark", "subset",
                                    "image_ids", "source_file", "source_line")}
    row["n_images"] = len(base.get("image_ids") or [])
    row["model"] = model
    row.update(over)
    return row


def write_sample(db: Any, run_id: str, row: dict[str, Any], toks: list[TokenRecord] | None, *,
                 job_id: str | None = None, job_delta: dict[str, float] | None = None) -> None:
    """Upsert one sample (and replace its tokens when given) in one transaction."""
    with connect(db) as con:
        con.begin()
        upsert_samples(con, run_id, samples_table([row]))
        if toks is not None:
            con.execute("DELETE FROM tokens WHERE run_id = ? AND sample_id = ?", [run_id, row["sample_id"]])
            if toks:
                con.register("_tok", tokens_table(run_id, row["sample_id"], toks))
                con.execute("INSERT INTO tokens SELECT * FROM _tok")
                con.unregister("_tok")
        if job_id:
            d = job_delta or {}
            con.execute("""UPDATE run_jobs SET n_done = n_done + ?, n_failed = n_failed + ?,
                             tokens_generated = tokens_generated + ?, generation_seconds = generation_seconds + ?,
                             current_sample = ?, heartbeat_at = now() WHERE job_id = ?""",
                        [int(d.get("done", 0)), int(d.get("failed", 0)), int(d.get("tokens", 0)),
                         float(d.get("seconds", 0.0)), row["sample_id"], job_id])
        if row.get("status") != "partial":
            refresh_run_counts(con, run_id)
        con.commit()


def _cancel_requested(db: Any, job_id: str) -> bool:
    with connect(db) as con:
        r = con.execute("SELECT cancel_requested FROM run_jobs WHERE job_id = ?", [job_id]).fetchone()
    return bool(r and r[0])


def run_model(opts: RunOptions, *, job_id: str | None = None, backend: Any = None,
              log: Callable[[str], None] = print) -> RunSummary:
    """Run the model over the inputs into the store. `backend` may be passed (tests, bench)."""
    from workbench.models.inputs import load_inputs
    inputs = load_inputs(opts.data, limit=opts.limit)
    run_name = opts.run or os.path.splitext(os.path.basename(inputs.source))[0]
    run_id = slugify_run(run_name)
    job_id = job_id or jobs.new_job_id()
    settings = {k: v for k, v in asdict(opts).items() if k not in ("db",)}
    with connect(opts.db) as con:
        existing = {r[0]: r[1] for r in con.execute(
            "SELECT sample_id, status FROM samples WHERE run_id = ?", [run_id]).fetchall()}
        if existing and not opts.resume:
            raise UsageError(f"run {run_id!r} already has {len(existing)} samples: add --resume to continue it, "
                             "or choose another --run name")
        con.begin()
        upsert_run(con, RunRecord(run_id=run_id, name=run_name, model=opts.model, source=f"run:{opts.backend}",
                                  settings=settings))
        inputs.batch.write(con)
        con.commit()
    jobs.create_job(opts.db, job_id, run_id, backend=opts.backend, model=opts.model, options=settings,
                    n_total=len(inputs.rows))
    summary = RunSummary(run_id=run_id, job_id=job_id)
    todo = [r for r in inputs.rows if existing.get(r["sample_id"]) != "ok"]
    summary.skipped = len(inputs.rows) - len(todo)
    with connect(opts.db) as con:
        con.execute("UPDATE run_jobs SET n_skipped = ? WHERE job_id = ?", [summary.skipped, job_id])
    if summary.skipped:
        log(f"resume: {summary.skipped} finished sample(s) skipped, {len(todo)} to go")
    beat = _Heartbeat(opts.db, job_id)
    try:
        if backend is None and todo:
            from workbench.models.backends import make_backend
            jobs.set_message(opts.db, job_id, f"loading {opts.model} ({opts.backend})")
            backend = make_backend(opts.backend, opts.model, gpus=opts.gpus, max_memory=opts.max_memory,
                                   dtype=opts.dtype, endpoint=opts.endpoint, api_key_env=opts.api_key_env,
                                   concurrency=opts.concurrency, progress_interval=opts.progress_interval)
            jobs.set_message(opts.db, job_id, None)
        parallel = int(getattr(backend, "parallel", 1) or 1)
        if parallel > 1:
            # Endpoints: several requests in flight (the backend bounds them); each sample still
            # commits on its own as it finishes.
            from concurrent.futures import ThreadPoolExecutor

            def one(row: dict[str, Any]) -> None:
                if summary.status != "cancelled" and not _cancel_requested(opts.db, job_id):
                    _run_one(opts, backend, inputs, run_id, job_id, row, summary, log)
                else:
                    summary.status = "cancelled"
            with ThreadPoolExecutor(max_workers=parallel) as pool:
                list(pool.map(one, todo))
        for row in (todo if parallel == 1 else []):
            if _cancel_requested(opts.db, job_id):
                summary.status = "cancelled"
                break
            _run_one(opts, backend, inputs, run_id, job_id, row, summary, log)
            if summary.status == "cancelled":
                break
    except BaseException as exc:
        beat.stop()
        jobs.finish_job(opts.db, job_id, "failed" if not isinstance(exc, KeyboardInterrupt) else "cancelled",
                        str(exc)[:500])
        raise
    beat.stop()
    jobs.finish_job(opts.db, job_id, summary.status)
    return summary


class _Heartbeat:
    """Keeps `run_jobs.heartbeat_at` fresh while the model loads or a long sample generates."""

    def __init__(self, db: Any, job_id: str, every: float = 20.0) -> None:
        self.db, self.job_id, self.every = db, job_id, every
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True, name="run-heartbeat").start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with connect(self.db) as con:
                    con.execute("UPDATE run_jobs SET heartbeat_at = now() WHERE job_id = ?", [self.job_id])
            except WorkbenchError:
                pass  # store busy for long: the next beat tries again

    def stop(self) -> None:
        self._stop.set()


def _run_one(opts: RunOptions, backend: Any, inputs: Any, run_id: str, job_id: str, row: dict[str, Any],
             summary: RunSummary, log: Callable[[str], None]) -> None:
    sid = row["sample_id"]
    bad = [iid for iid in row.get("image_ids") or [] if iid not in inputs.images]
    model_name = getattr(backend, "model_name", opts.model) or opts.model
    if bad:
        reason = "; ".join(f"image unusable: {inputs.missing.get(i, i)}" for i in bad)
        write_sample(opts.db, run_id, _sample_row(row, model_name, status="failed", error=reason), [],
                     job_id=job_id, job_delta={"failed": 1})
        with _SUMMARY_LOCK:
            summary.failed += 1
        log(f"{sid}: failed: {reason}")
        return
    request = GenerationRequest(sample_id=sid, question=row["question"],
                                images=[inputs.images[i] for i in row.get("image_ids") or []],
                                system_prompt=opts.system_prompt, sampling=opts.sampling)
    last_check = [time.monotonic(), False]

    def on_progress(toks: list[TokenRecord]) -> None:
        text = "".join(t.text for t in toks if t.char_end > t.char_start)
        write_sample(opts.db, run_id, _sample_row(row, model_name, response=text, status="partial",
                                                  completion_tokens=len(toks)), None, job_id=job_id)

    def should_cancel() -> bool:
        if time.monotonic() - last_check[0] > 1.0:
            last_check[0] = time.monotonic()
            last_check[1] = _cancel_requested(opts.db, job_id)
        return bool(last_check[1])

    try:
        res: GenerationResult = backend.generate(request, on_progress=on_progress, should_cancel=should_cancel)
    except WorkbenchError as exc:
        write_sample(opts.db, run_id, _sample_row(row, model_name, status="failed", error=str(exc)[:2000]), [],
                     job_id=job_id, job_delta={"failed": 1})
        with _SUMMARY_LOCK:
            summary.failed += 1
        log(f"{sid}: failed: {exc}")
        return
    status = "partial" if res.finish_reason == "cancelled" else "ok"
    meta = {"seconds": round(res.seconds, 3), "first_token_seconds": res.first_token_seconds, **res.extra}
    write_sample(opts.db, run_id, _sample_row(row, model_name, response=res.response, status=status,
                                              finish_reason=res.finish_reason, prompt_tokens=res.prompt_tokens,
                                              completion_tokens=res.completion_tokens, metadata=meta),
                 res.tokens, job_id=job_id,
                 job_delta={"done": status == "ok", "tokens": res.completion_tokens, "seconds": res.seconds})
    with _SUMMARY_LOCK:
        summary.tokens += res.completion_tokens
        summary.seconds += res.seconds
        summary.done += status == "ok"
    if status == "ok":
        log(f"{sid}: {res.finish_reason}, {res.completion_tokens} tokens in {res.seconds:.1f} s")
        if opts.probe:
            _probe_sample(opts, backend, run_id, sid, log)
    else:
        summary.status = "cancelled"
        log(f"{sid}: cancelled; partial trace kept")


def _probe_sample(opts: RunOptions, backend: Any, run_id: str, sample_id: str, log: Callable[[str], None]) -> None:
    """`run --probe`: the probe's teacher-forced passes on the sample just generated, same model."""
    from workbench.probe.run import ProbeOptions, probe_samples
    lm = getattr(backend, "lm", None)
    if lm is None:
        log(f"{sample_id}: not probed: the {getattr(backend, 'name', '?')} backend has no local model")
        return
    popts = ProbeOptions(model=opts.model, db=opts.db, run=run_id, samples=[sample_id], force=True,
                         system_prompt=opts.system_prompt or "", **opts.probe)
    probe_samples(popts, lm=lm, log=lambda m: log("probe " + m))
