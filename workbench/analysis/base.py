"""Shared shapes of the analysis: a step of a trace, and finding the step at an offset.

Detectors declare themselves in workbench/analysis/registry.py (DetectorSpec)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ROLES = ("perception", "computation", "reflection", "switch", "conclusion")


@dataclass(frozen=True)
class Step:
    """A step: `response[char_start:char_end]`; role is one of ROLES."""
    index: int
    char_start: int
    char_end: int
    role: str
    image_ref_count: int = 0


def step_at(steps: Sequence[Step], offset: int) -> int | None:
    """Index of the step containing character `offset` (binary search), or None."""
    lo, hi = 0, len(steps) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        s = steps[mid]
        if offset < s.char_start:
            hi = mid - 1
        elif offset >= s.char_end:
            lo = mid + 1
        else:
            return s.index
    return None
