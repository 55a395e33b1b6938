"""Readers: a file -> records (dict, line/row number). Format detection by extension and fields.

Every reader reports positions users can find: the line number for JSONL/CSV/TSV, the element
index (1-based) for JSON arrays, the row number (1-based, after the header) for Parquet/XLSX.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.errors import InputError

Record = tuple[int, dict[str, Any]]

FORMATS = ("auto", "jsonl", "json", "parquet", "csv", "tsv", "xlsx", "qvq-dev", "vlmevalkit", "lmms-eval")


def _open_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"not a valid gzip file ({exc})", path=str(path)) from None
    return data


def _base_suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return name.rsplit(".", 1)[-1] if "." in name else ""


def _decode_line(raw: bytes, path: Path, line_no: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"invalid UTF-8 at byte {exc.start} of the line ({exc.reason}); "
                         f"re-encode the file as UTF-8", path=str(path), line=line_no) from None


def _read_text(path: Path, encoding: str) -> str:
    """The whole (possibly gzipped) file as text; invalid UTF-8 is an error naming the line."""
    data = _open_bytes(path)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"invalid UTF-8 ({exc.reason})", path=str(path), line=line) from None


def read_jsonl(path: Path) -> Iterator[Record]:
    data = _open_bytes(path)
    loads = json.loads
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            obj = loads(raw)
        except UnicodeDecodeError:
            _decode_line(raw, path, line_no)
            raise
        except json.JSONDecodeError as exc:
            _decode_line(raw, path, line_no)
            raise InputError(f"malformed JSON: {exc.msg} at column {exc.colno}", path=str(path),
                             line=line_no) from None
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object per line, got {type(obj).__name__}",
                             path=str(path), line=line_no)
        yield line_no, obj


def read_json_array(path: Path) -> Iterator[Record]:
    text = _read_text(path, "utf-8")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc.msg} at column {exc.colno}", path=str(path),
                         line=exc.lineno) from None
    if isinstance(obj, dict):
        for key in ("samples", "data", "results", "records"):
            if isinstance(obj.get(key), list):
                obj = obj[key]
                break
    if not isinstance(obj, list):
        raise InputError("expected a JSON array of objects (or an object with a 'samples' list)",
                         path=str(path))
    for i, item in enumerate(obj, start=1):
        if not isinstance(item, dict):
            raise InputError(f"array element {i} is {type(item).__name__}, expected an object",
                             path=str(path), line=i)
        yield i, item


def read_delimited(path: Path, delimiter: str) -> Iterator[Record]:
    text = _read_text(path, "utf-8-sig")
    csv.field_size_limit(1 << 30)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    header = [h.strip() for h in header]
    try:
        for row in reader:
            line_no = reader.line_num
            if not row or all(not c for c in row):
                continue
            if len(row) != len(header):
                raise InputError(f"row has {len(row)} fields but the header has {len(header)}",
                                 path=str(path), line=line_no)
            yield line_no, {h: (None if v == "" else v) for h, v in zip(header, row)}
    except csv.Error as exc:
        raise InputError(f"malformed {'TSV' if delimiter == chr(9) else 'CSV'}: {exc}", path=str(path),
                         line=reader.line_num) from None


def read_parquet(path: Path) -> Iterator[Record]:
    import pyarrow.parquet as pq
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise InputError(f"cannot read Parquet: {exc}", path=str(path)) from None
    for i, row in enumerate(table.to_pylist(), start=1):
        yield i, row


def read_xlsx(path: Path) -> Iterator[Record]:
    import openpyxl
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(f"cannot read XLSX: {exc}", path=str(path)) from None
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    try:
        header = [str(h).strip() if h is not None else "" for h in next(rows)]
    except StopIteration:
        return
    for i, row in enumerate(rows, start=2):
        if row is None or all(v is None for v in row):
            continue
        yield i, {h: v for h, v in zip(header, row) if h}
    wb.close()


def sniff_format(path: Path, fmt: str = "auto") -> str:
    """The container format (jsonl/json/parquet/csv/tsv/xlsx) of a file."""
    if fmt in ("jsonl", "json", "parquet", "csv", "tsv", "xlsx"):
        return fmt
    suffix = _base_suffix(path)
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    if suffix == "json":
        head = _open_bytes(path)[:4096].lstrip()
        return "json" if head.startswith(b"[") or head.startswith(b"{\n") or b"\n" not in head.strip() else "jsonl"
    if suffix in ("parquet", "pq"):
        return "parquet"
    if suffix in ("csv", "tsv", "xlsx"):
        return suffix
    raise InputError(f"cannot tell the format from the extension '.{suffix}'; use --format", path=str(path))


def read_records(path: Path, container: str) -> Iterator[Record]:
    if container == "jsonl":
        return read_jsonl(path)
    if container == "json":
        return read_json_array(path)
    if container == "parquet":
        return read_parquet(path)
    if container == "csv":
        return read_delimited(path, ",")
    if container == "tsv":
        return read_delimited(path, "\t")
    if container == "xlsx":
        return read_xlsx(path)
    raise ValueError(container)
