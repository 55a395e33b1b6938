"""Source record -> sample row. One mapping per source flavour; unknown fields go to metadata.

Flavours:
- generic: `id`, `question`, `response`, `image`/`images`, `answer`/`ground_truth`, `model`, ...
- qvq-dev: the shape of ../shared/data/qvq-traces/dev.jsonl (`image_ref`, `n_images_in_prompt`,
  `image_note`, `final_answer_turn`, `correct`, ...)
- vlmevalkit: `<model>_<dataset>.tsv/.xlsx` result files (`index`, `question`, `answer`, options,
  `category`, `prediction`, optional `thinking`, optional base64 `image`)
- lmms-eval: `samples_<task>.jsonl` (`doc_id`, `target`, `input`, `resps`, `filtered_resps`, metrics)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import InputError

EXCEL_CELL_LIMIT = 32767
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]{64,}$")
_IMAGE_EXT = re.compile(r"\.(png|jpe?g|gif|bmp|webp|tiff?)$", re.I)

# column -> source field names tried in order (generic flavour)
GENERIC_FIELDS: dict[str, tuple[str, ...]] = {
    "sample_id": ("id", "sample_id", "question_id", "index", "doc_id", "uid"),
    "question": ("question", "prompt", "query", "input"),
    "response": ("response", "output", "completion", "prediction", "generation"),
    "final_answer": ("final_answer", "pred_answer", "extracted_answer"),
    "ground_truth": ("ground_truth", "answer", "gt", "target", "label", "gold"),
    "correct": ("correct", "is_correct", "hit"),
    "benchmark": ("benchmark", "dataset", "task"),
    "subset": ("subset", "category", "subject"),
    "model": ("model", "model_name"),
    "finish_reason": ("finish_reason", "stop_reason"),
    "prompt_tokens": ("prompt_tokens", "input_tokens"),
    "completion_tokens": ("completion_tokens", "output_tokens", "response_tokens"),
}
IMAGE_FIELDS = ("images", "image", "image_path", "image_paths", "image_ref", "image_url")


@dataclass
class Normalized:
    row: dict[str, Any]
    image_refs: list[str] = field(default_factory=list)   # path / data: URI / base64: / note:
    warnings: list[str] = field(default_factory=list)


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _text(v: Any) -> str | None:
    if _is_missing(v):
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _bool(v: Any, where: tuple[str, int], name: str) -> bool | None:
    if _is_missing(v) or v == "":
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    s = str(v).strip().lower()
    if s in ("true", "t", "yes", "y", "1", "1.0", "correct"):
        return True
    if s in ("false", "f", "no", "n", "0", "0.0", "incorrect", "wrong"):
        return False
    raise InputError(f"field '{name}' must be true/false (or 1/0), got {str(v)[:40]!r}",
                     path=where[0], line=where[1])


def _int(v: Any, where: tuple[str, int], name: str) -> int | None:
    if _is_missing(v) or v == "":
        return None
    try:
        return int(float(v))
    except (TypeError, ValueError):
        raise InputError(f"field '{name}' must be a whole number, got {str(v)[:40]!r}",
                         path=where[0], line=where[1]) from None


def _first_text(v: Any) -> str | None:
    """lmms-eval responses are strings, or (nested) lists of strings: take the first string."""
    while isinstance(v, (list, tuple)):
        if not v:
            return None
        v = v[0]
    return _text(v)


def _image_refs(value: Any) -> list[str]:
    if _is_missing(value) or value == "":
        return []
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for v in value:
            out += _image_refs(v)
        return out
    if isinstance(value, dict):  # e.g. {"path": ..} or {"bytes": ..}
        for key in ("path", "url", "image", "bytes"):
            if key in value and value[key] is not None:
                v = value[key]
                if isinstance(v, (bytes, bytearray)):
                    import base64
                    return ["base64:" + base64.b64encode(v).decode()]
                return _image_refs(v)
        return []
    s = str(value).strip()
    if s.startswith("[") and s.endswith("]"):  # a list serialised into a CSV cell
        import json
        try:
            return _image_refs(json.loads(s))
        except ValueError:
            pass
    return [s] if s else []


def normalize(raw: dict[str, Any], *, flavour: str, mapping: dict[str, str], where: tuple[str, int],
              file_meta: dict[str, Any]) -> Normalized:
    """Map one source record to a sample row (SAMPLE_FIELDS keys) + image references."""
    used: set[str] = set()
    row: dict[str, Any] = {}

    def take(column: str, candidates: tuple[str, ...]) -> Any:
        if column in mapping:
            src = mapping[column]
            if src not in raw:
                raise InputError(f"--map {column}={src}: the record has no field '{src}'",
                                 path=where[0], line=where[1])
            used.add(src)
            return raw[src]
        for name in candidates:
            if name in raw:
                used.add(name)
                return raw[name]
        return None

    fields = dict(GENERIC_FIELDS)
    images_value: Any = None
    warnings: list[str] = []
    n_images_hint: int | None = None
    note: str | None = None
    if flavour == "qvq-dev":
        fields["final_answer"] = ("final_answer_turn",) + fields["final_answer"]
        n_images_hint = _int(raw.get("n_images_in_prompt"), where, "n_images_in_prompt")
        used.update({"n_images_in_prompt", "image_note"})
        note = _text(raw.get("image_note"))
    elif flavour == "vlmevalkit":
        fields["sample_id"] = ("index",) + fields["sample_id"]
        fields["subset"] = ("category", "l2-category", "split") + fields["subset"]
        thinking = raw.get("thinking")
        if not _is_missing(thinking) and str(thinking).strip():
            fields["response"] = ("thinking",)
            fields["final_answer"] = ("prediction",)
        else:
            fields["response"] = ("prediction",)
    elif flavour == "lmms-eval":
        fields["sample_id"] = ("doc_id",)
        fields["question"] = ("input",)
        fields["ground_truth"] = ("target",)
        resps, filtered = raw.get("resps"), raw.get("filtered_resps")
        used.update({"resps", "filtered_resps"})
        trace = _first_text(resps) if resps is not None else None
        final = _first_text(filtered)
        row["response"] = trace if trace is not None else final
        row["final_answer"] = final if trace is not None and final != trace else None
        fields.pop("response")
        fields.pop("final_answer")

    for column, candidates in fields.items():
        row[column] = take(column, candidates)
    if "images" in mapping:
        images_value = take("images", ())
    else:
        for name in IMAGE_FIELDS:
            if name in raw and not _is_missing(raw[name]):
                used.add(name)
                images_value = raw[name] if images_value is None else images_value
            elif name in raw:
                used.add(name)

    sid = _text(row.get("sample_id"))
    if sid is None or sid == "":
        raise InputError("the record has no id (looked for id, sample_id, index, doc_id; "
                         "name the field with --map sample_id=FIELD)", path=where[0], line=where[1])
    row["sample_id"] = sid
    for column in ("question", "response", "final_answer", "ground_truth", "benchmark", "subset", "model",
                   "finish_reason"):
        v = row.get(column)
        row[column] = _text(v) if not isinstance(v, (list, dict)) else _first_text(v) if isinstance(v, list) else str(v)
    row["correct"] = _bool(row.get("correct"), where, "correct")
    row["prompt_tokens"] = _int(row.get("prompt_tokens"), where, "prompt_tokens")
    row["completion_tokens"] = _int(row.get("completion_tokens"), where, "completion_tokens")
    for column in ("benchmark", "model"):
        if row.get(column) is None and file_meta.get(column):
            row[column] = file_meta[column]
    if row.get("finish_reason") is not None:
        row["finish_reason"] = {"stop": "eos", "end_turn": "eos", "max_tokens": "length"}.get(
            row["finish_reason"], row["finish_reason"])

    refs = _image_refs(images_value)
    if flavour == "vlmevalkit":
        refs = ["base64:" + r if _BASE64.match(r) and not _IMAGE_EXT.search(r) else r for r in refs]
    if n_images_hint and len(refs) < n_images_hint:
        # the model saw images that the source does not carry: keep them as missing, with the note
        refs += [f"note:{note or 'image not included in the source'}#{i + 1}"
                 for i in range(len(refs), n_images_hint)]
    for column in ("response", "question"):
        v = row.get(column)
        if isinstance(v, str) and len(v) == EXCEL_CELL_LIMIT:
            warnings.append(f"{where[0]}:{where[1]}: sample {sid!r}: {column} is exactly {EXCEL_CELL_LIMIT} "
                            f"characters, Excel's cell limit: it was probably truncated (export TSV instead)")
    for column in ("question", "response", "final_answer", "ground_truth"):
        v = row.get(column)
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InputError(f"field '{column}' contains an unpaired surrogate ({v[exc.start]!r} at "
                                 f"character {exc.start}) that cannot be stored as UTF-8",
                                 path=where[0], line=where[1], sample_id=sid) from None
    meta = {k: v for k, v in raw.items() if k not in used and not _is_missing(v)}
    row["metadata"] = _json_safe(meta)
    row["n_images"] = len(refs)
    return Normalized(row, refs, warnings)


def _json_safe(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return f"<{len(v)} bytes>"
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, str):
        return v.encode("utf-8", "replace").decode("utf-8")
    return v


_VLMEVAL_NAME = re.compile(r"^(?P<model>.+?)_(?P<dataset>[A-Za-z][A-Za-z0-9\-]*(?:_[A-Za-z0-9\-]+)*)$")


def file_meta(path: Path, flavour: str) -> dict[str, Any]:
    """What the file name says (VLMEvalKit: <model>_<dataset>; lmms-eval: samples_<task>)."""
    stem = path.name.split(".")[0]
    if flavour == "lmms-eval":
        m = re.search(r"samples_(.+)$", stem)
        return {"benchmark": m.group(1) if m else None, "model": path.parent.name or None}
    if flavour == "vlmevalkit":
        model = path.parent.name
        if model and stem.startswith(model + "_"):
            return {"model": model, "benchmark": stem[len(model) + 1:]}
        m = _VLMEVAL_NAME.match(stem)
        return {"model": m.group("model"), "benchmark": m.group("dataset")} if m else {}
    return {}


def detect_flavour(fields: set[str], container: str, path: Path) -> str:
    if {"doc_id"} <= fields and ({"resps", "filtered_resps"} & fields):
        return "lmms-eval"
    if {"n_images_in_prompt", "final_answer_turn"} & fields or "image_note" in fields:
        return "qvq-dev"
    if "prediction" in fields and ("index" in fields or container in ("tsv", "xlsx", "csv")):
        return "vlmevalkit"
    return "generic"
