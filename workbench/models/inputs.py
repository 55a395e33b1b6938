"""Inputs of a model run: the importer's files (image + question [+ ground truth]) or a folder of
images with a questions file. Reuses workbench.ingest (one reader, one image loader)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import InputError

QUESTION_FILES = ("*.jsonl", "*.jsonl.gz", "*.json", "*.csv", "*.tsv", "*.parquet", "*.xlsx")


@dataclass
class RunInputs:
    rows: list[dict[str, Any]]                       # normalised sample rows (question, ground_truth, image_ids)
    images: dict[str, bytes] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)   # image id -> why it is unusable
    source: str = ""
    batch: Any = None                                # ImageBatch: writes the images to the store


def questions_file(folder: Path) -> Path:
    found = [p for pat in QUESTION_FILES for p in sorted(folder.glob(pat))]
    if len(found) != 1:
        raise InputError(f"a data folder needs exactly one questions file ({', '.join(QUESTION_FILES)}) next to "
                         f"its images; found {len(found)}", path=str(folder))
    return found[0]


def load_inputs(data: str | Path, *, limit: int | None = None) -> RunInputs:
    """Read the questions and their images. Raises InputError (file:line) for malformed input."""
    from workbench.ingest import read_file
    from workbench.ingest.images import ImageBatch
    path = Path(data).expanduser()
    if not path.exists():
        raise InputError("no such file or folder", path=str(path))
    root = None
    if path.is_dir():
        root, path = path, questions_file(path)
    batch = ImageBatch(image_root=root)
    rows, _, _ = read_file(path, images=batch, warnings=[])
    if limit is not None:
        rows = rows[:limit]
    for row in rows:
        if not row.get("question"):
            raise InputError("no question text", path=str(path), line=row.get("source_line"),
                             sample_id=row.get("sample_id"))
    images = {iid: v[0] for iid, v in batch.present.items()}
    reasons = dict(batch.missing)
    for ref in batch.missing_refs:
        for iid, shown in batch.missing.items():
            if ref.startswith(shown):
                reasons[iid] = ref
    return RunInputs(rows=rows, images=images, missing=reasons, source=str(path), batch=batch)
