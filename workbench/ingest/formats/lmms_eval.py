"""lmms-eval (and lm-evaluation-harness) `--log_samples` files and their aggregated results.

Samples: `<output>/<model_sanitized>/<date>_samples_<task>.jsonl` (lm-eval: `samples_<task>_<date>.jsonl`),
one object per doc: `doc_id`, `target`, `input`, `resps` (raw, with reasoning) / `filtered_resps` (after
the task's filters), `token_counts`, optional `input_media`, and one key per metric of the task (a 0/1
number such as `exact_match`, or a dict such as `<task>_score: {question_id, category, score}`).
The trace is the raw response; the filtered one is the final answer; the first metric that is a
pass/fail grade on every record is `correct`. The model comes from the `<date>_results.json` beside
the file (its config and scores are attached to the run), else from the folder (`org__name`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from workbench.ingest.fields import grade, is_missing, text
from workbench.ingest.formats.base import GENERIC_FIELDS, FileInfo, Format, folder_name
from workbench.ingest.readers import Source, stem

_NAME = re.compile(r"^(?:(?P<date>.+?)_)?samples_(?P<task>.+?)(?:_(?P<date2>\d{4}-\d{2}-\d{2}T[\d\-:.]+))?$")
# fields of a sample record that are not metrics
_KNOWN = {"doc_id", "doc_hash", "prompt_hash", "target_hash", "target", "input", "resps", "filtered_resps",
          "token_counts", "input_media", "doc", "arguments", "filter", "metrics", "task", "task_name"}
_ANSWER_KEYS = ("parsed_pred", "pred", "prediction", "extracted_answer", "pred_answer", "answer_pred")
_SUBSET_KEYS = ("category", "subdomain", "subject", "l2_category", "subtask", "question_type")
_MODEL_PREFIXES = ("peft=", "delta=", "pretrained=", "model=", "model_version=", "model_name=", "model_id=",
                   "path=", "engine=")


def _first_text(v: Any) -> str | None:
    while isinstance(v, (list, tuple)):
        if not v:
            return None
        v = v[0]
    if isinstance(v, str):
        return v
    return None if is_missing(v) else json.dumps(v, ensure_ascii=False, default=str)


def _first_string(v: Any, depth: int = 0) -> str | None:
    if isinstance(v, str):
        return v
    if depth > 4:
        return None
    items = v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else ()
    for x in items:
        s = _first_string(x, depth + 1)
        if s is not None:
            return s
    return None


def model_from_args(model_args: Any) -> str | None:
    """The model in an lmms-eval `model_args` string (`pretrained=Qwen/Qwen2-VL-7B,...`)."""
    if isinstance(model_args, dict):
        for p in _MODEL_PREFIXES:
            if p[:-1] in model_args:
                return str(model_args[p[:-1]])
        return None
    if not isinstance(model_args, str):
        return None
    for p in _MODEL_PREFIXES:
        for part in model_args.split(","):
            if part.strip().startswith(p):
                return part.strip()[len(p):] or None
    return None


def results_beside(path: Path, date: str | None) -> tuple[Path, dict[str, Any]] | None:
    """The aggregated results file written with the samples file (same date id when it has one)."""
    folder = path.parent
    cands = [folder / f"{date}_results.json"] if date else []
    cands += sorted(folder.glob("*results*.json"), reverse=True)
    for c in cands:
        try:
            if c.is_file() and c.stat().st_size < 64 * 2**20:
                data = json.loads(c.read_text(encoding="utf-8"))
                if isinstance(data, dict) and isinstance(data.get("results"), dict):
                    return c, data
        except (OSError, ValueError):
            continue
    return None


def _is_results(doc: Any) -> bool:
    return (isinstance(doc, dict) and isinstance(doc.get("results"), dict)
            and bool({"configs", "config", "versions", "lmms_eval_version", "model_name", "n-shot"} & set(doc)))


def _model_of(results: dict[str, Any] | None, path: Path) -> str | None:
    if results:
        m = results.get("model_name") or model_from_args((results.get("config") or {}).get("model_args"))
        if m:
            return str(m)
    folder = folder_name(path)
    return folder.replace("__", "/") if folder else None


def _config_of(results: dict[str, Any], task: str | None) -> dict[str, Any]:
    keep = ("config", "model_name", "model_source", "lmms_eval_version", "git_hash", "date", "versions", "n-shot",
            "transformers_version", "total_evaluation_time_seconds")
    cfg = {k: results[k] for k in keep if k in results}
    if task and isinstance(results.get("configs"), dict) and task in results["configs"]:
        cfg["task_config"] = results["configs"][task]
    return cfg


class LmmsEvalSamples(Format):
    name = "lmms-eval"
    description = "lmms-eval / lm-eval `--log_samples` files (`<date>_samples_<task>.jsonl`)"
    consumed = ("doc_id", "resps", "filtered_resps", "token_counts")

    def sniff(self, src: Source) -> int:
        keys = src.keys
        if "doc_id" in keys and keys & {"resps", "filtered_resps"}:
            return 60
        return 40 if "doc_id" in keys and "target" in keys and _NAME.match(stem(src.path)) else 0

    def file_info(self, src: Source) -> FileInfo:
        m = _NAME.match(stem(src.path))
        task = m.group("task") if m else None
        date = (m.group("date") or m.group("date2")) if m else None
        if task is None:
            tasks = {r.get("task") or r.get("task_name") for _, r in src.head[:50]} - {None}
            task = str(tasks.pop()) if len(tasks) == 1 else None
        found = results_beside(src.path, date)
        results = found[1] if found else None
        model = _model_of(results, src.path)
        info = FileInfo(self.name, run_name=f"{model or folder_name(src.path) or 'lmms-eval'}/{task or stem(src.path)}",
                        model=model, benchmark=task, task=task, source_key=src.path.name)
        if found:
            info.config = _config_of(results, task)
            scores = {t: v for t, v in results["results"].items() if t == task or (task and t.startswith(task))}
            info.attach_reported(found[0], scores or results["results"], what="model, config and reported scores")
        info.grade_field = self._grade_field(src, results, task)
        filters = {r.get("filter") for _, r in src.head} - {None}
        if len(filters) > 1:   # one line per doc and filter (lm-eval's strict-match / flexible-extract)
            info.extra["per_filter"] = True
            info.notes.append(f"one record per document and filter ({', '.join(sorted(map(str, filters)))}): "
                              f"ids are <doc_id>/<filter>")
        return info

    def _grade_field(self, src: Source, results: dict[str, Any] | None, task: str | None) -> str | None:
        """The first metric that is a pass/fail grade on every record of the first batch."""
        order: list[str] = []
        for _, r in src.head[:200]:
            if isinstance(r.get("metrics"), list):
                order += [m for m in r["metrics"] if isinstance(m, str)]
        if results and task and isinstance(results.get("higher_is_better", {}).get(task), dict):
            order += list(results["higher_is_better"][task])
        order += [k for k in src.head[0][1] if k not in _KNOWN]
        for key in dict.fromkeys(order):
            values = [r[key] for _, r in src.head[:500] if key in r]
            if values and all(grade(v) is not None for v in values):
                if isinstance(values[0], dict):
                    sub = next(k for k in ("score", "acc", "correct", "hit", "exact_match", "is_correct",
                                           "true_false") if k in values[0])
                    return f"{key}.{sub}"
                return key
        return None

    def fields(self, info: FileInfo) -> dict[str, tuple[str, ...]]:
        f = dict(GENERIC_FIELDS)
        f.update(sample_id=("__id",), question=("input", "__prompt"), ground_truth=("target",), response=("__trace",),
                 final_answer=("__final",), correct=(), prompt_tokens=("__prompt_tokens",),
                 completion_tokens=("__completion_tokens",), subset=())
        return f

    def image_fields(self, info: FileInfo) -> tuple[str, ...]:
        return ("input_media",)

    def prepare(self, raw: dict[str, Any], info: FileInfo) -> dict[str, Any]:
        raw = dict(raw)
        resps, filtered = raw.get("resps"), raw.get("filtered_resps")
        trace = _first_text(resps) if resps is not None else None
        final = _first_text(filtered)
        # `resps` is dropped when identical to `filtered_resps`; with reasoning tags it keeps the raw text
        raw["__trace"] = trace if trace is not None else final
        raw["__final"] = final if trace is not None and final != trace else None
        doc_id = raw.get("doc_id")
        raw["__id"] = f"{text(doc_id)}/{raw.get('filter')}" if info.extra.get("per_filter") and doc_id is not None \
            else doc_id
        if "input" not in raw:   # lm-eval keeps the prompt in `arguments` only
            raw["__prompt"] = _first_string(raw.get("arguments"))
        tc = raw.get("token_counts")
        while isinstance(tc, list) and tc:
            tc = tc[0]
        if isinstance(tc, dict):
            raw["__prompt_tokens"] = tc.get("input_tokens")
            out = tc.get("output_tokens")
            raw["__completion_tokens"] = out
        return raw

    def post(self, row: dict[str, Any], raw: dict[str, Any], info: FileInfo) -> None:
        gf = info.grade_field
        if gf:
            key, _, sub = gf.partition(".")
            v = raw.get(key)
            row["correct"] = grade(v[sub] if sub and isinstance(v, dict) and sub in v else v)
            if isinstance(v, dict) and row.get("subset") is None:
                row["subset"] = next((text(v[k]) for k in _SUBSET_KEYS if k in v and text(v[k])), None)
        for key in [k for k in raw if k not in _KNOWN and isinstance(raw[k], dict)]:
            d = raw[key]
            if row.get("final_answer") is None:
                row["final_answer"] = next((text(d[k]) for k in _ANSWER_KEYS if k in d and text(d[k])), None)
            if row.get("subset") is None:
                row["subset"] = next((text(d[k]) for k in _SUBSET_KEYS if k in d and text(d[k])), None)


class LmmsEvalResults(Format):
    name = "lmms-eval-results"
    role = "summary"
    description = "lmms-eval aggregated `<date>_results.json` (config and scores of a run)"

    def sniff(self, src: Source) -> int:
        return 70 if src.container == "json" and _is_results(src.document) else 0

    def file_info(self, src: Source) -> FileInfo:
        doc = src.document
        model = _model_of(doc, src.path)
        tasks = sorted(doc["results"])
        return FileInfo(self.name, role="summary", model=model, source_key=src.path.name,
                        run_name=f"{model}/{tasks[0]}" if len(tasks) == 1 else "",
                        config=_config_of(doc, tasks[0] if len(tasks) == 1 else None),
                        reported={src.path.name: doc["results"]},
                        extra={"runs": [f"{model}/{t}" for t in tasks]},
                        summary_of=(f"an lmms-eval aggregated results file (config and scores of "
                                    f"{', '.join(tasks[:5])}{' ...' if len(tasks) > 5 else ''}); import the samples "
                                    f"files beside it (`<date>_samples_<task>.jsonl`, written with --log_samples): "
                                    f"they read this file for the model, config and reported scores"))


SAMPLES = LmmsEvalSamples()
RESULTS = LmmsEvalResults()
