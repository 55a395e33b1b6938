"""A trace's own conclusion, the source's reported answer, their grades, and per-trace measures.

The trace's conclusion (the first that finds something wins): QVQ's "**Final Answer**" block (its
boxed content or first line), the last `\\boxed{...}` (nested braces handled), the last "Answer: X"
line (or an "**Answer**" heading and the line under it), the last "the answer is ..." / "答案是 X";
a short response (one paragraph) is its own answer; then, only for a trace that did not run out, the
last "option/choice X" and its last paragraph. A statement running into the cut end of a truncated
trace is a fragment, never an answer.

Grades (workbench.analysis.grading, the benchmark's rules): `reported_correct` grades the source's
reported answer (`samples.final_answer`: lmms-eval `filtered_resps`, VLMEvalKit `prediction`, MathVista
`extraction`, ...), `conclusion_correct` the trace's own conclusion; `extracted_correct` is the first
where the source reports an answer, else the second (`grade_basis` says which).
Truncation (workbench.analysis.truncation): ran out of tokens, not merely "has no answer".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from workbench.analysis import grading, truncation
from workbench.analysis.base import Step
from workbench.analysis.grading import boxed_contents, clean

VERSION = "answers-3"

# QVQ's "**Final Answer**" and a line-start "Final Answer:", matched only where str.find saw
# "final answer" (a case-insensitive regex scan of every position costs ~2.5x more).
_FINAL_BOLD = re.compile(r"\*\*Final Answer:?\*\*:?", re.I)
_FINAL_LINE = re.compile(r"[ \t#>]*Final Answer\s*:", re.I)
# Applied only at occurrences of "answer" / "option" / "choice" found with str.find (C speed).
_ANSWER_IS = re.compile(r"(?:answer|option|choice)\s+(?:is|should be|would be|must be|will be)\s*:?\s*([^\n]{1,160}?)"
                        r"(?:[.;。](?:\s|$)|\n|$)", re.I)
_VERB = re.compile(r"\s*(?:is|should|would|must|will)\b")
_ANSWER_LINE = re.compile(r"(?:\*\*)?answer(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*([^\n]{1,200})", re.I)
_ANSWER_HEAD = re.compile(r"[ \t#>]*\*\*(?:answer|答案)\*\*[ \t]*\n+\s*([^\n]{1,200})", re.I)
_ZH_ANSWER = re.compile(r"(?:答案|正确答案|最终答案)(?:应该|应)?(?:是|为|：|:)\s*([^\n。，,；;]{1,60})")
# A last line that is only an answer: "B", "(B)", "**B**", "C. 12", "22", "8 m", "所以选B".
_FINAL_SHORT = re.compile(r"(?:[*(\[]{0,2}[A-J][)\].:]?\**|[*(\[]{0,2}[A-J][)\].:]\**\s+[^\n]{1,60}"
                          r"|[-+]?[\d.,]+\s?[^\W\d_]{0,6}%?"
                          r"|(?:所以|因此|故)?选\s*[A-J])[ \t]*[.。]?$")
_OPTION = re.compile(r"(?:option|answer|choice)\s*(?:is\s*)?:?\s*\(?([A-J])\)?(?![A-Za-z])")
_LETTER = re.compile(r"^\(?([A-J])\)?(?:[.:)\s]|$)")

LAST_CHARS = 400   # how much of the last paragraph a trace without any marker is read by
STRONG = ("final_answer_block", "boxed", "answer_line", "answer_is", "short")


@dataclass(frozen=True)
class AnswerInfo:
    """A conclusion found in a text: the answer as written, its pattern, where it lies, and the
    distinct normalised candidate answers stated along the way."""
    answer: str | None
    # final_answer_block | boxed | answer_line | answer_is | short | option_letter | last_paragraph
    source: str | None
    candidates: tuple[str, ...]
    start: int | None = None
    end: int | None = None


def normalise(ans: str | None) -> str | None:
    """A candidate answer folded for counting distinct candidates: a letter, or lower-cased text."""
    if ans is None:
        return None
    if len(ans) == 1 and "A" <= ans <= "J":
        return ans
    s = clean(ans)
    m = _LETTER.match(s)
    if m and (len(s) <= 3 or s[1:3] in (". ", ") ", ": ") or s[0] == "("):
        return m.group(1)
    return re.sub(r"\s+", " ", s.lower()) or None


def extract_answer(response: str | None) -> AnswerInfo:
    """The trace's own conclusion (see the module docstring), before any truncation check."""
    return _extract(response or "")


@lru_cache(maxsize=8)   # trace_stats and the answer-mismatch detector read the same trace in turn
def _extract(response: str) -> AnswerInfo:
    if not response.strip():
        return AnswerInfo(None, None, ())
    low = response.lower()
    boxed = boxed_contents(response) if "\\boxed{" in response else []
    answer_is: list[tuple[int, int, str]] = []
    lines: list[tuple[int, int, str]] = []
    options: list[tuple[int, int, str]] = []
    for pos in _find_all(low, "answer"):
        after = low[pos + 6:pos + 12]   # cheap look-ahead before any regex runs
        if after[:1].isspace() and _VERB.match(low, pos + 7):
            m = _ANSWER_IS.match(response, pos)
            if m and not _runs_to_cut_end(response, m.end(1), m.end(), m.start(1)):
                answer_is.append((m.start(1), m.end(1), m.group(1)))
        if ":" in after or "：" in after:
            m = _ANSWER_LINE.match(response, pos)
            if m and (_line_start(response, pos) or low.endswith(("the ", "final "), 0, pos)) \
                    and not _runs_to_cut_end(response, m.end(1), m.end(), m.start(1)):
                lines.append((m.start(1), m.end(1), m.group(1)))
        m = _OPTION.match(response, pos)
        if m:
            options.append((m.start(1), m.end(1), m.group(1)))
    if "**answer**" in low or "**答案**" in response:
        for m in _ANSWER_HEAD.finditer(response):
            lines.append((m.start(1), m.end(1), m.group(1)))
    for word in ("option", "choice"):
        for pos in _find_all(low, word):
            m = _OPTION.match(response, pos)
            if m:
                options.append((m.start(1), m.end(1), m.group(1)))
            if low[pos + len(word):pos + len(word) + 1].isspace() and _VERB.match(low, pos + len(word) + 1):
                m = _ANSWER_IS.match(response, pos)   # "the correct option is: B"
                if m and not _runs_to_cut_end(response, m.end(1), m.end(), m.start(1)):
                    answer_is.append((m.start(1), m.end(1), m.group(1)))
    if "答案" in response:
        for m in _ZH_ANSWER.finditer(response):
            answer_is.append((m.start(1), m.end(1), m.group(1)))
    last_nl = response.rstrip().rfind("\n")
    if last_nl > 0:   # a last line that is only an answer, after a finished sentence or a colon
        line = response[last_nl + 1:].strip()
        before = response[:last_nl].rstrip()
        if line and _FINAL_SHORT.fullmatch(line) and (before.endswith(":") or truncation.ends_clean(before)):
            start = response.find(line, last_nl)
            lines.append((start, start + len(line), line))
    answer_is.sort()
    lines.sort()
    options.sort()
    candidates = dict.fromkeys([c for _, c in boxed] + [c for *_, c in answer_is] + [c for *_, c in options])
    distinct = tuple(dict.fromkeys(n for n in (normalise(c) for c in candidates) if n))

    found: tuple[str, str, int, int] | None = None
    block = _last_final_block(response, low)
    if block is not None:
        tail = response[block:]
        inner = boxed_contents(tail)
        if inner:
            off, content = inner[-1]
            found = (content, "final_answer_block", block + off + 7, block + off + 7 + len(content))
        else:
            m = re.search(r"\S[^\n]*", tail)
            if m and not _runs_to_cut_end(response, block + m.end(), block + m.end(), block + m.start()):
                found = (m.group(0), "final_answer_block", block + m.start(), block + m.end())
    if found is None and boxed:
        off, content = boxed[-1]
        found = (content, "boxed", off + 7, off + 7 + len(content))
    best = max((x for x in (lines[-1:] + answer_is[-1:])), default=None, key=lambda x: x[0])
    if found is None and best is not None:
        found = (best[2], "answer_line" if best in lines else "answer_is", best[0], best[1])
    if found is None and truncation.is_short(response):
        s = response.strip()
        start = response.find(s)
        found = (s, "short", start, start + len(s))
    if found is None and options:
        found = (options[-1][2], "option_letter", options[-1][0], options[-1][1])
    if found is None:   # the last sentences of the last paragraph (read as the benchmarks' parsers do)
        t = response.rstrip()
        start = max(t.rfind("\n\n") + 2 if "\n\n" in t else 0, len(t) - LAST_CHARS)
        if start > 0 and len(t) - start >= LAST_CHARS:
            m = re.search(r"[.!?。]\s+", t[start:start + 200])
            start += m.end() if m else 0
        if t[start:].strip():
            found = (t[start:].strip(), "last_paragraph", start, len(t))
    if found is None:
        return AnswerInfo(None, None, distinct)
    answer, source, start, end = found
    final = normalise(answer)
    if final and final not in distinct and source != "last_paragraph":
        distinct += (final,)
    return AnswerInfo(clean(answer) or None, source, distinct, start, end)


def _line_start(text: str, pos: int) -> bool:
    """Whether only markup or spaces precede `pos` on its line ("Answer: B", "**Answer:** B")."""
    line = text[text.rfind("\n", 0, pos) + 1:pos]
    return not line.strip(" \t*#>-_")


def _runs_to_cut_end(text: str, group_end: int, match_end: int, group_start: int | None = None) -> bool:
    """A statement that runs into the end of the text and is left open there (a dangling operator or
    word, an unclosed bracket or formula: "= (28", "is \\( y = 5 -") is a fragment, not an answer."""
    if text[match_end:].strip() or group_end < len(text.rstrip()):
        return False
    return truncation.left_open(text[group_start if group_start is not None else max(0, group_end - 200):group_end])


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


def grade(answer: str | None, ground_truth: str | None, *, question: str | None = None, metadata: Any = None,
          benchmark: str | None = None) -> bool | None:
    """True/False for `answer` against the ground truth by the benchmark's rules; None when there is no
    ground truth or no answer."""
    return grading.grade(answer, ground_truth, question=question, metadata=metadata, benchmark=benchmark)


@dataclass(frozen=True)
class TraceStats:
    """Per-trace measures; every field is a `trace_stats` column of the same name."""
    n_steps: int
    n_switches: int
    n_reflections: int
    n_candidates: int
    extracted_answer: str | None      # the graded answer as read (option letter, number, text)
    answer_source: str | None         # `reported`, or the conclusion's pattern
    extracted_correct: bool | None
    truncated: bool
    n_chars: int
    question_type: str | None = None  # multiple_choice | numeric | free_text (NULL: no ground truth)
    conclusion: str | None = None     # the trace's own conclusion as read
    conclusion_source: str | None = None
    conclusion_correct: bool | None = None
    reported_answer: str | None = None    # the source's reported answer as read
    reported_correct: bool | None = None
    grade_basis: str | None = None        # reported | conclusion (which one extracted_correct is)
    truncation: str | None = None         # length | loop | cut (NULL: complete)


@dataclass(frozen=True)
class Reading:
    """The trace's conclusion and the reported answer as the grader reads them (shared with the
    answer-mismatch detector)."""
    info: AnswerInfo
    truncation: str | None
    question: grading.Question | None
    conclusion: str | None
    reported: str | None


# The last read_answers call and its Reading: trace_stats and the answer-mismatch detector read the same
# sample one after the other, so the second call costs one comparison of its arguments.
_LAST: tuple[tuple[Any, ...], Reading] | None = None


def read_answers(response: str | None, *, final_answer: str | None = None, ground_truth: str | None = None,
                 question: str | None = None, metadata: Any = None, benchmark: str | None = None,
                 finish_reason: str | None = None) -> Reading:
    """The sample's conclusion and reported answer (Reading); a pure function of its arguments
    (memoised for the last arguments: Reading and everything in it is frozen)."""
    global _LAST
    args = (response, final_answer, ground_truth, question, metadata, benchmark, finish_reason)
    last = _LAST
    if last is not None and _same(last[0], args):
        return last[1]
    reading = _read_answers(response, final_answer=final_answer, ground_truth=ground_truth, question=question,
                            metadata=metadata, benchmark=benchmark, finish_reason=finish_reason)
    _LAST = (args, reading)
    return reading


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """The same arguments: equal strings, or both None (anything else, e.g. a dict that may have been changed
    in place since, is never taken as the same; the store hands metadata over as JSON text)."""
    return all((x is None and y is None) or (type(x) is str and type(y) is str and x == y) for x, y in zip(a, b))


def _read_answers(response: str | None, *, final_answer: str | None, ground_truth: str | None,
                  question: str | None, metadata: Any, benchmark: str | None, finish_reason: str | None) -> Reading:
    text = response or ""
    info = extract_answer(text)
    strong_end = info.end if info.source in STRONG else None
    cut = truncation.truncation(text, conclusion_end=strong_end, finish_reason=finish_reason,
                                concluded=info.source not in (None, "last_paragraph"))
    if cut and info.source in ("option_letter", "last_paragraph"):
        info = AnswerInfo(None, None, info.candidates)   # a trace that ran out concluded nothing
    q = grading.question_spec(question, ground_truth, metadata, benchmark)
    reported_text = _reported_text(final_answer, text)
    if q is not None:
        conclusion = grading.interpret(info.answer, q)
        if q.kind == grading.MC and q.rule == "mmmu" and info.source in (None, "last_paragraph") and not cut:
            conclusion = grading.mmmu_choice(text, q)   # MMMU reads the whole response when nothing is stated
        reported = grading.interpret(reported_text, q) if reported_text is not None else None
    else:
        conclusion = _plain(info.answer)
        reported = _plain(reported_text)
    return Reading(info, cut, q, conclusion, reported)


def _plain(s: str | None) -> str | None:
    """An answer read without a ground truth: an option letter ("(B) 42" -> "B") or lower-cased text."""
    return normalise(s[:500]) if s is not None else None


def _reported_text(final_answer: str | None, response: str) -> str | None:
    """The reported answer to grade: short ones as they are; a long one (a whole second reasoning
    turn, an unfiltered response) by its own conclusion."""
    if final_answer is None or not str(final_answer).strip():
        return None
    fa = str(final_answer)
    if fa.strip() == response.strip() or not truncation.is_short(fa):
        info = extract_answer(fa)
        return info.answer if info.answer is not None else fa[-truncation.SHORT_CHARS:]
    return fa


def trace_stats(response: str | None, steps: Sequence[Step], *, ground_truth: str | None = None,
                finish_reason: str | None = None, final_answer: str | None = None, question: str | None = None,
                metadata: Any = None, benchmark: str | None = None) -> TraceStats:
    text = response or ""
    r = read_answers(text, final_answer=final_answer, ground_truth=ground_truth, question=question,
                     metadata=metadata, benchmark=benchmark, finish_reason=finish_reason)
    q = r.question
    conclusion_ok = reported_ok = None
    if q is not None:   # no answer at all (an empty response) is wrong, as the benchmarks count it
        conclusion_ok = grading.is_correct(r.conclusion, q)
        if final_answer is not None and str(final_answer).strip():
            reported_ok = grading.is_correct(r.reported, q)
    basis: str | None
    answer: str | None
    source: str | None
    if final_answer is not None and str(final_answer).strip():
        basis, answer, source, correct = "reported", r.reported, "reported", reported_ok
    else:
        basis, answer, source, correct = "conclusion", r.conclusion, r.info.source, conclusion_ok
    if correct is None and answer is None:
        basis = None
    return TraceStats(
        n_steps=len(steps),
        n_switches=sum(s.role == "switch" for s in steps),
        n_reflections=sum(s.role == "reflection" for s in steps),
        n_candidates=len(r.info.candidates),
        extracted_answer=_cap(answer),
        answer_source=source if answer is not None else None,
        extracted_correct=correct,
        truncated=r.truncation is not None,
        n_chars=len(text),
        question_type=q.kind if q else None,
        conclusion=_cap(r.conclusion),
        conclusion_source=r.info.source if r.conclusion is not None else None,
        conclusion_correct=conclusion_ok,
        reported_answer=_cap(r.reported),
        reported_correct=reported_ok,
        grade_basis=basis if correct is not None else None,
        truncation=r.truncation,
    )


def _cap(s: str | None) -> str | None:
    return s[:500] if s else None
