"""The format registry: every source format the importer knows, in one place.

Adding a format is one module (a `Format` subclass: sniffing, file metadata, field map, hooks) plus its
tests, and one line in FORMATS. `detect` asks every format how specific it is for a file (`sniff`: 0 =
not this format) and takes the highest; the generic format matches everything with the lowest score.
"""

from __future__ import annotations

from workbench.errors import UsageError
from workbench.ingest.formats import generic, lmms_eval, mathv, mathvista, mmmu, qvq_dev, qwen_math, vlmevalkit
from workbench.ingest.formats.base import FileInfo, Format
from workbench.ingest.readers import Source

FORMATS: tuple[Format, ...] = (
    qvq_dev.FORMAT,
    lmms_eval.SAMPLES,
    lmms_eval.RESULTS,
    vlmevalkit.FORMAT,
    vlmevalkit.SUMMARY,
    mmmu.FORMAT,
    mathvista.FORMAT,
    mathvista.SCORES,
    mathv.FORMAT,
    mathv.RESULT,
    qwen_math.FORMAT,
    qwen_math.METRICS,
    generic.FORMAT,
)
BY_NAME = {f.name: f for f in FORMATS}

__all__ = ["BY_NAME", "FORMATS", "FileInfo", "Format", "detect"]


def detect(src: Source, forced: str | None = None) -> Format:
    """The format of an opened file: the named one (`--format NAME`), else the most specific match."""
    if forced:
        if forced not in BY_NAME:
            raise UsageError(f"--format: unknown format {forced!r}; known: {', '.join(sorted(BY_NAME))}")
        return BY_NAME[forced]
    return max(FORMATS, key=lambda f: f.sniff(src))
