"""Step alignment for the Compare page: monotone, gaps allowed, banded on long traces."""

from __future__ import annotations

from workbench.analysis import align


def test_identical_steps_align_and_an_insertion_is_a_gap():
    a = ["Look at the chart.", "March is 27.", "So the answer is C."]
    b = ["Look at the chart.", "Wait, check the axis first.", "March is 27.", "So the answer is C."]
    pairs = align.align(a, b)
    assert [(i, j) for i, j, _ in pairs] == [(0, 0), (None, 1), (1, 2), (2, 3)]


def test_long_traces_compare_only_within_the_band(monkeypatch):
    calls = []
    real = align.similarity
    monkeypatch.setattr(align, "similarity", lambda x, y: calls.append(1) or real(x, y))
    a = [f"step number {k} computes value {k * 7}" for k in range(200)]
    b = ["an extra opening remark", *a]
    pairs = align.align(a, b)
    assert [(i, j) for i, j, _ in pairs if i is not None and j is not None] == [(k, k + 1) for k in range(200)]
    assert len(calls) < 0.6 * len(a) * len(b)   # the band skipped the far-off pairs
    calls.clear()
    align.align(a[:20], b[:21])                  # short traces: every pair
    assert len(calls) == 20 * 21
