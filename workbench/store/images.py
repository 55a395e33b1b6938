"""Images: stored once by content hash (`images` metadata + `image_blobs` bytes). The one image writer.

Callers own the transaction. Present images carry their bytes and size; absent ones are recorded as
missing with the reference the source gave, so a sample always lists every image its model saw.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb
import pyarrow as pa

REF_CHARS = 500  # original_ref is a reminder for people, not a copy of a data: URI


@dataclass(frozen=True)
class StoredImage:
    image_id: str
    data: bytes
    original_ref: str
    width: int
    height: int
    format: str


def image_id_for_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def missing_image_id(ref: str) -> str:
    """Id of an image that could not be read: a hash of its reference (stable across imports)."""
    return "missing:" + hashlib.sha256(ref.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def write_images(con: duckdb.DuckDBPyConnection, present: list[StoredImage],
                 missing: dict[str, str]) -> None:
    """Insert images not yet in the store (present with bytes; missing with their reference)."""
    if present:
        con.register("_img", pa.table({
            "image_id": [i.image_id for i in present],
            "width": pa.array([i.width for i in present], pa.int32()),
            "height": pa.array([i.height for i in present], pa.int32()),
            "format": [i.format for i in present],
            "n_bytes": pa.array([len(i.data) for i in present], pa.int64()),
            "original_ref": [i.original_ref[:REF_CHARS] for i in present],
            "data": pa.array([i.data for i in present], pa.binary()),
        }))
        try:
            con.execute("""INSERT INTO images (image_id, missing, width, height, format, n_bytes, original_ref)
                           SELECT image_id, false, width, height, format, n_bytes, original_ref FROM _img
                           ON CONFLICT DO NOTHING""")
            con.execute("INSERT INTO image_blobs SELECT image_id, data FROM _img ON CONFLICT DO NOTHING")
        finally:
            con.unregister("_img")
    if missing:
        con.register("_miss", pa.table({"image_id": list(missing),
                                        "original_ref": [v[:REF_CHARS] for v in missing.values()]}))
        try:
            con.execute("""INSERT INTO images (image_id, missing, original_ref)
                           SELECT image_id, true, original_ref FROM _miss ON CONFLICT DO NOTHING""")
        finally:
            con.unregister("_miss")
