"""MATH-V (MathVision) outputs: JSONL with `id`, `model`, `response`, `model_answer`, `correct` (a bool or
"True"/"False"); `<name>_result.json` beside it holds the reported accuracy ("-all": "436/3040=14.34%", ...).
The questions are not in the file (only their ids).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.ingest.formats.base import GENERIC_FIELDS, FileInfo, Format, read_json_sibling
from workbench.ingest.readers import Source, stem


def _result_beside(path: Path) -> tuple[Path, Any] | None:
    return read_json_sibling([path.with_name(stem(path) + "_result.json")])


class MathV(Format):
    name = "math-v"
    description = "MATH-V outputs (`id`, `model`, `response`, `model_answer`, `correct`)"

    def sniff(self, src: Source) -> int:
        return 56 if {"id", "response", "model_answer", "correct"} <= src.keys else 0

    def file_info(self, src: Source) -> FileInfo:
        name = stem(src.path)
        info = FileInfo(self.name, run_name=f"{name}/MATH-V", benchmark="MATH-V", task="MATH-V",
                        source_key=src.path.name, grade_field="correct")
        found = _result_beside(src.path)
        if found:
            info.attach_reported(*found)
        return info

    def fields(self, info: FileInfo) -> dict[str, tuple[str, ...]]:
        f = dict(GENERIC_FIELDS)
        f.update(final_answer=("model_answer",), correct=("correct",))
        return f


class MathVResult(Format):
    name = "math-v-result"
    role = "summary"
    description = "MATH-V `<name>_result.json` (reported accuracy per level and subject)"

    def sniff(self, src: Source) -> int:
        doc = src.document
        return 66 if isinstance(doc, dict) and "-all" in doc else 0

    def file_info(self, src: Source) -> FileInfo:
        name = stem(src.path)
        base = name[: -len("_result")] if name.endswith("_result") else name
        return FileInfo(self.name, role="summary", run_name=f"{base}/MATH-V", source_key=src.path.name,
                        reported={src.path.name: src.document},
                        summary_of=f"a MATH-V accuracy summary; import the outputs file beside it ({base}.jsonl)")


FORMAT = MathV()
RESULT = MathVResult()
