"""What a source format is: sniffing, file metadata, a field map and post-processing.

A format module defines one `Format` subclass instance `FORMAT` (some also a summary format) and is
listed once in `workbench/ingest/formats/__init__.py`. The shared normaliser (`normalize.py`) turns a
record into a sample row with the format's field map; the format's hooks handle what a map cannot say.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.ingest.readers import Source, stem

# Stored column -> source fields tried in order (the generic map; formats start from it).
GENERIC_FIELDS: dict[str, tuple[str, ...]] = {
    "sample_id": ("id", "sample_id", "question_id", "qid", "uid", "index", "doc_id", "pid", "idx"),
    "question": ("question", "prompt", "query", "input", "problem"),
    "response": ("response", "output", "completion", "prediction", "generation", "model_output", "answer_text"),
    "final_answer": ("final_answer", "pred_answer", "extracted_answer", "model_answer", "extraction", "pred"),
    "ground_truth": ("ground_truth", "answer", "gt", "target", "label", "gold", "reference"),
    "correct": ("correct", "is_correct", "hit", "if_right", "true_false"),
    "benchmark": ("benchmark", "dataset", "task"),
    "subset": ("subset", "category", "subject", "subfield", "split"),
    "model": ("model", "model_name", "model_id"),
    "finish_reason": ("finish_reason", "stop_reason"),
    "prompt_tokens": ("prompt_tokens", "input_tokens"),
    "completion_tokens": ("completion_tokens", "output_tokens", "response_tokens", "num_tokens"),
}
IMAGE_FIELDS = ("images", "image", "image_path", "image_paths", "image_ref", "image_url", "input_media",
                "image_1", "image_2", "image_3", "image_4", "image_5", "image_6", "image_7")
# A separate reasoning field beside the answer: the reasoning is the trace, the answer the final answer.
THINKING_FIELDS = ("thinking", "reasoning", "reasoning_content", "thought")
MAPPABLE = (*tuple(GENERIC_FIELDS), "images")


@dataclass
class FileInfo:
    """What a format learned about one file (from its name, folder, siblings and first records)."""
    format: str
    role: str = "samples"                 # samples | judged | summary
    run_name: str = ""
    model: str | None = None
    benchmark: str | None = None
    task: str | None = None               # prefixes sample ids when a run holds several tasks
    source_key: str = ""
    config: dict[str, Any] | None = None  # the source's run configuration (runs.config)
    reported: dict[str, Any] | None = None  # metrics the source reported (runs.reported)
    grade_field: str | None = None        # the field `correct` comes from (a path), or None
    notes: list[str] = field(default_factory=list)
    skip_paths: set[str] = field(default_factory=set)  # sibling files this one already reads
    extra: dict[str, Any] = field(default_factory=dict)  # format-private state
    summary_of: str | None = None         # summaries: what to import with it (for the message)

    def attach_reported(self, sibling: Path, metrics: Any, what: str = "reported accuracy") -> None:
        """Keep a sibling file's metrics as the run's reported ones; the file is read here, not imported."""
        self.reported = {**(self.reported or {}), sibling.name: metrics}
        self.skip_paths.add(str(sibling.resolve()))
        self.notes.append(f"{what} read from {sibling.name}")


class Format:
    """Base: the generic behaviour. Subclasses narrow `sniff`, extend `fields`, add hooks."""
    name = "generic"
    role = "samples"
    description = "JSONL / JSON / Parquet / CSV / TSV / XLSX with the usual field names"
    consumed: tuple[str, ...] = ()   # source fields the hooks read (not kept as metadata)

    def sniff(self, src: Source) -> int:
        """0: not this format; higher: more specific (the registry takes the highest)."""
        return 1

    def file_info(self, src: Source) -> FileInfo:
        name = stem(src.path)
        return FileInfo(self.name, role=self.role, run_name=name, source_key=src.path.name)

    def fields(self, info: FileInfo) -> dict[str, tuple[str, ...]]:
        return dict(GENERIC_FIELDS)

    def image_fields(self, info: FileInfo) -> tuple[str, ...]:
        return IMAGE_FIELDS

    def expand(self, raw: dict[str, Any], info: FileInfo) -> list[dict[str, Any]]:
        """One source record -> the records to store (several samples per record: n > 1 samplings)."""
        return [raw]

    def prepare(self, raw: dict[str, Any], info: FileInfo) -> dict[str, Any]:
        """Rewrite a record before the field map is applied (e.g. lmms-eval responses)."""
        return raw

    def images(self, raw: dict[str, Any], refs: list[str], info: FileInfo) -> list[str]:
        """The record's image references (after the image fields were read)."""
        return refs

    def post(self, row: dict[str, Any], raw: dict[str, Any], info: FileInfo) -> None:
        """Adjust the normalised row (subset from the id, answers from metric dicts, ...)."""


def folder_name(path: Path, up: int = 1) -> str | None:
    """Name of the folder `up` levels above the file ('' and '.' as None)."""
    p = path.resolve().parent
    for _ in range(up - 1):
        p = p.parent
    return p.name or None


SIBLING_MAX_BYTES = 64 * 2**20   # a metrics file beside a result file is small; never read a big one


def read_json_sibling(candidates: list[Path]) -> tuple[Path, Any] | None:
    """The first candidate that is a regular file under SIBLING_MAX_BYTES holding valid JSON, parsed."""
    for cand in candidates:
        try:
            if cand.is_file() and cand.stat().st_size < SIBLING_MAX_BYTES:
                return cand, json.loads(cand.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return None
