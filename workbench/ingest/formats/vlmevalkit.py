"""VLMEvalKit result files: predictions, judged files and `_acc` / `_score` summaries.

`<work_dir>/<model>/[T<date>_G<hash>/]<model>_<dataset>.xlsx|.tsv|.csv` holds the benchmark's columns
(`index`, `question`, `answer`, options `A`..`J`, `category`, base64 `image` or `image_path` written as
Python list text) plus `prediction` (and `thinking` with SPLIT_THINK). Judged files add a suffix and
columns (`_openai_result`: `hit`, `log`; `_<judge>`: `score`, `res`, ...); summaries end in `_acc` /
`_score` (one row per split or category). Stems are split on VLMEvalKit's dataset names, since model
names contain dots, dashes and underscores. A predictions file reads its judged file (the grade of each
`index` becomes `correct`) and its summaries (the run's reported metrics) from the same folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.ingest.fields import grade, text
from workbench.ingest.formats.base import GENERIC_FIELDS, FileInfo, Format, folder_name
from workbench.ingest.formats.vlmevalkit_datasets import DATASETS
from workbench.ingest.readers import Source, base_suffix, open_source, sniff_container, stem

_SUMMARY = re.compile(r"(^|_)(acc|score|scores|rating|metric|metrics|summary)$", re.I)
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]{64,}$")
_IMAGE_EXT = re.compile(r"\.(png|jpe?g|gif|bmp|webp|tiff?)$", re.I)
GRADE_COLUMNS = ("hit", "correct", "true_false", "score", "judge", "is_correct")
ANSWER_COLUMNS = ("res", "extracted", "extract", "extract_answer", "extracted_answer", "pred", "parsed_pred")
_EXTS = ("xlsx", "tsv", "csv")
_MAX_SIBLING_BYTES = 512 * 2**20


@dataclass(frozen=True)
class StemParts:
    model: str
    dataset: str
    suffix: str          # judge or score suffix ('' for predictions)

    @property
    def base(self) -> str:
        return f"{self.model}_{self.dataset}"


def parse_stem(name: str, folders: tuple[str | None, ...] = ()) -> StemParts | None:
    """`{model}_{dataset}[_{suffix}]` split on a known dataset name (the longest, leftmost match)."""
    best: tuple[int, int, str] | None = None
    for i, ch in enumerate(name):
        if ch != "_" or i == 0:
            continue
        rest = name[i + 1:]
        for ds in _candidates(rest):
            key = (-len(ds), i)
            if best is None or key < (best[0], best[1]):
                best = (-len(ds), i, ds)
    if best is not None:
        i, ds = best[1], best[2]
        return StemParts(name[:i], ds, name[i + 1 + len(ds):].lstrip("_"))
    for folder in folders:  # an unknown dataset under its model's folder
        if folder and name.startswith(folder + "_") and len(name) > len(folder) + 1:
            rest = name[len(folder) + 1:]
            m = _SUMMARY.search(rest)
            ds, suffix = (rest[: m.start()].rstrip("_"), m.group(2)) if m and m.start() > 0 else (rest, "")
            return StemParts(folder, ds, suffix)
    return None


def _candidates(rest: str) -> list[str]:
    out = []
    for j in range(len(rest), 0, -1):
        if (j == len(rest) or rest[j] == "_") and rest[:j] in DATASETS:
            out.append(rest[:j])
    return out


def _folders(path: Path) -> tuple[str | None, ...]:
    return (folder_name(path), folder_name(path, 2))


def _grade_column(head: list[tuple[int, dict[str, Any]]]) -> str | None:
    cols = set().union(*(r.keys() for _, r in head[:200])) if head else set()
    for c in GRADE_COLUMNS:
        if c in cols:
            values = [r[c] for _, r in head[:500] if r.get(c) not in (None, "")]
            if values and all(grade(v) is not None for v in values):
                return c
    return None


def _is_summary(parts: StemParts | None, src: Source) -> bool:
    return bool(parts and parts.suffix and _SUMMARY.search(parts.suffix) and "prediction" not in src.keys)


class VlmEvalKit(Format):
    name = "vlmevalkit"
    description = "VLMEvalKit `<model>_<dataset>.xlsx/.tsv/.csv` predictions and judged files"

    def sniff(self, src: Source) -> int:
        parts = parse_stem(stem(src.path), _folders(src.path))
        if "prediction" in src.keys and ("index" in src.keys or src.container in ("tsv", "xlsx", "csv")):
            return 45 if parts else 30
        return 0

    def file_info(self, src: Source) -> FileInfo:
        parts = parse_stem(stem(src.path), _folders(src.path))
        model = parts.model if parts else folder_name(src.path)
        dataset = parts.dataset if parts else stem(src.path)
        suffix = parts.suffix if parts else ""
        info = FileInfo(self.name, role="judged" if suffix else "samples", run_name=f"{model}/{dataset}",
                        model=model, benchmark=dataset, task=dataset,
                        source_key=(parts.base if parts else stem(src.path)))
        own = _grade_column(src.head)
        if own:
            info.grade_field = own
            info.extra["own_column"] = own
        elif not suffix and parts:
            self._join_judged(src, parts, info)
        if parts:
            self._summaries(src.path, parts, info)
        return info

    def _siblings(self, path: Path, parts: StemParts) -> list[Path]:
        out = []
        for p in sorted(path.parent.glob(f"{parts.base}_*")):
            if p == path or base_suffix(p) not in _EXTS or not p.is_file():
                continue
            sp = parse_stem(stem(p), _folders(p))
            if sp and sp.base == parts.base and sp.suffix:
                out.append(p)
        return out

    def _join_judged(self, src: Source, parts: StemParts, info: FileInfo) -> None:
        """Grades of a judged file beside the predictions: index -> (grade, answer, extra columns)."""
        judged = [p for p in self._siblings(src.path, parts)
                  if not _SUMMARY.search(parse_stem(stem(p), _folders(p)).suffix)]  # type: ignore[union-attr]
        judged.sort(key=lambda p: ("openai_result" not in p.name, p.name))
        for p in judged:
            if p.stat().st_size > _MAX_SIBLING_BYTES:
                continue
            try:
                jsrc = open_source(p, sniff_container(p))
            except Exception:  # noqa: BLE001 - an unreadable sibling is not this file's problem
                continue
            col = _grade_column(jsrc.head)
            if not col or "index" not in jsrc.keys:
                continue
            grades: dict[str, dict[str, Any]] = {}
            for batch in jsrc.batches():
                for _, r in batch:
                    key = text(r.get("index"))
                    if key is not None:
                        grades[key] = r
            info.extra["judged"] = grades
            info.grade_field = f"{p.name}:{col}"
            info.extra["judged_column"] = col
            info.skip_paths.add(str(p.resolve()))
            info.notes.append(f"grades joined from {p.name} (column '{col}')")
            return

    def _summaries(self, path: Path, parts: StemParts, info: FileInfo) -> None:
        for p in self._siblings(path, parts):
            sp = parse_stem(stem(p), _folders(p))
            if sp and _SUMMARY.search(sp.suffix) and p.stat().st_size < 16 * 2**20:
                try:
                    rows = [r for b in open_source(p, sniff_container(p)).batches() for _, r in b]
                except Exception:  # noqa: BLE001 - an unreadable summary beside the file is skipped
                    continue
                info.reported = {**(info.reported or {}), p.name: rows}
                info.skip_paths.add(str(p.resolve()))
                info.notes.append(f"reported metrics read from {p.name}")

    def fields(self, info: FileInfo) -> dict[str, tuple[str, ...]]:
        f = dict(GENERIC_FIELDS)
        f.update(sample_id=("index",) + f["sample_id"], response=("prediction",),
                 subset=("category", "l2-category", "l2_category", "field", "subject", "subfield", "split",
                         "question_type", "task"),
                 correct=(), final_answer=ANSWER_COLUMNS)
        return f

    def prepare(self, raw: dict[str, Any], info: FileInfo) -> dict[str, Any]:
        judged = info.extra.get("judged")
        if judged:
            j = judged.get(text(raw.get("index")) or "")
            if j:
                # the judge's columns after the prediction's, as in the judged file (same metadata either way)
                raw = {**raw, **{k: v for k, v in j.items() if k not in raw}}
                raw["__grade"] = j.get(info.extra["judged_column"])
        return raw

    def images(self, raw: dict[str, Any], refs: list[str], info: FileInfo) -> list[str]:
        return ["base64:" + r if _BASE64.match(r) and not _IMAGE_EXT.search(r) else r for r in refs]

    def post(self, row: dict[str, Any], raw: dict[str, Any], info: FileInfo) -> None:
        # the judge's grade (a value that is not pass/fail, such as a 0.6 rating, stays in metadata only)
        if "__grade" in raw:
            row["correct"] = grade(raw["__grade"])
        elif "own_column" in info.extra:
            row["correct"] = grade(raw.get(info.extra["own_column"]))


class VlmEvalKitSummary(Format):
    name = "vlmevalkit-summary"
    role = "summary"
    description = "VLMEvalKit `_acc` / `_score` summaries (reported metrics of a run)"

    def sniff(self, src: Source) -> int:
        parts = parse_stem(stem(src.path), _folders(src.path))
        return 65 if _is_summary(parts, src) and src.container in ("csv", "tsv", "xlsx", "json") else 0

    def file_info(self, src: Source) -> FileInfo:
        parts = parse_stem(stem(src.path), _folders(src.path))
        assert parts is not None
        rows = src.document if src.container == "json" else [r for _, r in src.head]
        return FileInfo(self.name, role="summary", model=parts.model, benchmark=parts.dataset,
                        run_name=f"{parts.model}/{parts.dataset}", source_key=parts.base,
                        reported={src.path.name: rows},
                        summary_of=(f"a VLMEvalKit score summary of {parts.model} on {parts.dataset}; import the "
                                    f"predictions file beside it ({parts.base}.xlsx / .tsv / .csv): it reads "
                                    f"this summary and the judged file itself"))


FORMAT = VlmEvalKit()
SUMMARY = VlmEvalKitSummary()
