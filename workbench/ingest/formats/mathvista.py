"""MathVista outputs of its own scripts: one JSON object keyed by `pid`, each value with `query`,
`response`, `extraction` (the answer the extractor found), `prediction` (normalised for scoring),
`true_false` (the grade), `answer`, `question_type`, `answer_type`, `precision`, `unit`, `choices`,
`metadata.category`. `scores_<model>.json` beside it is the run's reported score summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.ingest.fields import text
from workbench.ingest.formats.base import GENERIC_FIELDS, FileInfo, Format, folder_name, read_json_sibling
from workbench.ingest.readers import KEY_FIELD, Source, stem


def _model_setting(path: Path) -> tuple[str, str]:
    """`results/gpt4/output_gpt4_2shot_solution.json` -> ("gpt4", "2shot_solution")."""
    name = stem(path)
    for prefix in ("output_", "outputs_", "scores_", "score_"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    folder = folder_name(path)
    if folder and name.startswith(folder):
        return folder, name[len(folder):].strip("_")
    return name, ""


def _scores_beside(path: Path) -> tuple[Path, Any] | None:
    name = stem(path)
    return read_json_sibling([path.with_name("scores_" + name[len("output_"):] + ".json")]
                             if name.startswith("output_") else [])


class MathVista(Format):
    name = "mathvista"
    description = "MathVista outputs (one JSON object keyed by `pid`)"

    def sniff(self, src: Source) -> int:
        keys = src.keys
        return 58 if {"pid", "response"} <= keys and keys & {"true_false", "extraction", "query"} else 0

    def file_info(self, src: Source) -> FileInfo:
        model, setting = _model_setting(src.path)
        task = "MathVista" + (f" {setting}" if setting else "")
        info = FileInfo(self.name, run_name=f"{model}/{task}", model=model, benchmark="MathVista", task=task,
                        source_key=src.path.name)
        if "true_false" in src.keys:
            info.grade_field = "true_false"
        found = _scores_beside(src.path)
        if found:
            info.attach_reported(*found, what="reported scores")
        return info

    def fields(self, info: FileInfo) -> dict[str, tuple[str, ...]]:
        f = dict(GENERIC_FIELDS)
        f.update(sample_id=("pid", KEY_FIELD), question=("question", "query"), response=("response",),
                 final_answer=("prediction", "extraction"), ground_truth=("answer",), correct=("true_false",),
                 subset=())
        return f

    def post(self, row: dict[str, Any], raw: dict[str, Any], info: FileInfo) -> None:
        meta = raw.get("metadata")
        if isinstance(meta, dict) and row.get("subset") is None:
            row["subset"] = text(meta.get("category"))


class MathVistaScores(Format):
    name = "mathvista-scores"
    role = "summary"
    description = "MathVista `scores_<model>.json` (reported accuracy by question type, ...)"

    def sniff(self, src: Source) -> int:
        doc = src.document
        ok = isinstance(doc, dict) and isinstance(doc.get("average"), dict) and "accuracy" in doc["average"]
        return 66 if ok else 0

    def file_info(self, src: Source) -> FileInfo:
        model, setting = _model_setting(src.path)
        task = "MathVista" + (f" {setting}" if setting else "")
        return FileInfo(self.name, role="summary", model=model, run_name=f"{model}/{task}",
                        source_key=src.path.name, reported={src.path.name: src.document},
                        summary_of=(f"a MathVista score summary; import the outputs file beside it "
                                    f"(output_{stem(src.path)[len('scores_'):]}.json): it reads this summary"))


FORMAT = MathVista()
SCORES = MathVistaScores()
