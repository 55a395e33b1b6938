"""Value coercion shared by every format: text, grades, whole numbers, nested paths, image references.

Every function that can reject a value takes `where` = (file, line) so the error names the place.
"""

from __future__ import annotations

import ast
import json
import math
import re
from typing import Any

from workbench.errors import InputError

Where = tuple[str, int]
INT32_MAX = 2**31 - 1
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")
_TRUE = {"true", "t", "yes", "y", "1", "1.0", "correct", "right"}
_FALSE = {"false", "f", "no", "n", "0", "0.0", "incorrect", "wrong"}


def is_missing(v: Any) -> bool:
    """None or NaN (pandas/Parquet nulls)."""
    return v is None or (isinstance(v, float) and math.isnan(v))


def is_blank(v: Any) -> bool:
    """Missing, or an empty / whitespace-only string (CSV cells)."""
    return is_missing(v) or (isinstance(v, str) and not v.strip())


def text(v: Any) -> str | None:
    """A scalar as text (whole floats without '.0'); lists give their first element, dicts their JSON."""
    while isinstance(v, (list, tuple)):
        if not v:
            return None
        v = v[0]
    if is_missing(v):
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False, default=str)
    return str(v)


def grade(v: Any) -> bool | None:
    """A per-sample grade: bool, 0/1, "True"/"correct", a one-element list of one, or {score: ...}.

    None when the value is not a pass/fail grade (e.g. a 0.7 rating): the caller decides whether that is
    an error (a field named as the grade) or just not a grade (a metric that is a score, not a grade).
    """
    if isinstance(v, (list, tuple)):
        return grade(v[0]) if len(v) == 1 else None
    if isinstance(v, dict):
        for key in ("score", "acc", "correct", "hit", "exact_match", "is_correct", "true_false"):
            if key in v:
                return grade(v[key])
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return bool(v) if v in (0, 1) else None
    if isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    return None


def required_grade(v: Any, where: Where, name: str) -> bool | None:
    """`grade` for a field that must be a grade: anything else but a missing value is an error."""
    if is_blank(v) or v == []:
        return None
    g = grade(v)
    if g is None:
        raise InputError(f"field '{name}' must be true/false (or 1/0), got {str(v)[:40]!r}",
                         path=where[0], line=where[1])
    return g


def whole_number(v: Any, where: Where, name: str) -> int | None:
    """A count in [0, 2^31): token counts and the like. Out of range, infinite or fractional: an error."""
    if isinstance(v, (list, tuple)) and len(v) == 1:
        v = v[0]
    if is_blank(v):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise InputError(f"field '{name}' must be a whole number, got {str(v)[:40]!r}",
                         path=where[0], line=where[1]) from None
    if not math.isfinite(f) or f < 0 or f > INT32_MAX or not f.is_integer():
        raise InputError(f"field '{name}' must be a whole number between 0 and {INT32_MAX}, got {str(v)[:40]}",
                         path=where[0], line=where[1])
    return int(f)


def get_path(raw: dict[str, Any], path: str) -> tuple[bool, Any]:
    """(found, value) of a field path: `a`, `a.b`, `score[0]`, `mme_cognition_score.score`.

    A top-level key that itself contains dots or brackets wins over the path reading.
    """
    if path in raw:
        return True, raw[path]
    cur: Any = raw
    for m in _PATH_PART.finditer(path):
        key, idx = m.group(1), m.group(2)
        if key is not None:
            if not isinstance(cur, dict) or key not in cur:
                return False, None
            cur = cur[key]
        else:
            i = int(idx)
            if not isinstance(cur, (list, tuple)) or not -len(cur) <= i < len(cur):
                return False, None
            cur = cur[i]
    return True, cur


def check_unicode(v: str, where: Where, column: str, sample_id: str | None = None) -> None:
    """Lone surrogates (from JSON `\\ud800`) cannot be stored as UTF-8: a clear error, not a crash later."""
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(f"field '{column}' contains an unpaired surrogate ({v[exc.start]!r} at character "
                         f"{exc.start}) that cannot be stored as UTF-8", path=where[0], line=where[1],
                         sample_id=None if column == "sample_id" else sample_id) from None


def list_text(s: str) -> Any:
    """A list written as text into a cell ("['1_1.jpg']" or '["a"]'): the list, else the string."""
    t = s.strip()
    if len(t) >= 2 and t[0] == "[" and t[-1] == "]":
        try:
            return json.loads(t)
        except ValueError:
            try:
                return ast.literal_eval(t)  # Python repr of a list of strings (VLMEvalKit image_path)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                return s
    return s


def image_refs(value: Any) -> list[str]:
    """Image references in a field: paths, data: URIs, base64 (`base64:` prefix), URLs, nested lists."""
    if is_blank(value):
        return []
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for v in value:
            out += image_refs(v)
        return out
    if isinstance(value, dict):  # {"path": ..} or {"bytes": ..} (Parquet / HF datasets)
        for key in ("path", "url", "image", "bytes"):
            v = value.get(key)
            if v is not None:
                if isinstance(v, (bytes, bytearray)):
                    import base64
                    return ["base64:" + base64.b64encode(v).decode()]
                return image_refs(v)
        return []
    if isinstance(value, (bytes, bytearray)):
        import base64
        return ["base64:" + base64.b64encode(value).decode()]
    s = str(value).strip()
    parsed = list_text(s)
    if parsed is not s:
        return image_refs(parsed)
    return [s] if s else []


def json_safe(v: Any) -> Any:
    """A JSON-serialisable copy: bytes summarised, NaN/inf as null, lone surrogates replaced."""
    if isinstance(v, dict):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return f"<{len(v)} bytes>"
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, str):
        try:
            v.encode("utf-8")
            return v
        except UnicodeEncodeError:
            return v.encode("utf-8", "replace").decode("utf-8")
    if v is None or isinstance(v, (bool, int, float)):
        return v
    return str(v)
