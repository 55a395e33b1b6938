"""Image references -> image ids, read safely. The one image loader of the project.

A reference is a path (relative to the source file or --image-root), a `data:` URI, a bare base64
string (`base64:` prefix, VLMEvalKit TSVs), a URL (never fetched: no network at run time) or a `note:`
saying the source does not carry the file. Present images are stored once by content hash; absent or
unusable ones are recorded as missing (`missing:<hash of the reference>`) and the sample is kept.

Reading is bounded: only regular files are opened (a FIFO would block, `/dev/zero` would never end),
files and encoded images over MAX_IMAGE_BYTES are not read, and the pixel count is checked from the
header BEFORE anything is decoded (a 225-megapixel PNG is refused, not inflated). The bytes are written
by workbench.store.images.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from workbench.store.images import StoredImage, image_id_for_bytes, missing_image_id, write_images

MAX_IMAGE_BYTES = 64 * 1024 * 1024   # a larger image file or encoded image is kept as missing
MAX_IMAGE_PIXELS = 80_000_000        # width x height from the header; larger is kept as missing


@dataclass
class ImageBatch:
    """Images of one import or run. `flush` writes what is pending (imports: per batch, bounded memory)."""
    image_root: Path | None
    present: dict[str, tuple[bytes, str, int, int, str]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    missing_refs: list[str] = field(default_factory=list)   # "<ref> (<why>)", for the warning
    n_present: int = 0
    n_missing: int = 0
    _cache: dict[tuple[str, str], str] = field(default_factory=dict)
    _written: set[str] = field(default_factory=set)

    def resolve(self, ref: str, base_dir: Path) -> str:
        """Image id for a reference (stored or recorded missing)."""
        key = (ref, str(base_dir))
        if key in self._cache:
            return self._cache[key]
        data, reason = self._load(ref, base_dir)
        image_id = None
        if data is not None:
            image_id, reason = self._add_bytes(data, ref)
        if image_id is None:
            shown = ref if len(ref) < 200 else ref[:60] + "..."
            image_id = missing_image_id(ref)
            if image_id not in self.missing and image_id not in self._written:
                self.missing[image_id] = shown[len("note:"):] if shown.startswith("note:") else shown
                self.n_missing += 1
            if not ref.startswith("note:"):
                self.missing_refs.append(f"{shown} ({reason or 'not a readable image'})")
        self._cache[key] = image_id
        return image_id

    def _load(self, ref: str, base_dir: Path) -> tuple[bytes | None, str | None]:
        if ref.startswith("note:"):
            return None, "not in the source"
        if ref.startswith(("data:", "base64:")):
            payload = ref.split(",", 1)[1] if ref.startswith("data:") and "," in ref else ref[7:]
            if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 4:
                return None, f"encoded image over {MAX_IMAGE_BYTES // 2**20} MiB"
            try:
                return base64.b64decode(payload, validate=False), None
            except (binascii.Error, ValueError):
                return None, "malformed base64"
        if ref.startswith(("http://", "https://")):
            return None, "URLs are not fetched (no network); download the images and use --image-root"
        path = Path(ref)
        if not path.is_absolute():
            path = (self.image_root or base_dir) / path
        try:
            st = os.stat(path)
        except (OSError, ValueError) as exc:
            return None, getattr(exc, "strerror", None) or "cannot read"
        if not stat.S_ISREG(st.st_mode):
            return None, "not a regular file"
        if st.st_size > MAX_IMAGE_BYTES:
            return None, f"file over {MAX_IMAGE_BYTES // 2**20} MiB"
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_IMAGE_BYTES + 1)
        except OSError as exc:
            return None, exc.strerror or "cannot read"
        if len(data) > MAX_IMAGE_BYTES:
            return None, f"file over {MAX_IMAGE_BYTES // 2**20} MiB"
        return data, None

    def _add_bytes(self, data: bytes, ref: str) -> tuple[str | None, str | None]:
        from PIL import Image, UnidentifiedImageError
        image_id = image_id_for_bytes(data)
        if image_id in self.present or image_id in self._written:
            return image_id, None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as im:   # reads the header only
                    w, h, fmt = im.width, im.height, im.format or "unknown"
                    if w * h > MAX_IMAGE_PIXELS:
                        return None, f"{w}x{h} pixels, over the {MAX_IMAGE_PIXELS // 1_000_000} megapixel cap"
                    im.verify()
        except Image.DecompressionBombError:
            return None, f"over the {MAX_IMAGE_PIXELS // 1_000_000} megapixel cap"
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
            return None, "not a readable image"
        shown = ref if not ref.startswith(("data:", "base64:")) else ref[:40] + "..."
        self.present[image_id] = (data, shown, w, h, fmt)
        self.n_present += 1
        return image_id, None

    def flush(self, con: duckdb.DuckDBPyConnection) -> None:
        """Write pending images and forget their bytes (ids stay known, so nothing is written twice)."""
        self.write(con)
        self._written.update(self.present)
        self._written.update(self.missing)
        self.present.clear()
        self.missing.clear()

    def write(self, con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
        """Insert pending images (present and missing); return (stored, missing) counts of this batch."""
        write_images(con, [StoredImage(i, v[0], v[1], v[2], v[3], v[4]) for i, v in self.present.items()],
                     self.missing)
        return len(self.present), len(self.missing)
