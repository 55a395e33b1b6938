"""`workbench analyze --engine ray`: the same analysis, spread over a Ray cluster (or a local Ray).

1. Plan as the local engine does (pipeline.plan): the versions to record and the pending
   (sample, detector) pairs from analysis_status, detector versions and content hashes.
2. Export the pending samples as partitioned Parquet (store/parquet.py):
   `<export dir>/wb-analyze-<id>/run_id=<run>/chunk=<n>/*.parquet`, one file per task.
3. One Ray task per file reads it and runs pipeline._analyse_chunk, i.e. analyse_sample with the
   detectors the registry lists: the very code the local worker processes run.
4. The driver writes each task's rows as it completes through store.findings.write_analysis, one
   transaction per task, after dropping samples whose content changed in the store meanwhile
   (those stay pending). An interrupted run keeps every written task; the next run plans again
   and exports only what is still pending.

Every worker checks that its detector versions equal the driver's, so a node with another
version of the workbench fails loudly instead of writing results under the wrong version.

Ray is an optional extra (`pip install -e '.[ray]'`), imported only here and only when used.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.analysis import pipeline
from workbench.errors import UsageError, WorkbenchError
from workbench.store.findings import AnalysisRows

EXTRA = "pip install -e '.[ray]'  (or: pip install 'qvq-workbench[ray]')"
LOCAL_OBJECT_STORE_MB = 256          # a local instance on a small machine: Ray's default is 30% of RAM


class RayUnavailable(WorkbenchError):
    """Ray is not installed (the optional `ray` extra)."""


class VersionMismatch(WorkbenchError):
    """A Ray worker runs other detector versions than the driver."""


def import_ray() -> Any:
    """The `ray` module, or a RayUnavailable naming the extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(f"the Ray engine needs Ray, which is not installed here ({exc}); install the "
                             f"optional extra: {EXTRA}. The default --engine local needs nothing more.") from None
    return ray


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """A connected Ray: an already initialised one (left running), the cluster at `address`, or a
    local instance with `num_cpus` CPUs and a small object store (shut down on exit). No dashboard
    UI and no usage statistics: nothing is reported off the machine."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    common = {"include_dashboard": False, "logging_level": "WARNING", "log_to_driver": True}
    if address:
        try:
            ray.init(address=address, **common)
        except Exception as exc:  # ConnectionError, TimeoutError, RuntimeError... depending on the address form
            raise WorkbenchError(f"cannot join the Ray cluster at {address}: {type(exc).__name__}: {exc}") from exc
    else:
        _start_local(ray, num_cpus or os.cpu_count() or 1, common)
    try:
        yield ray
    finally:
        ray.shutdown()


def _start_local(ray: Any, num_cpus: int, common: dict[str, Any], attempts: int = 3) -> None:
    """Start a local instance. On a busy machine Ray's own agents can miss its 30 s start-up
    deadline; that failure leaves nothing running, so it is retried a few times."""
    for attempt in range(1, attempts + 1):
        try:
            # address="local": always a new instance here, even when RAY_ADDRESS points elsewhere.
            ray.init(address="local", num_cpus=num_cpus, object_store_memory=LOCAL_OBJECT_STORE_MB * 1024 * 1024,
                     **common)
            return
        except Exception as exc:  # Ray raises a bare Exception for a start-up timeout
            ray.shutdown()
            if "timed out during startup" not in str(exc) or attempt == attempts:
                raise WorkbenchError(f"a local Ray instance did not start ({exc}); on a busy machine try again, "
                                     "or use --engine local") from exc
            print(f"analyze: local Ray did not start in time (attempt {attempt} of {attempts}); retrying",
                  file=sys.stderr)


# ---- the task (runs on a Ray worker)
def _open(path: str) -> Any:
    from pyarrow import fs
    if "://" in path:
        filesystem, inner = fs.FileSystem.from_uri(path)
        return filesystem.open_input_file(inner)
    return fs.LocalFileSystem().open_input_file(path)


def analyse_file(path: str, versions: dict[str, str]) -> tuple[AnalysisRows, list[str], int, dict]:
    """One Ray task: analyse the samples of one exported Parquet file exactly as a local worker does.
    Returns the rows to write, per-sample errors, the sample count and each sample's content hash."""
    import socket

    import pyarrow.parquet as pq

    from workbench.store.parquet import INPUT_COLUMNS
    try:
        mine = pipeline._versions([d for d in versions if d != pipeline.STEPS])
    except WorkbenchError as exc:   # a detector the driver has and this node does not
        raise VersionMismatch(f"Ray worker on {socket.gethostname()}: {exc}; install the same workbench version "
                              "on every node") from None
    if mine != versions:
        raise VersionMismatch(f"Ray worker on {socket.gethostname()} runs detector versions {mine}, the driver "
                              f"{versions}: install the same workbench version on every node")
    with _open(path) as f:
        rows = pq.ParquetFile(f).read(columns=list(INPUT_COLUMNS)).to_pylist()
    hashes = {(r["run_id"], r["sample_id"]): r.pop("content_hash") for r in rows}
    out, errors, n = pipeline._analyse_chunk(rows)
    return out, errors, n, hashes


# ---- the driver
@dataclass
class _Workdir:
    local: Path                  # where DuckDB writes the export
    remote: str | None = None    # the object-store URI the tasks read it from (None: they read `local`)

    def task_paths(self) -> list[str]:
        files = sorted(self.local.rglob("*.parquet"))
        if self.remote is None:
            return [str(p) for p in files]
        return [f"{self.remote}/{p.relative_to(self.local).as_posix()}" for p in files]


@contextmanager
def _workdir(export_dir: str | None, keep: bool) -> Iterator[_Workdir]:
    """A fresh folder for one run's export (never reused, so a crashed run's files are never read as
    this run's), removed afterwards unless `keep`. With an object-store URI, DuckDB writes to a
    local temporary folder that is copied there."""
    name = f"wb-analyze-{uuid.uuid4().hex[:12]}"
    is_uri = bool(export_dir) and "://" in str(export_dir)
    tmp_root = None
    if export_dir and not is_uri:
        wd = _Workdir(Path(export_dir).expanduser() / name)
    else:
        tmp_root = Path(tempfile.mkdtemp(prefix="wb-ray-"))
        wd = _Workdir(tmp_root / name, f"{str(export_dir).rstrip('/')}/{name}" if is_uri else None)
    wd.local.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield wd
    finally:
        if wd.remote is not None and not keep:
            from pyarrow import fs
            filesystem, inner = fs.FileSystem.from_uri(wd.remote)
            with suppress(OSError):
                filesystem.delete_dir(inner)
        if tmp_root is not None and (wd.remote is not None or not keep):
            shutil.rmtree(tmp_root, ignore_errors=True)
        elif not keep:
            shutil.rmtree(wd.local, ignore_errors=True)


def _drop_stale(out: AnalysisRows, stale: set[tuple[str, str]]) -> AnalysisRows:
    def keep(r: dict[str, Any]) -> bool:
        return (r["run_id"], r["sample_id"]) not in stale
    return AnalysisRows(steps=[r for r in out.steps if keep(r)], stats=[r for r in out.stats if keep(r)],
                        flags=[r for r in out.flags if keep(r)],
                        done=[d for d in out.done if (d[0], d[1]) not in stale])


def _write(db: Path, out: AnalysisRows, hashes: dict, versions: dict[str, str]) -> list[str]:
    """Write one task's rows (the store's own write path); returns notes on samples left pending."""
    from workbench.store import connect
    from workbench.store.findings import write_analysis
    from workbench.store.parquet import current_hashes
    with connect(db) as con:   # one connection: no other process writes between the check and the write
        now = current_hashes(con, list(hashes))
        stale = {k for k, h in hashes.items() if now.get(k) != h}
        if stale:
            out = _drop_stale(out, stale)
        write_analysis(con, out, versions, pipeline.STEPS)
    return [f"{r}/{s}: changed or removed in the store while it was analysed; left for the next run"
            for r, s in sorted(stale)]


def _task_error(ray: Any, exc: Exception, path: str) -> WorkbenchError:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, WorkbenchError):
        return type(cause)(str(cause))
    return WorkbenchError(f"Ray task for {path} failed: {type(cause or exc).__name__}: {cause or exc}")


def analyze_store_ray(db: str | Path, *, runs: list[str] | None = None, detectors: list[str] | None = None,
                      force: bool = False, address: str | None = None, export_dir: str | None = None,
                      num_cpus: int | None = None, chunk_size: int | None = None, progress: bool = True,
                      keep_export: bool = False) -> pipeline.AnalyzeResult:
    """`analyze_store` on Ray: same plan, same analysis, same writes (see the module docstring).

    `address`: a running cluster (else a local instance with `num_cpus` CPUs). `export_dir`: where
    the samples' Parquet goes; with a cluster it must be readable by every node (a shared
    filesystem path or an object-store URI such as s3://bucket/prefix)."""
    db = Path(db)
    versions, todo, total = pipeline.plan(db, runs, detectors, force)
    result = pipeline.AnalyzeResult(skipped_up_to_date=total - len(todo))
    if not todo:
        return result
    if address and not export_dir:
        raise UsageError("--ray-address needs --export-dir: a folder every node of the cluster can read "
                         "(a shared filesystem path, or an object-store URI such as s3://bucket/prefix)")
    import_ray()   # fail before exporting anything when Ray is missing
    from workbench.store import connect
    from workbench.store.parquet import export_pending_samples
    with _workdir(export_dir, keep_export) as wd:
        with connect(db) as con:
            export_pending_samples(con, todo, chunk_size or pipeline.CHUNK, wd.local)
        if wd.remote is not None:
            from pyarrow import fs
            fs.copy_files(str(wd.local), wd.remote)
        paths = wd.task_paths()
        with ray_session(address, num_cpus) as ray:
            _run_tasks(ray, db, paths, versions, result, progress, len(todo))
    from workbench.store.summary import refresh_stale
    refresh_stale(db)   # as after a local analysis
    return result


def _run_tasks(ray: Any, db: Path, paths: list[str], versions: dict[str, str], result: pipeline.AnalyzeResult,
               progress: bool, n_samples: int) -> None:
    task = ray.remote(num_cpus=1, max_retries=2)(analyse_file)
    # Bounded in flight: finished results wait in Ray's object store only until the driver writes them.
    limit = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    queue = list(reversed(paths))
    inflight: dict[Any, str] = {}
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=n_samples, unit="sample", desc="analyze (ray)", file=sys.stderr)
    try:
        while queue or inflight:
            while queue and len(inflight) < limit:
                path = queue.pop()
                inflight[task.remote(path, versions)] = path
            ready, _ = ray.wait(list(inflight), num_returns=1)
            path = inflight.pop(ready[0])
            try:
                out, errors, n, hashes = ray.get(ready[0])
            except ray.exceptions.RayError as exc:
                raise _task_error(ray, exc, path) from None
            notes = _write(db, out, hashes, versions)
            pipeline.tally(result, out, errors + notes)
            if bar:
                bar.update(n)
    finally:
        for ref in inflight:   # an error or Ctrl-C: stop the rest (what was written stays)
            with suppress(Exception):  # already finished or gone: ray raises several kinds
                ray.cancel(ref, force=True)
        if bar:
            bar.close()
