"""Run segmentation and detectors over the store: idempotent, resumable, on every core.

Per (sample, detector) the store records the detector version and the sample's content hash in
`analysis_status`; a sample is (re)analysed when that row is missing, the version changed, the
sample changed, or --force. Work goes in chunks: the parent reads a chunk (short connection),
worker processes analyse it, the parent replaces that chunk's old rows and marks it done in
one transaction (short connection). An interrupted run therefore keeps every finished chunk and
continues from there; the app can read between chunks.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import pyarrow as pa

from workbench.errors import UsageError
from workbench.store import connect

DETECTORS = {"language_mixing": "workbench.analysis.language", "repetition_loop": "workbench.analysis.repetition",
             "grounding_loss": "workbench.analysis.grounding"}
STEPS = "steps"
CHUNK = 1500


def _versions() -> dict[str, str]:
    from workbench.analysis import answers, steps
    v = {STEPS: f"{steps.VERSION}+{answers.VERSION}"}
    for name, module in DETECTORS.items():
        v[name] = import_module(module).VERSION
    return v


@dataclass
class AnalyzeResult:
    analysed: dict[str, int] = field(default_factory=dict)
    skipped_up_to_date: int = 0
    errors: list[str] = field(default_factory=list)


def _analyse_chunk(args: tuple[list[dict[str, Any]], list[str]]) -> dict[str, Any]:
    """Worker: pure analysis of a chunk of samples -> rows for steps, trace_stats, flags, status, errors."""
    from workbench.analysis.answers import trace_stats
    from workbench.analysis.steps import segment
    samples, wanted = args
    detectors = {n: import_module(DETECTORS[n]) for n in wanted if n in DETECTORS}
    steps_rows, stats_rows, flag_rows, done, errors = [], [], [], [], []
    for s in samples:
        text = s["response"] or ""
        try:
            steps = segment(text, has_image=s["n_images"] > 0)
        except Exception as exc:  # never let one sample stop the run
            errors.append(f"{s['run_id']}/{s['sample_id']}: steps: {type(exc).__name__}: {exc}")
            continue
        if STEPS in s["todo"]:
            for st in steps:
                steps_rows.append((s["run_id"], s["sample_id"], st.index, st.char_start, st.char_end, st.role,
                                   st.char_end - st.char_start, st.image_ref_count))
            ts = trace_stats(text, steps, ground_truth=s["ground_truth"], finish_reason=s["finish_reason"])
            stats_rows.append((s["run_id"], s["sample_id"], ts.n_steps, ts.n_switches, ts.n_reflections,
                               ts.n_candidates, ts.extracted_answer, ts.answer_source, ts.extracted_correct,
                               ts.truncated, ts.n_chars))
            done.append((s["run_id"], s["sample_id"], STEPS))
        for name, module in detectors.items():
            if name not in s["todo"]:
                continue
            try:
                found = module.detect(text, question=s["question"], steps=steps, has_image=s["n_images"] > 0)
            except Exception as exc:
                errors.append(f"{s['run_id']}/{s['sample_id']}: {name}: {type(exc).__name__}: {exc}")
                continue
            for i, f in enumerate(found):
                flag_rows.append((s["run_id"], s["sample_id"], name, i, f.tier, f.step_index, f.char_start, f.char_end,
                                  f.severity, float(f.score), f.evidence, json.dumps(f.details, ensure_ascii=False)))
            done.append((s["run_id"], s["sample_id"], name))
    return {"steps": steps_rows, "stats": stats_rows, "flags": flag_rows, "done": done, "errors": errors,
            "n": len(samples)}


def _todo(con, runs: list[str] | None, wanted: list[str], versions: dict[str, str], force: bool) -> list[dict]:
    where = "WHERE s.run_id IN (SELECT unnest(?::VARCHAR[]))" if runs else ""
    params: list[Any] = [runs] if runs else []
    checks = []
    for name in wanted:
        checks.append(
            f"""CASE WHEN {'true' if force else 'false'} OR NOT EXISTS (SELECT 1 FROM analysis_status a
                 WHERE a.run_id = s.run_id AND a.sample_id = s.sample_id AND a.detector = '{name}'
                 AND a.detector_version = '{versions[name]}' AND a.content_hash = s.content_hash)
               THEN '{name}' END""")
    rows = con.execute(
        f"""SELECT rowid, run_id, sample_id, list_filter([{', '.join(checks)}], lambda x: x IS NOT NULL) AS todo
            FROM samples s {where} ORDER BY rowid""", params).fetchall()
    return [{"rowid": rid, "run_id": r, "sample_id": sid, "todo": todo} for rid, r, sid, todo in rows if todo]


def _read_chunk(db: Path, keys: list[dict]) -> list[dict]:
    # A rowid range lets DuckDB read only the row groups of this chunk (a join on the keys would
    # scan every response of the table for every chunk: quadratic on large stores).
    todo = {(k["run_id"], k["sample_id"]): k["todo"] for k in keys}
    lo, hi = keys[0]["rowid"], keys[-1]["rowid"]
    with connect(db) as con:
        rows = con.execute("""SELECT run_id, sample_id, response, question, ground_truth, finish_reason, n_images
                              FROM samples WHERE rowid BETWEEN ? AND ?""", [lo, hi]).fetchall()
    return [{"run_id": r[0], "sample_id": r[1], "response": r[2], "question": r[3], "ground_truth": r[4],
             "finish_reason": r[5], "n_images": r[6] or 0, "todo": todo[(r[0], r[1])]} for r in rows
            if (r[0], r[1]) in todo]


def _write_chunk(db: Path, out: dict[str, Any], versions: dict[str, str]) -> None:
    done = out["done"]
    if not done:
        return
    with connect(db) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.register("_done", pa.table({"run_id": [d[0] for d in done], "sample_id": [d[1] for d in done],
                                             "detector": [d[2] for d in done],
                                             "version": [versions[d[2]] for d in done]}))
            con.execute("DELETE FROM flags WHERE (run_id, sample_id, detector) IN "
                        "(SELECT run_id, sample_id, detector FROM _done) AND tier = 'text'")
            con.execute("DELETE FROM steps WHERE (run_id, sample_id) IN "
                        "(SELECT run_id, sample_id FROM _done WHERE detector = 'steps')")
            con.execute("DELETE FROM trace_stats WHERE (run_id, sample_id) IN "
                        "(SELECT run_id, sample_id FROM _done WHERE detector = 'steps')")
            if out["steps"]:
                cols = list(zip(*out["steps"]))
                con.register("_steps", pa.table({
                    "run_id": cols[0], "sample_id": cols[1], "step_index": pa.array(cols[2], pa.int32()),
                    "char_start": pa.array(cols[3], pa.int32()), "char_end": pa.array(cols[4], pa.int32()),
                    "role": cols[5], "n_chars": pa.array(cols[6], pa.int32()),
                    "image_ref_count": pa.array(cols[7], pa.int32())}))
                con.execute("""INSERT INTO steps (run_id, sample_id, step_index, char_start, char_end, role, n_chars,
                               image_ref_count, analyzer_version)
                               SELECT *, ? FROM _steps""", [versions[STEPS]])
            if out["stats"]:
                cols = list(zip(*out["stats"]))
                con.register("_stats", pa.table({
                    "run_id": cols[0], "sample_id": cols[1], "n_steps": pa.array(cols[2], pa.int32()),
                    "n_switches": pa.array(cols[3], pa.int32()), "n_reflections": pa.array(cols[4], pa.int32()),
                    "n_candidates": pa.array(cols[5], pa.int32()), "extracted_answer": pa.array(cols[6], pa.string()),
                    "answer_source": pa.array(cols[7], pa.string()), "extracted_correct": pa.array(cols[8], pa.bool_()),
                    "truncated": pa.array(cols[9], pa.bool_()), "n_chars": pa.array(cols[10], pa.int32())}))
                con.execute("INSERT INTO trace_stats SELECT *, ? FROM _stats", [versions[STEPS]])
            if out["flags"]:
                cols = list(zip(*out["flags"]))
                con.register("_flags", pa.table({
                    "run_id": cols[0], "sample_id": cols[1], "detector": cols[2],
                    "finding_index": pa.array(cols[3], pa.int32()), "tier": cols[4],
                    "step_index": pa.array(cols[5], pa.int32()), "char_start": pa.array(cols[6], pa.int32()),
                    "char_end": pa.array(cols[7], pa.int32()), "severity": cols[8],
                    "score": pa.array(cols[9], pa.float64()), "evidence": pa.array(cols[10], pa.string()),
                    "details": pa.array(cols[11], pa.string())}))
                con.execute("""INSERT INTO flags (run_id, sample_id, detector, detector_version, finding_index, tier,
                               step_index, char_start, char_end, severity, score, evidence, details)
                               SELECT f.run_id, f.sample_id, f.detector, d.version, f.finding_index, f.tier,
                                      f.step_index, f.char_start, f.char_end, f.severity, f.score, f.evidence, f.details
                               FROM _flags f JOIN (SELECT DISTINCT detector, version FROM _done) d USING (detector)""")
            con.execute("""INSERT OR REPLACE INTO analysis_status
                           SELECT d.run_id, d.sample_id, d.detector, d.version, s.content_hash, now()
                           FROM _done d JOIN samples s USING (run_id, sample_id)""")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def resolve_runs(db: Path, runs: list[str] | None) -> list[str] | None:
    if not runs:
        return None
    from workbench.records import slugify_run
    with connect(db) as con:
        known = {r[0]: r[1] for r in con.execute("SELECT run_id, name FROM runs").fetchall()}
    out = []
    for r in runs:
        if r in known:
            out.append(r)
        elif slugify_run(r) in known:
            out.append(slugify_run(r))
        else:
            match = [k for k, name in known.items() if name == r]
            if not match:
                raise UsageError(f"no run named {r!r} in the store (runs: {', '.join(sorted(known)) or 'none'})")
            out.append(match[0])
    return out


def analyze_store(db: str | Path, *, runs: list[str] | None = None, detectors: list[str] | None = None,
                  workers: int | None = None, progress: bool = True, force: bool = False) -> AnalyzeResult:
    """Segment and run detectors over the store's samples (only what is missing or stale)."""
    db = Path(db)
    wanted_detectors = detectors or list(DETECTORS)
    unknown = set(wanted_detectors) - set(DETECTORS)
    if unknown:
        raise UsageError(f"unknown detector(s): {', '.join(sorted(unknown))}; known: {', '.join(DETECTORS)}")
    wanted = [STEPS] + wanted_detectors
    versions = _versions()
    runs = resolve_runs(db, runs)
    with connect(db) as con:
        todo = _todo(con, runs, wanted, versions, force)
        total = con.execute("SELECT count(*) FROM samples" + (" WHERE run_id IN (SELECT unnest(?::VARCHAR[]))"
                                                             if runs else ""), [runs] if runs else []).fetchone()[0]
    result = AnalyzeResult(skipped_up_to_date=total - len(todo))
    if not todo:
        return result
    chunks = [todo[i:i + CHUNK] for i in range(0, len(todo), CHUNK)]
    n_workers = workers or min(os.cpu_count() or 1, 8)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), unit="sample", desc="analyze", file=sys.stderr)

    def jobs():
        for keys in chunks:
            yield _read_chunk(db, keys), wanted

    def consume(out: dict[str, Any]) -> None:
        _write_chunk(db, out, versions)
        for _, _, name in out["done"]:
            result.analysed[name] = result.analysed.get(name, 0) + 1
        result.errors.extend(out["errors"])
        if bar:
            bar.update(out["n"])

    try:
        if n_workers <= 1 or len(chunks) == 1:
            for job in jobs():
                consume(_analyse_chunk(job))
        else:
            ctx = mp.get_context("fork" if sys.platform != "win32" else "spawn")
            with ctx.Pool(n_workers) as pool:
                for out in pool.imap(_analyse_chunk, jobs()):
                    consume(out)
    finally:
        if bar:
            bar.close()
    return result
