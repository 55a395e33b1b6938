"""Image references -> stored images. The one image loader of the project.

A reference is a path (relative to the source file or --image-root), a `data:` URI, a bare
base64 string (`base64:` prefix, VLMEvalKit TSVs), a URL (never fetched: no network at run time)
or a `note:` saying the source does not carry the file. Present images are stored once by
content hash; absent ones are recorded as missing (`missing:<hash of the reference>`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from workbench.store.images import image_id_for_bytes


@dataclass
class ImageBatch:
    """Images of one import, written in bulk at the end of the transaction."""
    image_root: Path | None
    present: dict[str, tuple[bytes, str, int, int, str]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    missing_refs: list[str] = field(default_factory=list)   # for the warning
    _cache: dict[tuple[str, str], str] = field(default_factory=dict)

    def resolve(self, ref: str, base_dir: Path) -> str:
        """Image id for a reference (stored or recorded missing)."""
        key = (ref, str(base_dir))
        if key in self._cache:
            return self._cache[key]
        data, reason = self._load(ref, base_dir)
        image_id = self._add_bytes(data, ref) if data is not None else None
        if image_id is None:
            shown = ref if len(ref) < 200 else ref[:60] + "..."
            image_id = "missing:" + hashlib.sha256(ref.encode("utf-8", "surrogatepass")).hexdigest()[:32]
            self.missing[image_id] = shown[len("note:"):] if shown.startswith("note:") else shown
            if not ref.startswith("note:"):
                self.missing_refs.append(f"{shown} ({reason or 'not a readable image'})")
        self._cache[key] = image_id
        return image_id

    def _load(self, ref: str, base_dir: Path) -> tuple[bytes | None, str | None]:
        if ref.startswith("note:"):
            return None, "not in the source"
        if ref.startswith("data:"):
            try:
                return base64.b64decode(ref.split(",", 1)[1], validate=False), None
            except (IndexError, binascii.Error):
                return None, "malformed data: URI"
        if ref.startswith("base64:"):
            try:
                return base64.b64decode(ref[7:], validate=False), None
            except binascii.Error:
                return None, "malformed base64"
        if ref.startswith(("http://", "https://")):
            return None, "URLs are not fetched (no network); download the images and use --image-root"
        path = Path(ref)
        if not path.is_absolute():
            path = (self.image_root or base_dir) / path
        try:
            return path.read_bytes(), None
        except OSError as exc:
            return None, exc.strerror or "cannot read"

    def _add_bytes(self, data: bytes, ref: str) -> str | None:
        from PIL import Image, UnidentifiedImageError
        image_id = image_id_for_bytes(data)
        if image_id in self.present:
            return image_id
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.verify()
            with Image.open(io.BytesIO(data)) as im:
                w, h, fmt = im.width, im.height, im.format or "unknown"
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            return None
        shown = ref if not ref.startswith(("data:", "base64:")) else ref[:40] + "..."
        self.present[image_id] = (data, shown, w, h, fmt)
        return image_id

    def write(self, con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
        """Insert new images (present and missing); return (stored, missing) counts of this batch."""
        if self.present:
            ids = list(self.present)
            con.register("_img", pa.table({
                "image_id": ids,
                "width": [self.present[i][2] for i in ids], "height": [self.present[i][3] for i in ids],
                "format": [self.present[i][4] for i in ids],
                "n_bytes": [len(self.present[i][0]) for i in ids],
                "original_ref": [self.present[i][1][:500] for i in ids],
                "data": pa.array([self.present[i][0] for i in ids], pa.binary()),
            }))
            con.execute("""INSERT INTO images (image_id, missing, width, height, format, n_bytes, original_ref)
                           SELECT image_id, false, width, height, format, n_bytes, original_ref FROM _img
                           ON CONFLICT DO NOTHING""")
            con.execute("INSERT INTO image_blobs SELECT image_id, data FROM _img ON CONFLICT DO NOTHING")
            con.unregister("_img")
        if self.missing:
            con.register("_miss", pa.table({"image_id": list(self.missing),
                                            "original_ref": [v[:500] for v in self.missing.values()]}))
            con.execute("""INSERT INTO images (image_id, missing, original_ref)
                           SELECT image_id, true, original_ref FROM _miss ON CONFLICT DO NOTHING""")
            con.unregister("_miss")
        return len(self.present), len(self.missing)
