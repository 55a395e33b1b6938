"""Import result files into the store: streamed in batches, all or nothing for readers, resumable.

    summary = import_paths([Path("results.jsonl")], db, run="my-run")

Each file is opened (readers.py: streaming for JSONL/CSV/TSV/Parquet), recognised by the format
registry (formats/: sniffing, file metadata, field map, hooks), normalised batch by batch
(normalize.py) and staged batch by batch (workbench.store.staging: each batch committed, so memory
is bounded by a batch, not by the file). When every file is read, ONE transaction publishes the
staged rows into `samples`: a bad row anywhere discards the whole import, and readers see it whole
or not at all. An import killed midway keeps its staged batches: the same command run again resumes
after the last one. Summary files (scores, configs) are attached to the run they describe.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import InputError, UsageError
from workbench.ingest.formats import BY_NAME, FileInfo, Format, detect
from workbench.ingest.formats.base import MAPPABLE
from workbench.ingest.normalize import normalize
from workbench.ingest.readers import CONTAINERS, Source, check_regular_file, open_source, sniff_container
from workbench.records import RunRecord, slugify_run

if TYPE_CHECKING:   # the image loader pulls in DuckDB and Arrow: imported when an import runs, not by the CLI parser
    from workbench.ingest.images import ImageBatch
    from workbench.store.staging import SeenIds

FORMAT_CHOICES = ("auto", *CONTAINERS, *tuple(n for n, f in BY_NAME.items() if f.role != "summary"))


@dataclass
class FileResult:
    path: str
    run_id: str
    container: str
    flavour: str                       # the format that read it
    counts: dict[str, int] = field(default_factory=dict)
    role: str = "samples"
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportSummary:
    files: list[FileResult] = field(default_factory=list)
    images_stored: int = 0
    images_missing: int = 0
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    preview: list[dict[str, Any]] = field(default_factory=list)   # dry run: per file, what would be stored

    @property
    def run_ids(self) -> list[str]:
        return sorted({f.run_id for f in self.files if f.run_id})


@dataclass
class Planned:
    path: Path
    src: Source
    fmt: Format
    info: FileInfo
    n_bytes: int


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """`--map column=source_field` (a nested path is fine: `score[0]`, `mme_cognition_score.score`)."""
    mapping: dict[str, str] = {}
    aliases = {"id": "sample_id", "answer": "ground_truth", "image": "images"}
    for item in items or []:
        if "=" not in item:
            raise UsageError(f"--map takes field=source_field, got {item!r}")
        k, v = (s.strip() for s in item.split("=", 1))
        if not v:
            raise UsageError(f"--map {k}=: name the source field")
        mapping[aliases.get(k, k)] = v
    bad = set(mapping) - set(MAPPABLE)
    if bad:
        raise UsageError(f"--map: unknown field(s) {', '.join(sorted(bad))}; mappable: {', '.join(sorted(MAPPABLE))}")
    return mapping


def _plan(paths: list[Path], fmt: str) -> list[Planned]:
    forced_container = fmt if fmt in CONTAINERS else "auto"
    forced_format = fmt if fmt in BY_NAME else None
    if fmt not in FORMAT_CHOICES and fmt not in BY_NAME:
        raise UsageError(f"--format: unknown format {fmt!r}; known: {', '.join(FORMAT_CHOICES)}")
    planned = []
    for p in paths:
        st = check_regular_file(p)
        src = open_source(p, sniff_container(p, forced_container))
        f = detect(src, forced_format)
        planned.append(Planned(p, src, f, f.file_info(src), st.st_size))
    return planned


def _check_per_sample(p: Planned, mapping: dict[str, str]) -> None:
    """A generic file must have some per-sample field: otherwise it is a table of scores, not results."""
    if p.fmt.name != "generic" or mapping or p.info.extra.get("model_columns"):
        return
    fields = p.fmt.fields(p.info)
    wanted = {f for c in ("sample_id", "question", "response", "final_answer") for f in fields[c]}
    if p.src.head and not (p.src.keys & wanted):
        cols = ", ".join(sorted(k for k in p.src.keys if not k.startswith("__"))[:12])
        raise InputError(f"no per-sample field (id, question, response, prediction, ...) among the columns "
                         f"({cols}): this looks like a summary table, not per-sample results. Import the "
                         f"results it summarises, or name the fields with --map", path=str(p.path))


def read_file(path: Path, *, fmt: str = "auto", mapping: dict[str, str] | None = None,
              images: ImageBatch, warnings: list[str]) -> tuple[list[dict[str, Any]], str, str]:
    """Read and normalise one whole file without a store (model-run inputs). Raises InputError."""
    (p,) = _plan([path], fmt)
    rows = [row for _, batch in _rows(p, mapping or {}, images, warnings, Counter()) for row in batch]
    return rows, p.src.container, p.fmt.name


def _rows(p: Planned, mapping: dict[str, str], images: ImageBatch, warnings: list[str], counts: Counter,
          skip_until: int = 0) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(last line, normalised rows) of a planned file, one per source batch; records at lines up to
    `skip_until` (staged by an interrupted run of the same import) are skipped unread."""
    where_path, base_dir = str(p.path), p.path.parent
    for batch in p.src.batches():
        if not batch or batch[-1][0] <= skip_until:
            continue
        out = []
        for line, raw in batch:
            if line <= skip_until:
                continue
            counts["records"] += 1
            for rec in p.fmt.expand(raw, p.info):
                norm = normalize(rec, fmt=p.fmt, info=p.info, mapping=mapping, where=(where_path, line))
                row = norm.row
                if norm.id_from_line:
                    counts["ids_from_lines"] += 1
                row["image_ids"] = [images.resolve(ref, base_dir) for ref in norm.image_refs]
                row["source_file"] = where_path
                row["source_line"] = line
                row["source_key"] = p.info.source_key
                warnings.extend(norm.warnings)
                out.append(row)
        yield batch[-1][0], out


def _progress(total_bytes: int, enabled: bool) -> Any:  # a tqdm bar (imported lazily) or None
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total_bytes, unit="B", unit_scale=True, desc="import", file=sys.stderr,
                disable=total_bytes < 20_000_000 or not sys.stderr.isatty())


def _arrange(planned: list[Planned], con: Any, run: str | None, summary: ImportSummary,
             attach: list[tuple[str, FileInfo]]) -> list[Planned]:
    """Files to read, predictions before judged files; summaries to attach (to `attach`) or explained."""
    from workbench.store.runs import run_exists
    read_by_others = {s for p in planned for s in p.info.skip_paths}
    samples = [p for p in planned if p.info.role != "summary"]
    targets = {slugify_run(run or p.info.run_name) for p in samples}
    keep: list[Planned] = []
    for p in planned:
        resolved = str(p.path.resolve())
        if resolved in read_by_others and any(str(q.path.resolve()) != resolved for q in planned):
            summary.files.append(FileResult(str(p.path), "", p.src.container, p.fmt.name, role=p.info.role,
                                            notes=["read together with the file it belongs to"]))
            continue
        if p.info.role != "summary":
            keep.append(p)
            continue
        runs = [slugify_run(r) for r in (p.info.extra.get("runs") or [p.info.run_name]) if r]
        mine = [r for r in runs if r in targets or (con is not None and run_exists(con, r))]
        if mine:
            attach.extend((r, p.info) for r in mine)
            summary.files.append(FileResult(str(p.path), mine[0], p.src.container, p.fmt.name, role="summary",
                                            notes=[f"reported metrics attached to run(s) {', '.join(mine)}"]))
        elif not samples:
            raise InputError(f"this is {p.info.summary_of or 'a summary file, not per-sample results'}. Nothing "
                             f"was imported", path=str(p.path))
        else:
            summary.warnings.append(f"{p.path}: {p.info.summary_of}; its run is not in this import or the store, "
                                    f"so it was not attached")
    keep.sort(key=lambda p: p.info.role == "judged")
    return keep


def import_paths(paths: list[Path], db: str | Path | None = None, *, run: str | None = None,
                 image_root: Path | None = None, mapping: dict[str, str] | None = None, fmt: str = "auto",
                 strict: bool = False, progress: bool = True, synthetic: bool = False, update: bool = False,
                 dry_run: bool = False) -> ImportSummary:
    """Import files into the store, all or nothing: nothing is published when any file is bad.

    Batches are staged and committed one by one (bounded memory), then published in one transaction.
    Run again after a crash or Ctrl-C, the same import (same files, sizes, times and options) resumes
    after its last staged batch; any other import discards the unfinished one first.
    `update`: allow rows from one source to replace rows of another (see store.staging.stage_batch).
    `dry_run`: read and check everything against an empty in-memory store and write nothing.
    """
    from workbench.ingest.images import ImageBatch
    from workbench.store import connect, staging
    if run is not None and not run.strip():
        raise UsageError("--run: give the run a name")
    mapping = mapping or {}
    summary = ImportSummary(dry_run=dry_run)
    planned = _plan(paths, fmt)
    for p in list(planned):
        try:
            _check_per_sample(p, mapping)
        except InputError as exc:
            if len(planned) == 1:
                raise
            planned.remove(p)   # a score table among result files: said, skipped
            summary.warnings.append(f"{exc} (skipped)")
    images = ImageBatch(image_root=image_root)
    store = ":memory:" if dry_run else db
    fingerprint = _fingerprint(planned, run=run, mapping=mapping, fmt=fmt, update=update, synthetic=synthetic,
                               image_root=image_root, strict=strict)
    names = ", ".join(p.path.name for p in planned[:3]) + (f" and {len(planned) - 3} more" if len(planned) > 3 else "")
    with (_memory_store() if dry_run else connect(store)) as con:
        staging.prepare_import(con)
        attach: list[tuple[str, FileInfo]] = []
        keep = _arrange(planned, con, run, summary, attach)
        job = staging.open_job(con, fingerprint, f"import of {names}")
        for d in job.discarded:
            summary.warnings.append(f"an unfinished import was discarded (it had published nothing): {d}")
        if job.resumed:
            summary.warnings.append(f"resuming the unfinished import started {job.started_at:%Y-%m-%d %H:%M} UTC "
                                    f"after its last staged batch")
        bar = _progress(sum(p.n_bytes for p in keep), progress and not dry_run)
        # image counts of the interrupted run (resume): stored, missing, unreadable references, the first one
        before = staging.image_counts(con, job.import_id) if job.resumed else (0, 0, 0, "")
        # a small import stages and publishes in one transaction: its staged rows are never written to disk
        # twice (committed batches are: once staged, once published); nothing to resume, nothing lost
        one_tx = not dry_run and sum(p.n_bytes * (GZ_RATIO if p.path.suffix == ".gz" else 1)
                                     for p in keep) <= SMALL_IMPORT_BYTES
        try:
            if one_tx:
                con.execute("BEGIN TRANSACTION")
            staged = []
            for p in keep:
                done = bar.n if bar else 0
                staged.append(_stage_file(con, job.import_id, p, run=run, mapping=mapping, images=images,
                                          summary=summary, update=update, resume=job.resumed, before=before,
                                          bar=bar, seen=job.seen, commit=not one_tx))
                if bar:
                    bar.update(done + p.n_bytes - bar.n)   # the rest of the file (parquet, xlsx: all of it)
            summary.images_stored = before[0] + images.n_present
            summary.images_missing = before[1] + images.n_missing
            unreadable = before[2] + len(images.missing_refs)
            if unreadable:
                first = before[3] or images.missing_refs[0]
                msg = (f"{unreadable} image reference(s) could not be read; the samples are kept with the image "
                       f"recorded as missing. First: {first}")
                if strict:
                    raise InputError(msg + " (--strict)")
                summary.warnings.append(msg)
            _publish(con, job.import_id, staged, attach, summary, commit=not dry_run, mapping=mapping,
                     image_root=image_root, synthetic=synthetic, begun=one_tx)
        except Exception:
            if one_tx:
                with contextlib.suppress(Exception):   # _publish rolled back already when it failed
                    con.execute("ROLLBACK")
            # bad input (or a failed write): the staged batches go; a crash or Ctrl-C keeps them to resume
            staging.discard(con, job.import_id)
            raise
        finally:
            if bar:
                bar.close()
    return summary


def _fingerprint(planned: list[Planned], **options: Any) -> str:
    """Identity of an import (files with their sizes and times, and the options): a re-run resumes."""
    files = []
    for p in planned:
        st = p.path.stat()
        files.append([str(p.path.resolve()), st.st_size, st.st_mtime_ns])
    text = json.dumps({"files": files, **{k: str(v) for k, v in options.items()}}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _memory_store:
    """A migrated in-memory store for --dry-run (the real store is not even opened)."""

    def __enter__(self) -> Any:  # a duckdb connection (imported lazily)
        import duckdb

        from workbench.store.migrations import apply_migrations
        self.con = duckdb.connect(":memory:")
        apply_migrations(self.con)
        return self.con

    def __exit__(self, *exc: Any) -> None:
        self.con.close()


@dataclass
class _Staged:
    """One file's staged state: its runs and what it brought (restored from the store on resume)."""
    p: Planned
    runs: dict[str, list[str]] = field(default_factory=dict)            # run name -> [run id, model]
    per_run: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    n_records: int = 0
    ids_from_lines: int = 0

    def state(self, images: ImageBatch, before: tuple[int, int, int, str]) -> dict[str, Any]:
        unreadable = before[2] + len(images.missing_refs)
        first = before[3] or (images.missing_refs[0] if images.missing_refs else "")
        return {"runs": self.runs, "per_run": self.per_run, "notes": self.notes,
                "unreadable_images": unreadable, "first_unreadable": first}


# An import of at most this much input (a .gz counted GZ_RATIO times) is staged and published in one
# transaction, so its rows are written once, not staged then published (the dev set, 73 MB: 0.62-0.69 GB
# peak, 0.61 GB batched). Killed midway, it has nothing to resume.
SMALL_IMPORT_BYTES = 96 * 1024 * 1024
GZ_RATIO = 5


def _stage_file(con: Any, import_id: str, p: Planned, *, run: str | None, mapping: dict[str, str],
                images: ImageBatch, summary: ImportSummary, update: bool, resume: bool,
                before: tuple[int, int, int, str], bar: Any = None, seen: SeenIds | None = None,
                commit: bool = True) -> _Staged:
    """Read one file and stage it batch by batch, each batch in its own committed transaction
    (`commit`=False: all of them inside the caller's transaction)."""
    from workbench.store import staging
    from workbench.store.samples import samples_table
    info = p.info
    base_name = run or info.run_name
    prefix = f"{info.task}/" if run and info.task else ""   # a run named by the user may hold several tasks
    path_str = str(p.path)
    st = _Staged(p)
    done = staging.staged_batches(con, import_id, path_str) if resume else []
    skip_until = 0
    if done:
        last = done[-1]
        skip_until = last["last_line"]
        st.runs, st.per_run, st.notes = last["state"]["runs"], last["state"]["per_run"], last["state"]["notes"]
        st.n_records, st.ids_from_lines = last["n_records"], last["ids_from_lines"]
    file_counts: Counter = Counter(records=st.n_records, ids_from_lines=st.ids_from_lines)

    def run_for(column_model: str | None) -> str:
        # several models side by side in one file (one response column each): one run per model
        name = base_name if column_model is None or run else f"{base_name}/{column_model}"
        if name not in st.runs:
            run_id = slugify_run(name)
            st.runs[name] = [run_id, column_model or info.model or ""]
            st.per_run.setdefault(run_id, {})
            st.notes.setdefault(run_id, list(info.notes))
        return st.runs[name][0]

    preview: dict[str, Any] | None = None
    batch_no = len(done)
    bar_start = bar.n if bar else 0
    in_tx = False
    try:
        for last_line, rows in _rows(p, mapping, images, summary.warnings, file_counts, skip_until=skip_until):
            by_run: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                column_model = row.pop("__model_column", None)
                row["sample_id"] = prefix + (f"{column_model}/" if column_model and run else "") + row["sample_id"]
                by_run.setdefault(run_for(column_model), []).append(row)
            if summary.dry_run and preview is None and rows:
                preview = {"path": path_str, "format": p.fmt.name, "container": p.src.container,
                           "run": next(iter(by_run)), "mapping": field_mapping(p, mapping),
                           "first_record": {k: v for k, v in rows[0].items()}}
            if commit and not in_tx:
                con.execute("BEGIN TRANSACTION")
                in_tx = True
            images.flush(con)
            for run_id, run_rows in by_run.items():
                res = staging.stage_batch(con, import_id, run_id, samples_table(run_rows), path=path_str,
                                          allow_update=update, seen=seen)
                counts = st.per_run[run_id]
                for k, v in res.counts.items():
                    counts[k] = counts.get(k, 0) + v
                st.notes[run_id].extend(res.notes)
            staging.record_batch(con, import_id, path_str, batch_no, last_line=last_line,
                                 n_records=file_counts["records"], ids_from_lines=file_counts["ids_from_lines"],
                                 images_stored=before[0] + images.n_present,
                                 images_missing=before[1] + images.n_missing, state=st.state(images, before))
            batch_no += 1
            if in_tx:
                con.execute("COMMIT")
                in_tx = False
            pos = p.src.bytes_read() if bar else None
            if bar and pos is not None:
                bar.update(max(0, bar_start + min(pos, p.n_bytes) - bar.n))   # progress within the file
    except BaseException:
        if in_tx:
            con.execute("ROLLBACK")
        raise
    if not st.runs:
        raise InputError("no records found in this file (a summary or an empty document?)", path=path_str)
    st.n_records, st.ids_from_lines = file_counts["records"], file_counts["ids_from_lines"]
    if preview is not None:
        summary.preview.append(preview)
    return st


def _publish(con: Any, import_id: str, staged: list[_Staged], attach: list[tuple[str, FileInfo]],
             summary: ImportSummary, *, commit: bool, mapping: dict[str, str], image_root: Path | None,
             synthetic: bool, begun: bool = False) -> None:
    """The import's one visible transaction: runs, samples, provenance and summaries together
    (`begun`: the caller's transaction, which staged the rows too)."""
    from workbench.store import staging
    from workbench.store import summary as summaries
    from workbench.store.runs import attach_source_info, record_import_file, refresh_run_counts, upsert_run
    staging.before_publish(con)
    if not begun:
        con.execute("BEGIN TRANSACTION")
    try:
        touched: list[str] = []
        for st in staged:
            p = st.p
            settings = {"format": p.src.container, "flavour": p.fmt.name, "map": mapping,
                        "image_root": str(image_root) if image_root else None}
            for name, (run_id, model) in st.runs.items():
                upsert_run(con, RunRecord(run_id=run_id, name=name, model=model or None,
                                          source=f"import:{p.fmt.name}:{p.path.name}", settings=settings,
                                          synthetic=synthetic))
        staging.publish(con, import_id)
        for run_id, info in attach:
            attach_source_info(con, run_id, config=info.config, reported=info.reported)
        for st in staged:
            p, info, path_str = st.p, st.p.info, str(st.p.path)
            if st.ids_from_lines:
                what = "line" if p.src.container in ("jsonl", "csv", "tsv") else "row"
                for n in st.notes.values():
                    n.append(f"no id field: {st.ids_from_lines} sample ids are the {what} numbers")
            for run_id, counts in st.per_run.items():
                counts = dict(counts, ids_from_lines=st.ids_from_lines if len(st.per_run) == 1
                              else counts.get("ids_from_lines", 0))
                refresh_run_counts(con, run_id)
                attach_source_info(con, run_id, config=info.config, reported=info.reported)
                record_import_file(con, run_id, path=path_str, source_key=info.source_key, fmt=p.fmt.name,
                                   task=info.task, role=info.role, n_bytes=p.n_bytes, n_records=st.n_records,
                                   grade_field=info.grade_field, counts=counts, notes=st.notes[run_id])
                summary.files.append(FileResult(path_str, run_id, p.src.container, p.fmt.name, counts, info.role,
                                                st.notes[run_id]))
                touched.append(run_id)
        summaries.refresh(con, list(dict.fromkeys(touched)))   # in the same transaction: never seen stale
        con.execute("COMMIT" if commit else "ROLLBACK")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def field_mapping(p: Planned, mapping: dict[str, str]) -> dict[str, str]:
    """Which source field feeds each stored column, as seen in the file's first records (for --dry-run)."""
    keys = p.src.keys
    out: dict[str, str] = {}
    for column, candidates in p.fmt.fields(p.info).items():
        if column in mapping:
            out[column] = f"{mapping[column]} (--map)"
            continue
        hit = next((c for c in candidates if c in keys), None)
        if hit:
            out[column] = hit if not hit.startswith("__") else f"({p.fmt.name}: {hit.strip('_')})"
    if p.info.grade_field:
        out["correct"] = p.info.grade_field
    return out


def summary_text(summary: ImportSummary) -> str:
    lines = []
    for f in summary.files:
        c = f.counts
        if not f.run_id or f.role == "summary" or not c:
            lines.append(f"{f.path}: {f.flavour}: {'; '.join(f.notes)}")
            continue
        extra = []
        if c.get("identical_repeats"):
            extra.append(f"{c['identical_repeats']} identical repeats stored once")
        if c.get("kept_apart"):
            extra.append(f"{c['kept_apart']} repeated ids kept apart as id#2...")
        if c.get("ids_from_lines"):
            extra.append(f"{c['ids_from_lines']} ids from line numbers (no id field)")
        lines.append(f"{f.path}: {c.get('total', 0)} samples into run '{f.run_id}' ({f.flavour}, {f.container}): "
                     f"{c.get('new', 0)} new, {c.get('changed', 0)} changed, {c.get('unchanged', 0)} unchanged"
                     + (f"; {', '.join(extra)}" if extra else ""))
        for n in f.notes[:6]:
            lines.append(f"  - {n}")
    lines.append(f"images: {summary.images_stored} stored, {summary.images_missing} missing")
    if summary.dry_run:
        lines.append("dry run: nothing was written (counts are against an empty store)")
    return "\n".join(lines)


def preview_text(summary: ImportSummary) -> str:
    """--dry-run: detected format, field mapping and the first record as it would be stored."""
    out = []
    for pv in summary.preview:
        out.append(f"{pv['path']}: format {pv['format']} ({pv['container']}), run '{pv['run']}'")
        out.append("  field mapping (stored column <- source field):")
        out += [f"    {k:<18} <- {v}" for k, v in pv["mapping"].items()]
        out.append("  first record as stored:")
        for k, v in pv["first_record"].items():
            s = json.dumps(v, ensure_ascii=False, default=str)
            out.append(f"    {k:<18} {s if len(s) <= 160 else s[:157] + '...'}")
    return "\n".join(out)
