"""Trace analysis: step segmentation, answer extraction and the failure detectors.

Detectors are pure (text in, findings out, no I/O). Each detector module exposes:

    NAME: str        # "language_mixing" | "repetition_loop" | "grounding_loss"
    VERSION: str     # bump when behaviour changes: the pipeline then re-analyses
    def detect(response: str, *, question: str | None = None, steps: Sequence[Step] = (),
               has_image: bool = False) -> list[Finding]

The pipeline (workbench.analysis.pipeline) runs them over the store, fills `steps`,
`trace_stats` and `flags`, and is idempotent and resumable per (run, sample, detector, version).
"""
