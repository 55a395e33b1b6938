"""Answer-mismatch detector: the trace concludes one answer, the source reports another.

Many evaluation set-ups grade an answer that is not the trace's own last word: a second turn that asks
for the final answer only (the QVQ dev set), a filter or an extraction model (lmms-eval
`filtered_resps`, MathVista `extraction`, VLMEvalKit `prediction`). When the trace's own conclusion
(answers.extract_answer, read by the benchmark's rules) and the reported answer (`samples.final_answer`,
read the same way) name different answers, the grade is about something the reasoning did not conclude.

Severity: `changes_grade` when one of the two is right and the other wrong (the extraction or the
second turn changed the outcome), `differs` otherwise (both wrong, or no ground truth). Nothing is
reported when the trace concludes nothing (it ran out) or the source reports no answer.
Score: 1.0 for `changes_grade`, 0.5 for `differs`. The finding spans the trace's conclusion.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.analysis import grading
from workbench.analysis.answers import read_answers
from workbench.analysis.base import Step, step_at
from workbench.analysis.registry import DetectorSpec, Severity
from workbench.records import Finding

NAME = "answer_mismatch"
VERSION = "answer-mismatch-1"


def detect(response: str, *, question: str | None = None, steps: Sequence[Step] = (), has_image: bool = False,
           final_answer: str | None = None, ground_truth: str | None = None, metadata: Any = None,
           benchmark: str | None = None, finish_reason: str | None = None) -> list[Finding]:
    """One finding when the trace's conclusion and the reported answer differ (see the module docstring)."""
    if not response or final_answer is None or not str(final_answer).strip():
        return []
    r = read_answers(response, final_answer=final_answer, ground_truth=ground_truth, question=question,
                     metadata=metadata, benchmark=benchmark, finish_reason=finish_reason)
    if r.conclusion is None or r.reported is None or grading.same_answer(r.conclusion, r.reported, r.question):
        return []
    c_ok = r_ok = None
    if r.question is not None:
        c_ok = grading.is_correct(r.conclusion, r.question)
        r_ok = grading.is_correct(r.reported, r.question)
    flips = c_ok is not None and c_ok != r_ok
    start, end = r.info.start, r.info.end
    verdict = ""
    if flips:
        verdict = " (the conclusion is right, the reported answer wrong)" if c_ok else \
            " (the reported answer is right, the conclusion wrong)"
    return [Finding(
        detector=NAME, severity="changes_grade" if flips else "differs", score=1.0 if flips else 0.5,
        char_start=start, char_end=end, step_index=step_at(steps, start) if start is not None else None,
        evidence=f"the trace concludes {r.conclusion[:80]}, the reported answer is {r.reported[:80]}{verdict}",
        details={"conclusion": r.conclusion[:200], "reported": r.reported[:200], "conclusion_correct": c_ok,
                 "reported_correct": r_ok, "question_type": r.question.kind if r.question else None,
                 "conclusion_source": r.info.source})]


SPEC = DetectorSpec(
    name=NAME, version=VERSION, label="answer mismatch", colour="#12857a", css_class="wb-answer-mismatch",
    description="The trace concludes one answer and the source reports (and grades) another.",
    severities=(
        Severity("changes_grade", "changes the grade", "#d93025",
                 "one of the two answers is right and the other wrong"),
        Severity("differs", "differs", "#f29900", "different answers, same grade (or no ground truth)"),
    ),
    needs=("final_answer", "ground_truth", "metadata", "benchmark", "finish_reason"),
    detect=detect)
