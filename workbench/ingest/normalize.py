"""Source record -> sample row, with the format's field map. Unknown fields are kept as metadata.

The format (workbench/ingest/formats/) says which source fields feed which column and adjusts the
result in its hooks; this module applies the map the same way for every format: first present field
wins, `--map column=path` overrides (nested paths like `score[0]`, `mme_cognition_score.score`), values
are coerced and checked (text, grades, whole numbers, unicode), images are collected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.errors import InputError
from workbench.ingest.fields import (
    Where,
    check_unicode,
    get_path,
    grade,
    image_refs,
    is_blank,
    is_missing,
    json_safe,
    required_grade,
    text,
    whole_number,
)
from workbench.ingest.formats.base import THINKING_FIELDS, FileInfo, Format

EXCEL_CELL_LIMIT = 32767
TEXT_COLUMNS = ("sample_id", "question", "response", "final_answer", "ground_truth", "benchmark", "subset",
                "model", "finish_reason")
_FINISH = {"stop": "eos", "end_turn": "eos", "eos": "eos", "max_tokens": "length", "length": "length"}
_NUMBERED_IMAGES = tuple(f"image_{i}" for i in range(1, 8))


@dataclass
class Normalized:
    row: dict[str, Any]
    image_refs: list[str] = field(default_factory=list)   # path / data: URI / base64: / note:
    warnings: list[str] = field(default_factory=list)
    id_from_line: bool = False


def normalize(raw: dict[str, Any], *, fmt: Format, info: FileInfo, mapping: dict[str, str],
              where: Where) -> Normalized:
    """Map one source record to a sample row (SAMPLE_FIELDS keys) + image references."""
    raw = fmt.prepare(raw, info)
    used: set[str] = set()
    row: dict[str, Any] = {}
    took: dict[str, str] = {}   # column -> the source field that supplied it

    def take(column: str, candidates: tuple[str, ...]) -> Any:
        if column in mapping:
            src = mapping[column]
            found, value = get_path(raw, src)
            if not found:
                raise InputError(f"--map {column}={src}: the record has no field '{src}'",
                                 path=where[0], line=where[1])
            used.add(src)
            return value
        value = None
        for name in candidates:
            if name in raw:
                used.add(name)
                if value is None and not is_missing(raw[name]):
                    value = raw[name]
                    took[column] = name
        return value

    fields = fmt.fields(info)
    for column, candidates in fields.items():
        row[column] = take(column, candidates)

    # a reasoning field beside the answer: the reasoning is the trace, the answer is the final answer
    if "response" not in mapping:
        for name in THINKING_FIELDS:
            if name in raw and not is_blank(raw[name]) and name not in fields.get("response", ()):
                used.add(name)
                if row.get("final_answer") is None:
                    row["final_answer"] = row.get("response")
                row["response"] = raw[name]
                break

    warnings: list[str] = []
    sid = text(row.get("sample_id"))
    id_from_line = sid is None or not sid.strip()
    if id_from_line:
        if "sample_id" in mapping:
            raise InputError(f"--map sample_id={mapping['sample_id']}: the field is empty",
                             path=where[0], line=where[1])
        sid = str(where[1])
    row["sample_id"] = sid
    for column in TEXT_COLUMNS[1:]:
        row[column] = text(row.get(column))
    for column in TEXT_COLUMNS:
        v = row.get(column)
        if isinstance(v, str):
            check_unicode(v, where, column, sid)
    # a field named `correct` (or given with --map) must be a grade; other grade-like fields (`hit`, `if_right`,
    # ...) that hold something else (a rating, a judge's text) are not a grade: the value stays in metadata
    grade_from = mapping.get("correct") or took.get("correct")
    if grade_from is None or "correct" in mapping or grade_from == "correct":
        row["correct"] = required_grade(row.get("correct"), where, grade_from or "correct")
    else:
        row["correct"] = grade(row.get("correct"))
        if row["correct"] is None:
            used.discard(grade_from)
    row["prompt_tokens"] = whole_number(row.get("prompt_tokens"), where, "prompt_tokens")
    row["completion_tokens"] = whole_number(row.get("completion_tokens"), where, "completion_tokens")
    for column in ("benchmark", "model"):
        if row.get(column) is None and getattr(info, column):
            row[column] = getattr(info, column)
    if row.get("finish_reason") is not None:
        row["finish_reason"] = _FINISH.get(row["finish_reason"].strip().lower(), row["finish_reason"])

    refs = fmt.images(raw, _images(raw, fmt, info, mapping, used), info)
    used.update(fmt.consumed)
    fmt.post(row, raw, info)
    for column in ("response", "question"):
        v = row.get(column)
        if isinstance(v, str) and len(v) == EXCEL_CELL_LIMIT:
            warnings.append(f"{where[0]}:{where[1]}: sample {sid!r}: {column} is exactly {EXCEL_CELL_LIMIT} "
                            f"characters, Excel's cell limit: it was probably truncated (export TSV instead)")
    meta = {k: v for k, v in raw.items() if k not in used and not k.startswith("__") and not is_missing(v)}
    row["metadata"] = json_safe(meta)
    row["n_images"] = len(refs)
    row["source_id"] = sid
    return Normalized(row, refs, warnings, id_from_line)


def _images(raw: dict[str, Any], fmt: Format, info: FileInfo, mapping: dict[str, str], used: set[str]) -> list[str]:
    if "images" in mapping:
        found, value = get_path(raw, mapping["images"])
        used.add(mapping["images"])
        return image_refs(value) if found else []
    names = fmt.image_fields(info)
    refs: list[str] = []
    for name in names:
        if name in raw:
            used.add(name)
            if refs and name not in _NUMBERED_IMAGES:
                continue  # `image` and `image_path` of one image: the first one given is enough
            if not is_blank(raw[name]):
                got = image_refs(raw[name])
                refs = refs + got if name in _NUMBERED_IMAGES else (refs or got)
    return refs
