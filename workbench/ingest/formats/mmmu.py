"""MMMU and MMMU-Pro outputs (the benchmark's own scripts).

- MMMU-Pro evaluated outputs (JSONL): `id`, `question`, `options` (a list as text), `answer`, `response`,
  `pred_indexs` (the parsed letter), `if_right` (a bool in one file, "True"/"False" in another).
- MMMU-Pro inference outputs: the dataset's columns (`image_1`..`image_7`, `subfield`, ...) and `response`;
  their `is_correct` is the dataset's annotation that the QUESTION is valid, not a grade: never read as one.
- MMMU outputs (JSON array): `id`, `question_type`, `answer`, `all_choices`, `index2ans`, `response`; and the
  parsed answers, one JSON object `{id: "A", ...}`.
Model and setting come from the file name (`gpt-4o_standard(10 options)_cot`) or the folder (`qwen_vl/...`).
"""

from __future__ import annotations

import re
from typing import Any

from workbench.ingest.fields import text
from workbench.ingest.formats.base import GENERIC_FIELDS, FileInfo, Format, folder_name
from workbench.ingest.readers import KEY_FIELD, VALUE_FIELD, Source, stem

_ID = re.compile(r"^(?:validation|test|dev)_(?P<subject>.+)_\d+$")
_SETTING = re.compile(r"^(cot|direct|vision|standard(\(.*\))?|\d+opts?|\d+ ?options?)$", re.I)
_SPLIT = re.compile(r"^(val|validation|test|dev|output|outputs|total)$", re.I)


def _ids(src: Source) -> list[str]:
    return [text(r.get("id", r.get(KEY_FIELD))) or "" for _, r in src.head[:200]]


class Mmmu(Format):
    name = "mmmu"
    description = "MMMU / MMMU-Pro outputs of the benchmark's scripts"

    def sniff(self, src: Source) -> int:
        keys = src.keys
        ids = _ids(src)
        mmmu_ids = bool(ids) and sum(bool(_ID.match(i)) for i in ids) >= 0.9 * len(ids)
        if "id" in keys and keys & {"if_right", "pred_indexs", "augmented_options", "all_choices", "index2ans"}:
            return 55
        if mmmu_ids and (VALUE_FIELD in keys or {"response", "answer"} <= keys):
            return 52
        return 0

    def file_info(self, src: Source) -> FileInfo:
        keys = src.keys
        pro = "options" in keys or "pred_indexs" in keys or "if_right" in keys
        name = stem(src.path)
        folder, parent = folder_name(src.path), folder_name(src.path, 2)
        subjects = {m.group("subject") for i in _ids(src) if (m := _ID.match(i))}
        subject = folder if folder in subjects and len(subjects) == 1 else None
        tokens = name.split("_")
        setting: list[str] = []
        while len(tokens) > 1 and (_SETTING.match(tokens[-1]) or _SPLIT.match(tokens[-1])):
            tok = tokens.pop()
            if _SETTING.match(tok):
                setting.insert(0, tok)
        model = "_".join(tokens)
        if _SPLIT.match(model) or model in ("output", "total_val_output"):
            model = (parent if subject else folder) or model
        elif subject:
            model = parent or model
        bench = "MMMU-Pro" if pro else "MMMU"
        task = " ".join([bench] + setting + ([subject] if subject else []))
        info = FileInfo(self.name, run_name=f"{model}/{task}", model=model, benchmark=bench, task=task,
                        source_key=src.path.name if not subject else f"{subject}/{src.path.name}")
        if "if_right" in keys:
            info.grade_field = "if_right"
        if VALUE_FIELD in keys:
            info.notes.append("an object of parsed answers (id -> answer): each answer is the response and "
                              "the final answer")
        return info

    def fields(self, info: FileInfo) -> dict[str, tuple[str, ...]]:
        f = dict(GENERIC_FIELDS)
        f.update(sample_id=("id", KEY_FIELD), response=("response", VALUE_FIELD),
                 final_answer=("pred_indexs", "parsed_pred", VALUE_FIELD), ground_truth=("answer",),
                 correct=("if_right",), subset=("subject",))
        return f

    def post(self, row: dict[str, Any], raw: dict[str, Any], info: FileInfo) -> None:
        if row.get("subset") is None:
            m = _ID.match(row["sample_id"])
            if m:
                row["subset"] = m.group("subject")


FORMAT = Mmmu()
