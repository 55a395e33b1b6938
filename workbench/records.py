"""Typed records: the shapes that cross module boundaries (importers, runner -> store -> views).

Column meanings are documented once, in workbench/store/schema_docs.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SAMPLE_FIELDS = ("sample_id", "question", "response", "final_answer", "ground_truth", "correct",
                 "benchmark", "subset", "model", "image_ids", "n_images", "finish_reason",
                 "prompt_tokens", "completion_tokens", "status", "error", "metadata",
                 "source_file", "source_line")


@dataclass
class RunRecord:
    run_id: str
    name: str
    model: str | None = None
    source: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    synthetic: bool = False


@dataclass
class Finding:
    """One detector finding (a row of `flags`, without run/sample/version)."""
    detector: str
    severity: str
    score: float
    char_start: int | None = None
    char_end: int | None = None
    step_index: int | None = None
    evidence: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    tier: str = "text"


def slugify_run(name: str) -> str:
    """Run id from a run name: lowercase, [a-z0-9._-], never empty."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.strip().lower()).strip("-.")
    return slug or "run"
