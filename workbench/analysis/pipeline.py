"""Run segmentation and detectors over the store: idempotent, resumable, on every core.

Per (sample, detector) the store records the detector version and the sample's content hash in
`analysis_status`; a sample is (re)analysed when that row is missing, the version changed, the
sample changed, or --force. Work goes in chunks: the parent reads a chunk, worker processes
analyse it, the parent replaces that chunk's old rows and marks it done in one transaction. An
interrupted run therefore keeps every finished chunk and continues from there. The parent's
connection serves the reads and writes that follow one another (results that arrived together) and
is closed whenever the parent waits for the workers, and at least every HOLD_SECONDS, so the app
(another process) can open the store between chunks.

With a process pool, analysis chunks are small (several per worker, so no worker idles in a long
serial tail) and the parent keeps each worker's next chunk read ahead; it writes finished chunks
in batches of about CHUNK samples (write_size: about a 40th of a large analysis, at most MAX_WRITE),
because every write transaction has a cost (opening the file, the commit, the checkpoint when the
connection closes, which grows with the store) that would otherwise make the one parent the
bottleneck of two or more workers. An interrupted run keeps every finished write batch. A sample
never analysed before has no old rows, so its write skips the DELETEs that scan whole tables.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import queue
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from workbench.analysis import registry
from workbench.errors import UsageError
from workbench.store import connect
from workbench.store.db import bound_memory
from workbench.store.findings import (
    AnalysisRows,
    PreparedRows,
    count_samples,
    finding_row,
    merge_prepared,
    pending_analysis,
    prepare,
    samples_in_rowid_range,
    write_analysis,
)
from workbench.store.runs import resolve_runs

STEPS = "steps"
CHUNK = 1500           # samples per write transaction (and most samples per analysis chunk)
CHUNKS_PER_WORKER = 8  # with a pool: at least this many analysis chunks per worker (short serial tail)
MIN_CHUNK = 100        # ... but not so small that per-chunk overhead (a read, pickling) dominates
READ_AHEAD = 2         # chunks in flight per worker: one being analysed, one waiting
HOLD_SECONDS = 1.0     # the parent's connection is closed after this long even when busy (others wait for the lock)
WRITES = 40            # a large analysis writes in about this many transactions ...
MAX_WRITE = 25_000     # ... of at most this many samples: every write ends with a checkpoint (when the
                       # connection closes) whose cost grows with the store, so 1,500-sample writes made
                       # a first analysis of a million traces spend most of its time checkpointing


def _versions(detectors: list[str]) -> dict[str, str]:
    from workbench.analysis import answers, steps
    v = {STEPS: f"{steps.VERSION}+{answers.VERSION}"}
    v.update({name: registry.get(name).version for name in detectors})
    return v


@dataclass
class AnalyzeResult:
    analysed: dict[str, int] = field(default_factory=dict)
    skipped_up_to_date: int = 0
    errors: list[str] = field(default_factory=list)


def analyse_sample(s: dict[str, Any], todo: list[str], out: AnalysisRows, errors: list[str]) -> None:
    """Pure analysis of one sample (a dict of store.findings.ANALYSIS_FIELDS): appends its rows to `out`."""
    from workbench.analysis.answers import trace_stats
    from workbench.analysis.steps import segment
    text = s["response"] or ""
    try:
        steps = segment(text, has_image=(s["n_images"] or 0) > 0)
    except Exception as exc:  # noqa: BLE001 - never let one sample stop the run
        errors.append(f"{s['run_id']}/{s['sample_id']}: steps: {type(exc).__name__}: {exc}")
        return
    key = {"run_id": s["run_id"], "sample_id": s["sample_id"]}
    if s.get("fresh"):
        out.fresh.append((s["run_id"], s["sample_id"]))
    if s.get("content_hash"):
        out.hashes[(s["run_id"], s["sample_id"])] = s["content_hash"]
    if STEPS in todo:
        for st in steps:
            out.steps.append({**key, "step_index": st.index, "char_start": st.char_start, "char_end": st.char_end,
                              "role": st.role, "n_chars": st.char_end - st.char_start,
                              "image_ref_count": st.image_ref_count})
        ts = trace_stats(text, steps, ground_truth=s["ground_truth"], finish_reason=s["finish_reason"],
                         final_answer=s.get("final_answer"), question=s.get("question"),
                         metadata=s.get("metadata"), benchmark=s.get("benchmark"))
        # TraceStats holds only scalars: a shallow copy (dataclasses.asdict deep-copies every field)
        out.stats.append({**key, **{f: getattr(ts, f) for f in _STAT_FIELDS}})
        out.done.append((s["run_id"], s["sample_id"], STEPS))
    for spec, detect in registry.iter_detect([d for d in todo if d != STEPS]):
        try:
            found = detect(text, question=s["question"], steps=steps, has_image=(s["n_images"] or 0) > 0,
                           **{k: s.get(k) for k in spec.needs})
        except Exception as exc:  # noqa: BLE001 - a detector's bug fails this sample only, reported in errors
            errors.append(f"{s['run_id']}/{s['sample_id']}: {spec.name}: {type(exc).__name__}: {exc}")
            continue
        out.flags += [finding_row(s["run_id"], s["sample_id"], i, f) for i, f in enumerate(found)]
        out.done.append((s["run_id"], s["sample_id"], spec.name))


def _stat_fields() -> tuple[str, ...]:
    from workbench.analysis.answers import TraceStats
    return tuple(f.name for f in fields(TraceStats))


_STAT_FIELDS = _stat_fields()


def _analyse_chunk(samples: list[dict[str, Any]]) -> tuple[AnalysisRows, list[str], int]:
    """Worker: pure analysis of a chunk of samples (each with its `todo` list)."""
    out, errors = AnalysisRows(), list[str]()
    for s in samples:
        analyse_sample(s, s["todo"], out, errors)
    return out, errors, len(samples)


def _analyse_chunk_prepared(samples: list[dict[str, Any]]) -> tuple[PreparedRows, list[str], int]:
    """Worker of the local process pool: _analyse_chunk with the rows already in Arrow tables."""
    out, errors, n = _analyse_chunk(samples)
    return prepare(out), errors, n


def _merge(parts: list[tuple[PreparedRows, list[str], int]]) -> tuple[PreparedRows, list[str], int]:
    """Several workers' results as one write."""
    return (merge_prepared([p for p, _, _ in parts]), [e for _, es, _ in parts for e in es],
            sum(n for _, _, n in parts))


def write_size(n_todo: int) -> int:
    """Samples per write transaction: CHUNK, or more for a large analysis (about WRITES writes)."""
    return max(CHUNK, min(MAX_WRITE, math.ceil(n_todo / WRITES)))


def chunk_size(n_todo: int, n_workers: int) -> int:
    """Samples per chunk: at most CHUNK, small enough for CHUNKS_PER_WORKER chunks per worker."""
    return max(1, min(CHUNK, max(MIN_CHUNK, math.ceil(n_todo / (n_workers * CHUNKS_PER_WORKER)))))


class _Store:
    """The parent's connection to the store, opened when needed and closed once it has been held
    HOLD_SECONDS (`release`) or on `close` (the pool closes it before waiting for a result): the reads and
    writes a result brings share one open (each open reads the catalog, each close checkpoints)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self._cm: Any = None
        self._con: Any = None
        self._opened = 0.0

    def con(self) -> Any:   # a duckdb connection
        if self._con is None:
            self._cm = connect(self.db)
            self._con = self._cm.__enter__()
            bound_memory(self._con)
            self._opened = time.monotonic()
        return self._con

    def held_for(self) -> float | None:
        return None if self._con is None else time.monotonic() - self._opened

    def release(self) -> None:
        """Close the connection if it was held HOLD_SECONDS or more."""
        held = self.held_for()
        if held is not None and held >= HOLD_SECONDS:
            self.close()

    def close(self) -> None:
        if self._con is not None:
            cm, self._cm, self._con = self._cm, None, None
            cm.__exit__(None, None, None)


def _read_chunk(store: _Store, keys: list[dict]) -> list[dict]:
    todo = {(k["run_id"], k["sample_id"]): k for k in keys}
    rows = samples_in_rowid_range(store.con(), keys[0]["rowid"], keys[-1]["rowid"])
    store.release()
    return [{**r, "todo": k["todo"], "fresh": k.get("fresh", False)} for r in rows
            if (k := todo.get((r["run_id"], r["sample_id"]))) is not None]


def _write_chunk(store: _Store, out: AnalysisRows | PreparedRows, versions: dict[str, str]) -> None:
    if out.done:
        write_analysis(store.con(), out, versions, STEPS)
        store.release()


def plan(db: Path, runs: list[str] | None, detectors: list[str] | None,
         force: bool) -> tuple[dict[str, str], list[dict[str, Any]], int]:
    """What an analysis does (shared by the local and the Ray engine): the versions it records, the
    pending samples (store.findings.pending_analysis) and how many samples are in scope."""
    wanted_detectors = detectors or registry.default_names()
    unknown = set(wanted_detectors) - set(registry.names())
    if unknown:
        raise UsageError(f"unknown detector(s): {', '.join(sorted(unknown))}; known: {', '.join(registry.names())}")
    versions = _versions(wanted_detectors)
    with connect(db) as con:
        bound_memory(con)
        runs = resolve_runs(con, runs)
        todo = pending_analysis(con, runs, versions, force)
        total = count_samples(con, runs)
    return versions, todo, total


def tally(result: AnalyzeResult, out: AnalysisRows | PreparedRows, errors: list[str]) -> None:
    """Count what a written chunk finished, and keep its errors."""
    for _, _, name in out.done:
        result.analysed[name] = result.analysed.get(name, 0) + 1
    result.errors.extend(errors)


def _run_pool(store: _Store, chunks: list[list[dict]], n_workers: int,
              consume: Callable[[tuple[PreparedRows, list[str], int]], None], every: int = CHUNK,
              tick: Callable[[int], None] | None = None) -> None:
    """Analyse chunks on a process pool: the parent reads ahead (READ_AHEAD chunks per worker in flight,
    read between writes, so reads never wait for a write's lock while a worker idles), collects
    results in whatever order they finish (`tick` says how many samples each brought) and writes them
    in batches of >= `every` samples."""
    ctx = mp.get_context("fork" if sys.platform != "win32" else "spawn")
    done: queue.Queue = queue.Queue()
    todo = iter(chunks)
    in_flight = 0
    batch: list[tuple[PreparedRows, list[str], int]] = []
    with ctx.Pool(n_workers) as pool:

        def submit() -> bool:
            nonlocal in_flight
            keys = next(todo, None)
            if keys is None:
                return False
            pool.apply_async(_analyse_chunk_prepared, (_read_chunk(store, keys),), callback=done.put,
                             error_callback=done.put)
            in_flight += 1
            return True

        while in_flight < n_workers * READ_AHEAD and submit():
            pass
        while in_flight:
            try:
                res = done.get_nowait()
            except queue.Empty:   # the workers are busy: let other processes have the store meanwhile
                store.close()
                res = done.get()
            in_flight -= 1
            if isinstance(res, BaseException):
                raise res
            batch.append(res)
            if tick:
                tick(res[2])
            while in_flight < n_workers * READ_AHEAD and submit():
                pass
            if sum(n for _, _, n in batch) >= every or not in_flight:
                consume(_merge(batch))
                batch = []


def _cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def analyze_store(db: str | Path, *, runs: list[str] | None = None, detectors: list[str] | None = None,
                  workers: int | None = None, progress: bool = True, force: bool = False) -> AnalyzeResult:
    """Segment and run detectors over the store's samples (only what is missing or stale)."""
    db = Path(db)
    versions, todo, total = plan(db, runs, detectors, force)
    result = AnalyzeResult(skipped_up_to_date=total - len(todo))
    if not todo:
        return result
    n_workers = workers or min(_cores(), 8)
    size = CHUNK if n_workers <= 1 else chunk_size(len(todo), n_workers)
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), unit="sample", desc="analyze", file=sys.stderr)

    store = _Store(db)

    def jobs() -> Iterator[list[dict]]:
        for keys in chunks:
            chunk = _read_chunk(store, keys)
            store.close()   # one process: the chunk is analysed next, without holding the store
            yield chunk

    def consume(res: tuple[AnalysisRows | PreparedRows, list[str], int], counted: bool = False) -> None:
        out, errors, n = res
        _write_chunk(store, out, versions)
        tally(result, out, errors)
        if bar and not counted:
            bar.update(n)

    try:
        if n_workers <= 1 or len(chunks) == 1:
            for job in jobs():
                consume(_analyse_chunk(job))
        else:
            # the bar follows the analysed samples; they are written in fewer, larger transactions
            _run_pool(store, chunks, n_workers, lambda res: consume(res, counted=True), every=write_size(len(todo)),
                      tick=bar.update if bar else None)
    finally:
        store.close()
        if bar:
            bar.close()
    from workbench.store.summary import refresh_stale
    refresh_stale(db)   # the Overview's summaries follow the findings just written
    return result
