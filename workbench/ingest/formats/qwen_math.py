"""Qwen2.5-Math-style evaluation dumps (math-evaluation-harness; R1-like models' long chains of thought):
`<output_dir>/<benchmark>/<split>_<prompt>_<n>_seed<s>_t<temp>_s<start>_e<end>.jsonl` with `idx`,
`question`, `gt` / `answer` (the reference), and list-valued `code` (the responses), `pred`, `score`
([true]). A record with n samplings holds n responses: each becomes a sample (`<idx>/<k>`). The
`..._metrics.json` beside it is the run's reported accuracy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.ingest.fields import grade, text
from workbench.ingest.formats.base import GENERIC_FIELDS, FileInfo, Format, folder_name, read_json_sibling
from workbench.ingest.readers import Source, stem


def _metrics_beside(path: Path) -> tuple[Path, Any] | None:
    found = read_json_sibling(sorted(path.parent.glob(stem(path) + "_*metrics.json")))
    if found and isinstance(found[1], dict):
        return found[0], {k: v for k, v in found[1].items() if not isinstance(v, list)}
    return None


class QwenMath(Format):
    name = "qwen-math"
    description = "Qwen2.5-Math-style dumps (`idx`, `gt`, list-valued `code` / `pred` / `score`)"
    consumed = ("code", "pred", "score")

    def sniff(self, src: Source) -> int:
        keys = src.keys
        listy = any(isinstance(r.get("code"), list) for _, r in src.head[:20])
        return 57 if {"idx", "code", "pred"} <= keys and listy else 0

    def file_info(self, src: Source) -> FileInfo:
        bench = folder_name(src.path) or "math"
        model = folder_name(src.path, 2) or stem(src.path)
        info = FileInfo(self.name, run_name=f"{model}/{bench}/{stem(src.path)}", model=model, benchmark=bench,
                        task=f"{bench}/{stem(src.path)}", source_key=f"{bench}/{src.path.name}", grade_field="score")
        found = _metrics_beside(src.path)
        if found:
            info.attach_reported(*found)
        return info

    def expand(self, raw: dict[str, Any], info: FileInfo) -> list[dict[str, Any]]:
        code = raw.get("code")
        if not isinstance(code, list) or len(code) <= 1:
            return [raw]
        preds, scores = raw.get("pred") or [], raw.get("score") or []
        out = []
        for k, response in enumerate(code):
            r = dict(raw)
            r["code"], r["__k"] = [response], k
            r["pred"] = [preds[k]] if k < len(preds) else []
            r["score"] = [scores[k]] if k < len(scores) else []
            out.append(r)
        return out

    def fields(self, info: FileInfo) -> dict[str, tuple[str, ...]]:
        f = dict(GENERIC_FIELDS)
        f.update(sample_id=("idx",) + f["sample_id"], ground_truth=("gt", "answer"), response=("__response",),
                 final_answer=("__pred",), correct=(), subset=("subject", "type", "level"))
        return f

    def prepare(self, raw: dict[str, Any], info: FileInfo) -> dict[str, Any]:
        raw = dict(raw)
        raw["__response"] = text(raw.get("code"))
        raw["__pred"] = text(raw.get("pred"))
        return raw

    def post(self, row: dict[str, Any], raw: dict[str, Any], info: FileInfo) -> None:
        row["correct"] = grade(raw.get("score")) if raw.get("score") not in (None, []) else None
        if "__k" in raw:
            row["sample_id"] = f"{row['sample_id']}/{raw['__k']}"


class QwenMathMetrics(Format):
    name = "qwen-math-metrics"
    role = "summary"
    description = "Qwen2.5-Math-style `..._metrics.json` (reported accuracy)"

    def sniff(self, src: Source) -> int:
        doc = src.document
        return 66 if isinstance(doc, dict) and {"num_samples", "acc"} <= set(doc) else 0

    def file_info(self, src: Source) -> FileInfo:
        doc = {k: v for k, v in src.document.items() if not isinstance(v, list)}
        dumps = [d for d in sorted(src.path.parent.glob("*.jsonl")) if stem(src.path).startswith(stem(d) + "_")]
        run_name = ""
        if dumps:
            d = dumps[-1]
            run_name = f"{folder_name(d, 2) or stem(d)}/{folder_name(d) or 'math'}/{stem(d)}"
        return FileInfo(self.name, role="summary", source_key=src.path.name, reported={src.path.name: doc},
                        run_name=run_name,
                        summary_of=("a Qwen2.5-Math-style accuracy summary; import the .jsonl dump beside it "
                                    "(the same name without `_<prompt>_metrics`): it reads this summary"))


FORMAT = QwenMath()
METRICS = QwenMathMetrics()
