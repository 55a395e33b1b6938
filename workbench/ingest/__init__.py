"""Import cached runs into the store: one transaction per import, idempotent, clear errors.

    summary = import_paths([Path("results.jsonl")], db, run="my-run")

Formats (auto-detected from the extension and the fields): generic JSONL (.jsonl, .jsonl.gz),
JSON arrays, Parquet, CSV/TSV, XLSX; flavours: generic, qvq-dev (the shape of the shared QVQ
traces), vlmevalkit, lmms-eval. See workbench/ingest/normalize.py for the field mapping.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import InputError, UsageError
from workbench.ingest.images import ImageBatch
from workbench.ingest.normalize import detect_flavour, file_meta, normalize
from workbench.ingest.readers import read_records, sniff_format
from workbench.records import RunRecord, slugify_run
from workbench.store import connect
from workbench.store.runs import refresh_run_counts, upsert_run
from workbench.store.samples import samples_table, upsert_samples


@dataclass
class FileResult:
    path: str
    run_id: str
    container: str
    flavour: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class ImportSummary:
    files: list[FileResult] = field(default_factory=list)
    images_stored: int = 0
    images_missing: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def run_ids(self) -> list[str]:
        return sorted({f.run_id for f in self.files})


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    aliases = {"id": "sample_id", "answer": "ground_truth", "image": "images"}
    for item in items or []:
        if "=" not in item:
            raise UsageError(f"--map takes field=source_field, got {item!r}")
        k, v = (s.strip() for s in item.split("=", 1))
        mapping[aliases.get(k, k)] = v
    valid = {"sample_id", "question", "response", "final_answer", "ground_truth", "correct", "benchmark",
             "subset", "model", "finish_reason", "prompt_tokens", "completion_tokens", "images"}
    bad = set(mapping) - valid
    if bad:
        raise UsageError(f"--map: unknown field(s) {', '.join(sorted(bad))}; mappable: {', '.join(sorted(valid))}")
    return mapping


def _progress(total_bytes: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total_bytes, unit="B", unit_scale=True, desc="import", file=sys.stderr,
                disable=total_bytes < 20_000_000 or not sys.stderr.isatty())


def read_file(path: Path, *, fmt: str = "auto", mapping: dict[str, str] | None = None,
              images: ImageBatch, warnings: list[str]) -> tuple[list[dict[str, Any]], str, str]:
    """Read and normalise one file; image refs are resolved into `images`. Raises InputError."""
    container = sniff_format(path, fmt if fmt not in ("qvq-dev", "vlmevalkit", "lmms-eval") else "auto")
    rows: list[dict[str, Any]] = []
    flavour = fmt if fmt in ("qvq-dev", "vlmevalkit", "lmms-eval") else None
    meta: dict[str, Any] = {}
    base_dir = path.parent
    for line_no, raw in read_records(path, container):
        if flavour is None:
            flavour = detect_flavour(set(raw), container, path)
            meta = file_meta(path, flavour)
        elif not meta:
            meta = file_meta(path, flavour)
        norm = normalize(raw, flavour=flavour, mapping=mapping or {}, where=(str(path), line_no), file_meta=meta)
        row = norm.row
        row["image_ids"] = [images.resolve(ref, base_dir) for ref in norm.image_refs]
        row["source_file"] = str(path)
        row["source_line"] = line_no
        warnings.extend(norm.warnings)
        rows.append(row)
    return rows, container, flavour or "generic"


def import_paths(paths: list[Path], db: str | Path | None = None, *, run: str | None = None,
                 image_root: Path | None = None, mapping: dict[str, str] | None = None, fmt: str = "auto",
                 strict: bool = False, progress: bool = True, synthetic: bool = False) -> ImportSummary:
    """Import files into the store in ONE transaction; nothing is written when any file is bad."""
    for p in paths:
        if not p.exists():
            raise InputError("no such file", path=str(p))
        if p.is_dir():
            raise InputError("is a folder: name the result files (e.g. folder/*.jsonl)", path=str(p))
    summary = ImportSummary()
    images = ImageBatch(image_root=image_root)
    parsed: list[tuple[Path, list[dict[str, Any]], str, str]] = []
    bar = _progress(sum(p.stat().st_size for p in paths), progress)
    for p in paths:
        rows, container, flavour = read_file(p, fmt=fmt, mapping=mapping, images=images, warnings=summary.warnings)
        parsed.append((p, rows, container, flavour))
        if bar:
            bar.update(p.stat().st_size)
    if bar:
        bar.close()
    if images.missing_refs:
        msg = (f"{len(images.missing_refs)} referenced image file(s) could not be read; the samples are kept "
               f"with the image recorded as missing. First: {images.missing_refs[0]}")
        if strict:
            raise InputError(msg + " (--strict)")
        summary.warnings.append(msg)

    with connect(db) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            summary.images_stored, summary.images_missing = images.write(con)
            for p, rows, container, flavour in parsed:
                name = run or p.name.split(".")[0]
                run_id = slugify_run(name)
                settings = {"format": container, "flavour": flavour, "map": mapping or {},
                            "image_root": str(image_root) if image_root else None}
                upsert_run(con, RunRecord(run_id=run_id, name=name, source=f"import:{flavour}:{p.name}",
                                          settings=settings, synthetic=synthetic))
                counts = upsert_samples(con, run_id, samples_table(rows))
                refresh_run_counts(con, run_id)
                summary.files.append(FileResult(str(p), run_id, container, flavour, counts))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return summary


def summary_text(summary: ImportSummary) -> str:
    lines = []
    for f in summary.files:
        c = f.counts
        lines.append(f"{f.path}: {c.get('total', 0)} samples into run '{f.run_id}' ({f.flavour}, {f.container}): "
                     f"{c.get('new', 0)} new, {c.get('changed', 0)} changed, {c.get('unchanged', 0)} unchanged")
    lines.append(f"images: {summary.images_stored} stored, {summary.images_missing} missing")
    return "\n".join(lines)


def summary_json(summary: ImportSummary) -> str:
    return json.dumps({"files": [f.__dict__ for f in summary.files], "images_stored": summary.images_stored,
                       "images_missing": summary.images_missing, "warnings": summary.warnings})
