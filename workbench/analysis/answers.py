"""Final-answer extraction, grading against ground truth, and per-trace measures.

Extraction order (the first that finds something wins): QVQ's "**Final Answer**" block (its
boxed content or first line), the last `\\boxed{...}` (nested braces handled), the last "the
answer is ...", the last "option/answer/choice X". Grading: option letters exactly, numbers with
a relative tolerance of 1e-2 (absolute 1e-6 near zero), other text after normalisation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from workbench.analysis.base import Step

VERSION = "answers-2"

# "**Final Answer**" anywhere; a plain "Final Answer:" only at a line start (prose says "the final answer").
# QVQ's "**Final Answer**" and a line-start "Final Answer:", matched only where str.find saw
# "final answer" (a case-insensitive regex scan of every position costs ~2.5x more).
_FINAL_BOLD = re.compile(r"\*\*Final Answer:?\*\*:?", re.I)
_FINAL_LINE = re.compile(r"[ \t#>]*Final Answer\s*:", re.I)
# Both are applied only at occurrences of "answer" / "option" / "choice" found with str.find
# (C speed); a regex scan of every position of long traces costs ~10x more.
_ANSWER_IS = re.compile(r"answer\s+(?:is|should be|would be|must be)\s*:?\s*([^\n]{1,120}?)(?:[.;]\s|[.;]?$|\n)",
                        re.I | re.M)
_OPTION = re.compile(r"(?:option|answer|choice)\s*(?:is\s*)?:?\s*\(?([A-J])\)?(?![A-Za-z])")
_LETTER = re.compile(r"^\(?([A-J])\)?(?:[.:)\s]|$)")
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_LATEX_WRAP = re.compile(r"\\(?:text|mathrm|textbf|mathbf|operatorname)\{([^{}]*)\}")
_END_OK = re.compile(r"[.!?。)\]}*`$\"'»”>|]\s*$")


@dataclass(frozen=True)
class AnswerInfo:
    answer: str | None
    source: str | None          # final_answer_block | boxed | answer_is | option_letter
    candidates: tuple[str, ...]  # distinct normalised candidate answers along the trace


def boxed_contents(text: str) -> list[tuple[int, str]]:
    """(offset, content) of every \\boxed{...}, balancing nested braces."""
    out = []
    start = 0
    while True:
        i = text.find("\\boxed{", start)
        if i < 0:
            return out
        depth, j = 1, i + 7
        while j < len(text) and depth:
            c = text[j]
            depth += (c == "{") - (c == "}")
            j += 1
        if depth == 0:
            out.append((i, text[i + 7:j - 1]))
        start = i + 7


def clean(ans: str) -> str:
    s = ans.strip()
    for _ in range(3):
        s = _LATEX_WRAP.sub(r"\1", s)
    s = s.replace("\\%", "%").replace("\\,", "").replace("\\ ", " ").replace("$", "").replace("\\(", "")
    s = s.replace("\\)", "").replace("\\[", "").replace("\\]", "").replace("**", "").strip()
    return s.strip(" .:;,")


def normalise(ans: str | None) -> str | None:
    if ans is None:
        return None
    s = clean(ans)
    m = _LETTER.match(s)
    if m and (len(s) <= 3 or s[1:3] in (". ", ") ", ": ") or s[0] == "("):
        return m.group(1)
    return re.sub(r"\s+", " ", s.lower()) or None


def extract_answer(response: str | None) -> AnswerInfo:
    if not response:
        return AnswerInfo(None, None, ())
    candidates: list[str] = []
    boxed = boxed_contents(response)
    candidates += [c for _, c in boxed]
    low = response.lower()
    answer_is, options = [], []
    for pos in _find_all(low, "answer"):
        m = _ANSWER_IS.match(response, pos)
        if m:
            answer_is.append(m.group(1))
        m = _OPTION.match(response, pos)
        if m:
            options.append(m.group(1))
    for word in ("option", "choice"):
        for pos in _find_all(low, word):
            m = _OPTION.match(response, pos)
            if m:
                options.append(m.group(1))
    candidates += answer_is
    candidates += options
    distinct = tuple(dict.fromkeys(n for n in (normalise(c) for c in candidates) if n))

    answer, source = None, None
    block_end = _last_final_block(response, low)
    if block_end is not None:
        tail = response[block_end:]
        inner = boxed_contents(tail)
        if inner:
            answer = inner[-1][1]
        else:
            line = next((ln for ln in tail.splitlines() if ln.strip()), "")
            answer = line or None
        source = "final_answer_block" if answer else None
    if answer is None and boxed:
        answer, source = boxed[-1][1], "boxed"
    if answer is None and answer_is:
        answer, source = answer_is[-1], "answer_is"
    if answer is None and options:
        answer, source = options[-1], "option_letter"
    final = normalise(answer) if answer else None
    if final and final not in distinct:  # a plain "Final Answer:" line is a candidate too
        distinct += (final,)
    return AnswerInfo(clean(answer) if answer else None, source, distinct)


def _last_final_block(response: str, low: str) -> int | None:
    """End offset of the last "**Final Answer**" or line-start "Final Answer:" marker, or None."""
    end = None
    i = low.find("final answer")
    while i >= 0:
        m = _FINAL_BOLD.match(response, i - 2) if i >= 2 and response[i - 2:i] == "**" else None
        if m is None:
            line_start = response.rfind("\n", 0, i) + 1
            m = _FINAL_LINE.match(response, line_start)
            if m is not None and m.end() <= i:
                m = None
        if m is not None:
            end = m.end()
        i = low.find("final answer", i + 1)
    return end


def _find_all(haystack: str, needle: str) -> list[int]:
    out, i = [], haystack.find(needle)
    while i >= 0:
        if i == 0 or not haystack[i - 1].isalnum():
            out.append(i)
        i = haystack.find(needle, i + 1)
    return out


def _numbers(s: str) -> list[float]:
    return [float(x.replace(",", "")) for x in _NUMBER.findall(s)]


_FRACTION = re.compile(r"^(-?)\s*(?:\\[dt]?frac\{\s*(\d+(?:\.\d+)?)\s*\}\{\s*(\d+(?:\.\d+)?)\s*\}"
                       r"|(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?))$")
_PLAIN = re.compile(r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?$")


def _values(s: str) -> list[float]:
    """Values a wholly numeric answer can mean ([] when it is not just a number)."""
    s = s.strip()
    percent = s.endswith("%")
    s = s.rstrip("%").strip()
    m = _FRACTION.match(s)
    if m:
        p, q = (m.group(2), m.group(3)) if m.group(2) else (m.group(4), m.group(5))
        if float(q) == 0:
            return []
        v = (-1 if m.group(1) else 1) * float(p) / float(q)
    elif s and any(c.isdigit() for c in s) and _PLAIN.match(s):
        v = float(s.replace(",", ""))
    else:
        return []
    return [v, v / 100] if percent else [v]


def grade(answer: str | None, ground_truth: str | None) -> bool | None:
    """True/False against the ground truth; None when either is missing."""
    if answer is None or ground_truth is None or not str(ground_truth).strip():
        return None
    a, g = normalise(answer), normalise(str(ground_truth))
    if a is None or g is None:
        return None
    if len(g) == 1 and g.isupper():
        return a == g
    if a == g:
        return True
    va, vg = _values(a), _values(g)
    if va and vg:  # both wholly numeric: 1/2 = \frac{1}{2} = 0.5, 12% = 0.12
        return any(abs(x - y) <= max(1e-6, 1e-2 * abs(y)) for x in va for y in vg)
    na, ng = _numbers(a), _numbers(g)
    if ng and na and len(ng) == 1:
        x, y = na[-1], ng[0]
        return abs(x - y) <= max(1e-6, 1e-2 * abs(y))
    return re.sub(r"[^a-z0-9]", "", a) == re.sub(r"[^a-z0-9]", "", g)


@dataclass(frozen=True)
class TraceStats:
    n_steps: int
    n_switches: int
    n_reflections: int
    n_candidates: int
    extracted_answer: str | None
    answer_source: str | None
    extracted_correct: bool | None
    truncated: bool
    n_chars: int


def trace_stats(response: str | None, steps: Sequence[Step], *, ground_truth: str | None = None,
                finish_reason: str | None = None) -> TraceStats:
    text = response or ""
    info = extract_answer(text)
    stopped_mid = bool(text.strip()) and not _END_OK.search(text[-200:])
    truncated = finish_reason == "length" or (info.answer is None and stopped_mid)
    return TraceStats(
        n_steps=len(steps),
        n_switches=sum(s.role == "switch" for s in steps),
        n_reflections=sum(s.role == "reflection" for s in steps),
        n_candidates=len(info.candidates),
        extracted_answer=info.answer[:500] if info.answer else None,
        answer_source=info.source,
        extracted_correct=grade(info.answer, ground_truth),
        truncated=truncated,
        n_chars=len(text),
    )
