"""Images: stored once by content hash (`images` metadata + `image_blobs` bytes)."""

from __future__ import annotations

import hashlib


def image_id_for_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
