"""Containers: a file -> batches of (position, record). Line- and row-oriented files stream.

JSONL, CSV/TSV and Parquet are read batch by batch (at most BATCH_ROWS records or BATCH_BYTES of input
at a time; the first batch, read when files are recognised, HEAD_ROWS), so memory is bounded by a batch,
not by the file. A JSON document and an XLSX workbook are
read whole (memory bounded by the file itself).

Positions users can find: the line number for JSONL/CSV/TSV (the line a record starts on), the element
index (1-based) for JSON arrays, the key's position for JSON objects keyed by id, the row number
(1-based, after the header) for Parquet and the sheet row for XLSX.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from workbench.errors import InputError

Record = tuple[int, dict[str, Any]]
Batch = list[Record]
CONTAINERS = ("jsonl", "json", "parquet", "csv", "tsv", "xlsx")
BATCH_ROWS = 5000
BATCH_BYTES = 32 * 1024 * 1024
HEAD_ROWS = 200     # the first batch is small: it is read when files are recognised, all files at once
# JSON objects whose list under one of these keys holds the records ({"samples": [...]} and the like)
RECORD_LISTS = ("samples", "data", "results", "records", "logs", "predictions", "outputs")
KEY_FIELD = "__key__"      # the key of a record in a JSON object keyed by id
VALUE_FIELD = "__value__"  # the value when that object maps ids to plain values (MMMU parsed answers)


@dataclass
class Source:
    """One opened input file: its first batch (for sniffing) and the rest, read lazily, once."""
    path: Path
    container: str
    head: Batch
    kind: str = "rows"                      # rows | keyed | document
    document: Any = None                    # the parsed JSON document (json container only)
    _rest: Iterator[Batch] = field(default_factory=lambda: iter(()))
    _used: bool = False
    position: _Position = field(default_factory=lambda: _Position())

    def bytes_read(self) -> int | None:
        """How far into the file (bytes on disk, compressed for .gz) reading has got: for progress bars."""
        raw = self.position.raw
        if raw is None:
            return None
        try:
            return raw.tell()
        except (OSError, ValueError):   # closed: read to the end
            return None

    @property
    def keys(self) -> set[str]:
        out: set[str] = set()
        for _, r in self.head[:HEAD_ROWS]:
            out.update(r)
        return out

    def batches(self) -> Iterator[Batch]:
        if self._used:
            raise RuntimeError(f"{self.path} was already read")
        self._used = True
        if self.head:
            yield self.head
        yield from self._rest


def check_regular_file(path: Path) -> os.stat_result:
    """Only regular files are read: a FIFO would block forever, a device would never end."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError("no such file", path=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path=str(path)) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a folder: name the result files (e.g. folder/*.jsonl)", path=str(path))
    if not stat.S_ISREG(st.st_mode):
        raise InputError("not a regular file (a pipe, device or socket): only files are imported", path=str(path))
    return st


@dataclass
class _Position:
    """The raw file a streaming reader has open (its tell() is the progress on disk)."""
    raw: BinaryIO | None = None


def _open_binary(path: Path, position: _Position | None = None) -> BinaryIO:
    if path.name.lower().endswith(".gz"):
        gz = gzip.open(path, "rb")  # noqa: SIM115 - the caller closes it
        if position is not None:
            position.raw = gz.fileobj  # type: ignore[assignment]  # the compressed file (the bar counts its size)
        return gz  # type: ignore[return-value]
    raw = path.open("rb")
    if position is not None:
        position.raw = raw
    return raw


def base_suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return name.rsplit(".", 1)[-1] if "." in name else ""


def stem(path: Path) -> str:
    """The file name without its format extension(s): dots inside the name are kept (`gpt-4.1_x.jsonl`)."""
    name = path.name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    suffix = base_suffix(path)
    if suffix in (*CONTAINERS, "ndjson", "pq"):
        name = name[: -(len(suffix) + 1)]
    return name


def sniff_container(path: Path, fmt: str = "auto") -> str:
    """The container (jsonl/json/parquet/csv/tsv/xlsx) of a file, from its extension (and first bytes)."""
    if fmt in CONTAINERS:
        return fmt
    suffix = base_suffix(path)
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    if suffix == "json":
        return "json" if _looks_like_document(path) else "jsonl"
    if suffix in ("parquet", "pq"):
        return "parquet"
    if suffix in ("csv", "tsv", "xlsx"):
        return suffix
    raise InputError(f"cannot tell the format from the extension '.{suffix}'; use --format", path=str(path))


def _looks_like_document(path: Path) -> bool:
    """A .json file is one document unless its first two records are one-line JSON objects (JSONL)."""
    try:
        with _open_binary(path) as f:
            first = f.readline(1 << 20).strip()
            while first == b"":
                line = f.readline(1 << 20)
                if not line:
                    return True
                first = line.strip()
            if not first.startswith(b"{"):
                return True
            second = f.readline(1 << 20).strip()
    except (OSError, EOFError):
        return True
    try:
        json.loads(first)
    except ValueError:
        return True
    return not second.startswith(b"{")


def open_source(path: Path, container: str) -> Source:
    """Open `path` and read its first batch. Raises InputError for unreadable or empty files."""
    position = _Position()
    readers = {"jsonl": lambda p: _jsonl(p, position), "csv": lambda p: _delimited(p, ",", position),
               "tsv": lambda p: _delimited(p, "\t", position), "parquet": _parquet, "xlsx": _xlsx}
    if container == "json":
        src = _json_document(path)
    else:
        it = readers[container](path)
        head = next(it, [])
        src = Source(path, container, head, _rest=it, position=position)
    if not src.head and (src.document is None or src.kind != "document"):
        raise InputError("the file holds no records (it is empty)", path=str(path), line=1)
    return src


# --- JSONL -------------------------------------------------------------------------------------------

def _decode_error(raw: bytes, path: Path, line_no: int) -> None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"invalid UTF-8 at byte {exc.start} of the line ({exc.reason}); "
                         f"re-encode the file as UTF-8", path=str(path), line=line_no) from None


def _jsonl(path: Path, position: _Position | None = None) -> Iterator[Batch]:
    loads = json.loads
    batch: Batch = []
    size = 0
    limit = HEAD_ROWS
    try:
        with _open_binary(path, position) as f:
            for line_no, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = loads(raw)
                except UnicodeDecodeError:
                    _decode_error(raw, path, line_no)
                    raise
                except json.JSONDecodeError as exc:
                    _decode_error(raw, path, line_no)
                    raise InputError(f"malformed JSON: {exc.msg} at column {exc.colno}", path=str(path),
                                     line=line_no) from None
                except RecursionError:
                    raise InputError("JSON nested too deeply", path=str(path), line=line_no) from None
                if not isinstance(obj, dict):
                    raise InputError(f"expected a JSON object per line, got {type(obj).__name__}",
                                     path=str(path), line=line_no)
                batch.append((line_no, obj))
                size += len(raw)
                if len(batch) >= limit or size >= BATCH_BYTES:
                    yield batch
                    batch, size, limit = [], 0, BATCH_ROWS
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read: {exc}", path=str(path)) from None
    if batch:
        yield batch


# --- JSON document -----------------------------------------------------------------------------------

def _json_document(path: Path) -> Source:
    try:
        with _open_binary(path) as f:
            data = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read: {exc}", path=str(path)) from None
    if not data.strip():
        raise InputError("the file holds no records (it is empty)", path=str(path), line=1)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"invalid UTF-8 ({exc.reason})", path=str(path), line=line) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc.msg} at column {exc.colno}", path=str(path),
                         line=exc.lineno) from None
    except RecursionError:
        raise InputError("JSON nested too deeply", path=str(path), line=1) from None
    del text, data
    records, kind = _document_records(doc, path)
    head = records[:HEAD_ROWS]
    rest = (records[i:i + BATCH_ROWS] for i in range(HEAD_ROWS, len(records), BATCH_ROWS))
    return Source(path, "json", head, kind=kind, document=doc, _rest=rest)


def _document_records(doc: Any, path: Path) -> tuple[Batch, str]:
    """Records of a JSON document: an array, {"samples": [...]}, or an object keyed by id."""
    if isinstance(doc, dict):
        lists = [k for k, v in doc.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v[:50])]
        named = [k for k in RECORD_LISTS if k in lists]
        if named or len(lists) == 1:   # {"samples": [...]} or the one list of records beside run info
            doc = doc[(named or lists)[0]]
    if isinstance(doc, list):
        out: Batch = []
        for i, item in enumerate(doc, start=1):
            if not isinstance(item, dict):
                raise InputError(f"array element {i} is {type(item).__name__}, expected an object",
                                 path=str(path), line=i)
            out.append((i, item))
        return out, "rows"
    if isinstance(doc, dict) and doc:
        values = list(doc.values())
        if all(isinstance(v, dict) for v in values):
            return [(i, {KEY_FIELD: k, **v}) for i, (k, v) in enumerate(doc.items(), start=1)], "keyed"
        if all(not isinstance(v, (dict, list)) for v in values):
            return [(i, {KEY_FIELD: k, VALUE_FIELD: v}) for i, (k, v) in enumerate(doc.items(), start=1)], "keyed"
    return [], "document"


# --- CSV / TSV ---------------------------------------------------------------------------------------

def _delimited(path: Path, delimiter: str, position: _Position | None = None) -> Iterator[Batch]:
    what = "TSV" if delimiter == "\t" else "CSV"
    csv.field_size_limit(2**31 - 1)
    try:
        raw = _open_binary(path, position)
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", path=str(path)) from None
    with io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        # strict: an unterminated quote is an error instead of silently swallowing the rows after it
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        start = 1
        try:
            header = next(reader, None)
            if header is None:
                return
            header = [h.strip() for h in header]
            batch: Batch = []
            size = 0
            limit = HEAD_ROWS
            while True:
                start = reader.line_num + 1
                row = next(reader, None)
                if row is None:
                    break
                if not row or all(not c for c in row):
                    continue
                if len(row) != len(header):
                    raise InputError(f"row has {len(row)} fields but the header has {len(header)} (a stray "
                                     f"delimiter or quote?)", path=str(path), line=start)
                batch.append((start, {h: (None if v == "" else v) for h, v in zip(header, row) if h}))
                size += sum(len(c) for c in row)
                if len(batch) >= limit or size >= BATCH_BYTES:
                    yield batch
                    batch, size, limit = [], 0, BATCH_ROWS
            if batch:
                yield batch
        except csv.Error as exc:
            msg = str(exc)
            if "unexpected end of data" in msg:
                msg = "a quoted field is never closed (unterminated quote) in the record starting here"
            raise InputError(f"malformed {what}: {msg}", path=str(path), line=start) from None
        except UnicodeDecodeError as exc:
            raise InputError(f"invalid UTF-8 ({exc.reason}); re-encode the file as UTF-8", path=str(path),
                             line=reader.line_num + 1) from None
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputError(f"cannot read: {exc}", path=str(path)) from None


# --- Parquet / XLSX ----------------------------------------------------------------------------------

def _parquet(path: Path) -> Iterator[Batch]:
    import pyarrow.parquet as pq
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise InputError(f"cannot read Parquet: {exc}", path=str(path)) from None
    row = 1
    try:
        pending: Batch = []
        for rb in pf.iter_batches(batch_size=HEAD_ROWS):
            pending += [(row + i, r) for i, r in enumerate(rb.to_pylist())]
            row += rb.num_rows
            if row - 1 == len(pending) or len(pending) >= 2000:   # the first (small) batch, then ~2,000 rows
                yield pending
                pending = []
        if pending:
            yield pending
    except Exception as exc:  # noqa: BLE001 - as above, for a file that breaks part-way
        raise InputError(f"cannot read Parquet: {exc}", path=str(path), line=row) from None


def _xlsx(path: Path) -> Iterator[Batch]:
    import openpyxl
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl/zipfile raise many types for a bad file
        raise InputError(f"cannot read XLSX: {exc}", path=str(path)) from None
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        first = next(rows, None)
        if first is None:
            return
        header = [str(h).strip() if h is not None else "" for h in first]
        batch: Batch = []
        limit = HEAD_ROWS
        for i, r in enumerate(rows, start=2):
            if r is None or all(v is None for v in r):
                continue
            batch.append((i, {h: v for h, v in zip(header, r) if h}))
            if len(batch) >= limit:
                yield batch
                batch, limit = [], BATCH_ROWS
        if batch:
            yield batch
    finally:
        wb.close()
