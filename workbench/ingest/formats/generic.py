"""Generic result files: JSONL / JSON (array, {"samples": [...]}, object keyed by id) / Parquet / CSV / TSV /
XLSX with the usual field names (`id`, `question`, `response`, `answer`, `correct`, `model`, images, ...).

Anything not mapped to a column is kept in `samples.metadata`. A file without an id field takes its line
or row number as the id; a `thinking` field beside the answer is the trace.
"""

from __future__ import annotations

import re
from typing import Any

from workbench.ingest.formats.base import GENERIC_FIELDS, FileInfo, Format
from workbench.ingest.readers import KEY_FIELD, VALUE_FIELD, Source

# one response column per model: `response_<model>`, `<model>_response`, `prediction:<model>`, ...
_MODEL_COLUMN = re.compile(r"^(?:(?:response|prediction|output)[_:\- ](?P<a>.+)"
                           r"|(?P<b>.+?)[_:\- ](?:response|prediction|output))$")
_RESPONSE_NAMES = set(GENERIC_FIELDS["response"])


def model_columns(keys: set[str]) -> dict[str, str]:
    """{column: model} when a file holds two or more models' responses side by side (and no plain response)."""
    if keys & _RESPONSE_NAMES:
        return {}
    found = {}
    for k in sorted(keys):
        m = _MODEL_COLUMN.match(k)
        if m:
            found[k] = m.group("a") or m.group("b")
    return found if len(found) >= 2 else {}


class Generic(Format):
    name = "generic"

    def file_info(self, src: Source) -> FileInfo:
        info = super().file_info(src)
        cols = model_columns(src.keys)
        if cols:
            info.extra["model_columns"] = cols
            info.notes.append(f"{len(cols)} models side by side ({', '.join(cols.values())}): one run each")
        return info

    def expand(self, raw: dict[str, Any], info: FileInfo) -> list[dict[str, Any]]:
        cols: dict[str, str] = info.extra.get("model_columns", {})
        if not cols:
            return [raw]
        rest = {k: v for k, v in raw.items() if k not in cols}
        return [{**rest, "response": raw.get(col), "__model_column": model, "model": model}
                for col, model in cols.items() if col in raw]

    def post(self, row: dict[str, Any], raw: dict[str, Any], info: FileInfo) -> None:
        if "__model_column" in raw:
            row["__model_column"] = raw["__model_column"]

    def fields(self, info: FileInfo) -> dict[str, tuple[str, ...]]:
        f = dict(GENERIC_FIELDS)
        # an object keyed by id: the key is the id; a plain value is the response
        f["sample_id"] = f["sample_id"] + (KEY_FIELD,)
        f["response"] = f["response"] + (VALUE_FIELD,)
        return f


FORMAT = Generic()
