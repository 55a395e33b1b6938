"""A crash-safe, resumable model run: inputs -> engine(s) -> store, at engine speed.

- The engine decodes many samples at once (transformers `--batch-size`, vLLM's continuous
  batching, concurrent endpoint requests) and `--replicas K` runs K engines in worker processes;
  this process feeds them from a bounded in-flight window and is the run's ONE writer.
- Each finished sample is committed at once with all its tokens (one transaction per writer
  cycle, by a writer thread, so generation never waits for the store); while generating, the
  partial trace is saved every `progress_interval` seconds with status 'partial'. A SIGKILL loses
  at most the unfinished samples.
- `resume=True` skips samples already 'ok' (re-generates partial/failed ones); tokens are keyed
  by (run, sample, index) and replaced per sample, so nothing is ever duplicated.
- A failing sample (corrupt/missing image, OOM, endpoint error, a replica that died) is recorded
  'failed' with the reason and the run goes on.
- `after_commit(run_id, sample_id, backend, log)` (e.g. the probe of `run --probe`, composed by
  the command) runs where the model is, once the sample is committed.
All SQL is in workbench/store/generation.py.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from workbench.errors import UsageError, WorkbenchError
from workbench.models import jobs
from workbench.models.backends.base import Event, GenerationRequest, Sampling
from workbench.records import RunRecord, slugify_run
from workbench.store import generation as gstore

WRITER_INTERVAL = 2.0    # seconds between the writer's heartbeats / cancel checks when idle
WRITER_MIN_GAP = 0.5     # at most two commits a second: opening the store costs ~10-100 ms each time


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
    batch_size: int = 1                    # sequences decoded at once per replica (vLLM: max_num_seqs)
    replicas: int = 1                      # data-parallel engine processes, each on len(gpus)/replicas GPUs
    tensor_parallel: int | None = None     # vLLM
    pipeline_parallel: int = 1             # vLLM
    distributed_executor: str | None = None   # vLLM: "ray" (multi-node) or "mp"


@dataclass
class RunSummary:
    run_id: str
    job_id: str
    done: int = 0
    failed: int = 0
    skipped: int = 0
    tokens: int = 0
    seconds: float = 0.0        # wall-clock seconds of generation (model loading excluded)
    status: str = "done"


def _sample_row(base: dict[str, Any], model: str, **over: Any) -> dict[str, Any]:
    row = {k: base.get(k) for k in ("sample_id", "question", "ground_truth", "benchmark", "subset",
                                    "image_ids", "source_file", "source_line")}
    row["n_images"] = len(base.get("image_ids") or [])
    row["model"] = model
    row.update(over)
    return row


def backend_options(opts: RunOptions) -> dict[str, Any]:
    """make_backend keyword arguments for these options."""
    return dict(gpus=opts.gpus, max_memory=opts.max_memory, dtype=opts.dtype, endpoint=opts.endpoint,
                api_key_env=opts.api_key_env, concurrency=opts.concurrency, progress_interval=opts.progress_interval,
                batch_size=opts.batch_size, max_new_tokens=opts.sampling.max_new_tokens,
                tensor_parallel=opts.tensor_parallel, pipeline_parallel=opts.pipeline_parallel,
                distributed_executor=opts.distributed_executor)


class Writer:
    """The run's one writer: a thread that commits what the generation loop hands it.

    Each cycle takes everything queued (finished samples with tokens, partial traces, the latest
    job and replica progress) and writes it in one transaction (store.generation.write_progress),
    then reports the committed sample ids and whether a cancel was requested. Cycles are at least
    WRITER_MIN_GAP apart, so a finished sample is committed within about half a second however
    fast samples finish; idle, it writes a heartbeat every WRITER_INTERVAL seconds."""

    _STOP = object()

    def __init__(self, db: Any, run_id: str, job_id: str) -> None:
        self.db, self.run_id, self.job_id = db, run_id, job_id
        self.q: queue.Queue = queue.Queue()
        self.committed: queue.Queue = queue.Queue()
        self.cancel = threading.Event()
        self.error: BaseException | None = None
        self.state: tuple[dict[str, Any] | None, list[dict[str, Any]]] = (None, [])
        self.thread = threading.Thread(target=self._run, name="run-writer", daemon=True)
        self.thread.start()

    def put_sample(self, row: dict[str, Any], tokens: list[Any] | None = None) -> None:
        """A sample row to upsert; `tokens` (a finished or failed sample's, possibly []) replace its tokens."""
        self.q.put((row, tokens))

    def set_state(self, job: dict[str, Any], replicas: list[dict[str, Any]]) -> None:
        self.state = (job, replicas)

    def close(self) -> None:
        """Write everything queued, then stop the thread."""
        self.q.put(self._STOP)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        last = 0.0
        try:
            while True:
                try:
                    items = [self.q.get(timeout=WRITER_INTERVAL)]
                except queue.Empty:
                    items = []
                if items and items[0] is not self._STOP:
                    time.sleep(max(0.0, last + WRITER_MIN_GAP - time.monotonic()))   # let more gather
                while True:
                    try:
                        items.append(self.q.get_nowait())
                    except queue.Empty:
                        break
                stop = any(it is self._STOP for it in items)
                samples, tokens, finished = [], {}, []
                for it in items:
                    if it is self._STOP:
                        continue
                    row, toks = it
                    samples.append(row)
                    if toks is not None:
                        tokens[row["sample_id"]] = toks
                        finished.append(row["sample_id"])
                job, replicas = self.state
                if gstore.write_progress(self.db, self.run_id, self.job_id, samples=samples, tokens=tokens,
                                         job=job, replicas=replicas):
                    self.cancel.set()
                last = time.monotonic()
                for sid in finished:
                    self.committed.put(sid)
                if stop:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the generation loop, which raises it
            self.error = exc


def run_model(opts: RunOptions, *, job_id: str | None = None, backend: Any = None,
              after_commit: Callable[[str, str, Any, Callable[[str], None]], None] | None = None,
              log: Callable[[str], None] = print) -> RunSummary:
    """Run the model over the inputs into the store. `backend` may be passed (tests, bench)."""
    from workbench.models.inputs import load_inputs
    if opts.batch_size < 1 or opts.replicas < 1:
        raise UsageError("--batch-size and --replicas must be at least 1")
    inputs = load_inputs(opts.data, limit=opts.limit)
    run_name = opts.run or os.path.splitext(os.path.basename(inputs.source))[0]
    run_id = slugify_run(run_name)
    job_id = job_id or jobs.new_job_id()
    settings = {k: v for k, v in asdict(opts).items() if k not in ("db",)}
    jobs.reap_dead_jobs(opts.db)   # an earlier worker of this run that was killed is marked dead
    existing = gstore.sample_statuses(opts.db, run_id)
    if existing and not opts.resume:
        raise UsageError(f"run {run_id!r} already has {len(existing)} samples: add --resume to continue it, "
                         "or choose another --run name")
    gstore.start_run(opts.db, RunRecord(run_id=run_id, name=run_name, model=opts.model,
                                        source=f"run:{opts.backend}", settings=settings), inputs.batch.write)
    todo = [r for r in inputs.rows if existing.get(r["sample_id"]) != "ok"]
    summary = RunSummary(run_id=run_id, job_id=job_id, skipped=len(inputs.rows) - len(todo))
    gstore.create_job(opts.db, job_id, run_id, backend=opts.backend, model=opts.model, options=settings,
                      n_total=len(inputs.rows), n_skipped=summary.skipped, host=jobs.host_name(),
                      batch_size=opts.batch_size, replicas=opts.replicas)
    if summary.skipped:
        log(f"resume: {summary.skipped} finished sample(s) skipped, {len(todo)} to go")
    writer = Writer(opts.db, run_id, job_id)
    pool = None
    try:
        if todo:
            gstore.set_message(opts.db, job_id, f"loading {opts.model} ({opts.backend}"
                                                + (f", {opts.replicas} replicas" if opts.replicas > 1 else "") + ")")
            pool = open_pool(opts, backend, after_commit, log)
            gstore.set_message(opts.db, job_id, None)
            gen = Generation(opts, inputs, run_id, pool, writer, summary, log)
            gen.run(todo)
            writer.close()
            gen.after_commits()   # the last samples' hooks (probes), now that they are committed
        else:
            writer.close()
    except BaseException as exc:
        if writer.thread.is_alive():
            with contextlib.suppress(BaseException):  # the original error is the one to report
                writer.close()
        if pool is not None:
            pool.close(graceful=False)
        gstore.finish_job(opts.db, job_id, "failed" if not isinstance(exc, KeyboardInterrupt) else "cancelled",
                          str(exc)[:500])
        raise
    if pool is not None:
        pool.close(graceful=True)
    gstore.finish_job(opts.db, job_id, summary.status)
    return summary


def open_pool(opts: RunOptions, backend: Any, hook: Any, log: Callable[[str], None]) -> Any:
    """This process's engine (replicas = 1, or a backend passed in) or K replica processes."""
    from workbench.models.replicas import LocalPool, ReplicaPool, ReplicaSpec, split_gpus
    if backend is not None or opts.replicas == 1:
        if backend is None:
            from workbench.models.backends import make_backend
            backend = make_backend(opts.backend, opts.model, **backend_options(opts))
        return LocalPool(backend, hook, opts.gpus, log)
    if opts.backend == "openai":
        raise UsageError("--replicas is for local models; an endpoint takes more requests with --concurrency")
    gpus = opts.gpus
    if gpus is None:   # every visible GPU, split between the replicas (none: CPU replicas)
        try:
            from workbench.models.loader import visible_gpus
            cuda = visible_gpus()
        except ImportError:
            cuda = None
        gpus = sorted(cuda) if cuda else None
    groups = split_gpus(gpus, opts.replicas)
    threads = max(1, (os.cpu_count() or 1) // opts.replicas) if gpus is None else None
    base = backend_options(opts)
    specs = [ReplicaSpec(index=k, backend=opts.backend, model=opts.model, gpus=g,
                         options={k2: v for k2, v in base.items() if k2 != "gpus"}, threads=threads, hook=hook)
             for k, g in enumerate(groups)]
    pool = ReplicaPool(specs, log)
    pool.wait_ready()
    log(f"{opts.replicas} replicas ready: " + "; ".join(f"replica {k} pid {i['pid']} GPUs {i['gpus'] or 'CPU'}"
                                                     for k, i in enumerate(pool.info)))
    return pool


class Generation:
    """The generation loop: feed each live replica up to its window, turn events into writes."""

    def __init__(self, opts: RunOptions, inputs: Any, run_id: str, pool: Any, writer: Writer,
                 summary: RunSummary, log: Callable[[str], None]) -> None:
        self.opts, self.inputs, self.run_id, self.pool, self.writer = opts, inputs, run_id, pool, writer
        self.summary, self.log = summary, log
        self.model_name = getattr(pool, "model_name", "") or opts.model
        self.rows: dict[str, dict[str, Any]] = {}
        self.where: dict[str, int] = {}
        self.inflight: list[set[str]] = [set() for _ in range(pool.n)]
        self.stats = [{"n_done": 0, "n_failed": 0, "tokens_generated": 0, "busy": 0.0, "since": None,
                       "status": "running", "message": None} for _ in range(pool.n)]
        self.current: str | None = None
        self.t0: float | None = None
        self.ok: set[str] = set()

    def run(self, todo: list[dict[str, Any]]) -> None:
        pending = deque(todo)
        self.rows = {r["sample_id"]: r for r in todo}
        cancelling = False
        while True:
            if self.writer.error is not None:
                raise self.writer.error
            if self.writer.cancel.is_set() and not cancelling:
                cancelling = True
                pending.clear()
                self.summary.status = "cancelled"
                self.log("cancel requested: stopping; partial traces are kept")
                self.pool.cancel()
            self._feed(pending)
            if not pending and not any(self.inflight):
                break
            for k, ev in self.pool.poll(0.5):
                self._handle(k, ev)
            self._publish()
            self.after_commits()
        self._publish()
        self.summary.seconds = time.monotonic() - self.t0 if self.t0 else 0.0

    def _feed(self, pending: deque) -> None:
        """Hand out pending samples one at a time, round robin over the replicas with room in their window."""
        while pending:
            room = [k for k in self.pool.live() if len(self.inflight[k]) < self.pool.window(k)]
            if not room:
                break
            for k in sorted(room, key=lambda k: len(self.inflight[k])):
                if not pending:
                    break
                row = pending.popleft()
                request = self._request(row)
                if request is None:
                    continue
                if self.t0 is None:
                    self.t0 = time.monotonic()
                if not self.inflight[k]:
                    self.stats[k]["since"] = time.monotonic()
                self.pool.submit(k, request)
                self.inflight[k].add(row["sample_id"])
                self.where[row["sample_id"]] = k
        if not self.pool.live() and pending:
            raise WorkbenchError("every replica died; the samples not generated are left for --resume")

    def _request(self, row: dict[str, Any]) -> GenerationRequest | None:
        """The request for a row, or None when its images are unusable (recorded failed at once)."""
        bad = [iid for iid in row.get("image_ids") or [] if iid not in self.inputs.images]
        if bad:
            reason = "; ".join(f"image unusable: {self.inputs.missing.get(i, i)}" for i in bad)
            self._failed(None, row["sample_id"], reason)
            return None
        return GenerationRequest(sample_id=row["sample_id"], question=row["question"],
                                 images=[self.inputs.images[i] for i in row.get("image_ids") or []],
                                 system_prompt=self.opts.system_prompt, sampling=self.opts.sampling)

    def _handle(self, k: int, ev: Event) -> None:
        if ev.kind == "dead":
            self.stats[k]["status"], self.stats[k]["message"] = "dead", ev.error
            self.log(f"{ev.error}: its {len(self.inflight[k])} sample(s) in flight are recorded failed")
            for sid in sorted(self.inflight[k]):
                self._failed(k, sid, f"{ev.error} while generating this sample")
            return
        sid = ev.sample_id
        if ev.kind == "dropped":   # a cancel removed it before it started: it stays as it was in the store
            self._left(k, sid)
            return
        if ev.kind == "progress":
            self.current = sid
            self.writer.put_sample(_sample_row(self.rows[sid], self.model_name, response=ev.text, status="partial",
                                               completion_tokens=ev.n_tokens))
            return
        if ev.kind == "failed":
            self._failed(k, sid, ev.error or "generation failed")
            return
        res = ev.result
        assert res is not None
        status = "partial" if res.finish_reason == "cancelled" else "ok"
        meta = {"seconds": round(res.seconds, 3), "first_token_seconds": res.first_token_seconds, **res.extra}
        if self.pool.n > 1:
            meta["replica"] = k
        self.writer.put_sample(_sample_row(self.rows[sid], self.model_name, response=res.response, status=status,
                                           finish_reason=res.finish_reason, prompt_tokens=res.prompt_tokens,
                                           completion_tokens=res.completion_tokens, metadata=meta), res.tokens)
        st = self.stats[k]
        st["tokens_generated"] += res.completion_tokens
        self.summary.tokens += res.completion_tokens
        if status == "ok":
            st["n_done"] += 1
            self.summary.done += 1
            self.ok.add(sid)
            where = f"[replica {k}] " if self.pool.n > 1 else ""
            self.log(f"{where}{sid}: {res.finish_reason}, {res.completion_tokens} tokens in {res.seconds:.1f} s")
        else:
            self.summary.status = "cancelled"
            self.log(f"{sid}: cancelled; partial trace kept")
        self._left(k, sid)

    def _failed(self, k: int | None, sid: str, reason: str) -> None:
        self.writer.put_sample(_sample_row(self.rows[sid], self.model_name, status="failed", error=reason[:2000]), [])
        self.summary.failed += 1
        if k is not None:
            self.stats[k]["n_failed"] += 1
            self._left(k, sid)
        self.log(f"{sid}: failed: {reason}")

    def _left(self, k: int, sid: str) -> None:
        self.inflight[k].discard(sid)
        st = self.stats[k]
        if not self.inflight[k] and st["since"] is not None:
            st["busy"] += time.monotonic() - st["since"]
            st["since"] = None

    def _publish(self) -> None:
        now = time.monotonic()
        job = {"n_done": self.summary.done, "n_failed": self.summary.failed, "tokens_generated": self.summary.tokens,
               "generation_seconds": (now - self.t0) if self.t0 else 0.0, "current_sample": self.current}
        reps = []
        for k, st in enumerate(self.stats):
            busy = st["busy"] + ((now - st["since"]) if st["since"] is not None else 0.0)
            reps.append({"replica": k, "pid": self.pool.info[k]["pid"], "gpus": self.pool.info[k]["gpus"],
                         "status": st["status"], "n_done": st["n_done"], "n_failed": st["n_failed"],
                         "in_flight": len(self.inflight[k]), "tokens_generated": st["tokens_generated"],
                         "busy_seconds": busy, "message": st["message"]})
        self.writer.set_state(job, reps)

    def after_commits(self) -> None:
        """Hand each committed, finished ('ok') sample to the hook, in the replica that generated it."""
        while True:
            try:
                sid = self.writer.committed.get_nowait()
            except queue.Empty:
                return
            k = self.where.get(sid)
            if sid in self.ok and k is not None and k not in getattr(self.pool, "dead", ()):
                self.pool.after_commit(k, self.run_id, sid)
