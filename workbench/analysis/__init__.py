"""Trace analysis: step segmentation, answer extraction and the failure detectors.

Detectors are pure (text in, findings out, no I/O). Each detector module declares a
`SPEC = registry.DetectorSpec(...)` (name, version, label, colours, severities, tiers,
measurements, its `detect` function) and is listed once in `registry.MODULES`; everything else
(pipeline, store queries, exports, pages, reports, charts) reads the registry:

    def detect(response: str, *, question: str | None = None, steps: Sequence[Step] = (),
               has_image: bool = False, **needs) -> list[Finding]

The pipeline (workbench.analysis.pipeline) runs them over the store, fills `steps`,
`trace_stats` and `flags`, and is idempotent and resumable per (run, sample, detector, version).
"""
