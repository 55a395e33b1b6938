"""The QVQ dev-set shape (../shared/data/qvq-traces/dev.jsonl): a second-turn final answer, images the
source does not carry (kept as missing with the source's note), MMLU subjects recovered from the id.
"""

from __future__ import annotations

import re
from typing import Any

from workbench.ingest.fields import text
from workbench.ingest.formats.base import GENERIC_FIELDS, FileInfo, Format
from workbench.ingest.readers import Source

# ".../mmlu/all/high_school_physics927cf52f985f": the subject, then a 12-hex question hash
_MMLU_ID = re.compile(r"/mmlu/[^/]+/([a-z_]+?)[0-9a-f]{12}$")


class QvqDev(Format):
    name = "qvq-dev"
    description = "the QVQ dev-set shape (`n_images_in_prompt`, `final_answer_turn`, `image_note`)"

    def sniff(self, src: Source) -> int:
        keys = src.keys
        return 50 if {"n_images_in_prompt", "final_answer_turn"} & keys or "image_note" in keys else 0

    def fields(self, info: FileInfo) -> dict[str, tuple[str, ...]]:
        f = dict(GENERIC_FIELDS)
        f["final_answer"] = ("final_answer_turn",) + f["final_answer"]
        return f

    consumed = ("n_images_in_prompt", "image_note")

    def images(self, raw: dict[str, Any], refs: list[str], info: FileInfo) -> list[str]:
        n = raw.get("n_images_in_prompt")
        n = int(n) if isinstance(n, (int, float)) and not isinstance(n, bool) and 0 < n < 1000 else 0
        note = text(raw.get("image_note")) or "image not included in the source"
        # the model saw images the source does not carry: keep them as missing, with the source's note
        return refs + [f"note:{note}#{i + 1}" for i in range(len(refs), n)]

    def post(self, row: dict[str, Any], raw: dict[str, Any], info: FileInfo) -> None:
        if row.get("subset") in (None, "all"):
            m = _MMLU_ID.search(row["sample_id"])
            if m:
                row["subset"] = m.group(1)   # the subject hidden in the id (the source says "all")


FORMAT = QvqDev()
