"""The trace's conclusion and the source's reported answer, graded apart; the answer-mismatch detector.

Traces are written here; the dev-set check reads ../shared (skipped when absent) and commits nothing."""

from __future__ import annotations

import json

from workbench.analysis import answer_mismatch, registry
from workbench.analysis.answers import trace_stats
from workbench.analysis.steps import segment

QUESTION = "What did the order cost?\n\nA. $660\nB. $632\nC. $288\nD. $424\n"
REASONING = "The order has three items priced $250, $300 and $110, so I add them up.\n\n" * 6


def stats(response: str, **kw):
    return trace_stats(response, segment(response), question=QUESTION, **kw)


def test_the_option_text_stated_by_the_trace_is_graded_by_its_letter():
    text = REASONING + "So the total is $660.\n\n**Final Answer**\n\n\\[ \\boxed{660} \\]"
    st = stats(text, ground_truth="A")
    assert (st.question_type, st.conclusion, st.conclusion_correct) == ("multiple_choice", "A", True)
    assert (st.grade_basis, st.answer_source, st.extracted_correct) == ("conclusion", "final_answer_block", True)


def test_the_reported_answer_is_graded_when_the_source_gives_one():
    text = REASONING + "So the total is $660.\n\n**Final Answer**\n\n\\[ \\boxed{A} \\]"
    st = stats(text, ground_truth="A", final_answer="B")
    assert (st.reported_answer, st.reported_correct, st.conclusion, st.conclusion_correct) == ("B", False, "A", True)
    assert (st.grade_basis, st.answer_source, st.extracted_answer, st.extracted_correct) == \
        ("reported", "reported", "B", False)


def test_a_long_reported_answer_is_read_by_its_own_conclusion():
    second_turn = REASONING + "Therefore the answer is C.\n\n**Final Answer**\n\n\\[ \\boxed{C} \\]"
    st = stats(REASONING + "So the answer is C.", ground_truth="C", final_answer=second_turn)
    assert (st.reported_answer, st.reported_correct) == ("C", True)


def test_bare_letters_are_graded_and_complete():
    st = trace_stats("B", (), ground_truth="B", question="Which?\nA. x\nB. y\nC. z")
    assert (st.extracted_correct, st.truncated, st.answer_source) == (True, False, "short")


def test_an_empty_response_with_a_ground_truth_is_wrong_and_without_one_ungraded():
    assert trace_stats("", (), ground_truth="B").extracted_correct is False
    st = trace_stats("", (), ground_truth=None)
    assert st.extracted_correct is None and st.grade_basis is None and st.question_type is None


def test_a_truncated_trace_concludes_nothing_but_keeps_the_reported_grade():
    text = REASONING + "Now the tax part: 8% of $632 = (0.08 × "
    st = stats(text, ground_truth="B", final_answer="B")
    assert st.truncated and st.truncation == "cut"
    assert st.conclusion is None and st.conclusion_correct is False
    assert st.extracted_correct is True                   # the source's reported answer is what it graded


def test_metadata_options_as_stored_json_text():
    meta = json.dumps({"question_type": "multi_choice", "choices": ["145°", "35°"]})
    st = trace_stats("The angle is 145 degrees.\n\nThe answer is 145°.", (), ground_truth="145°", metadata=meta,
                     question="Find the angle.", benchmark="MathVista")
    assert (st.conclusion, st.extracted_correct) == ("A", True)


# ------------------------------------------------------------------ answer-mismatch detector -----------

def test_mismatch_detector_is_registered_with_its_needs():
    spec = registry.get("answer_mismatch")
    assert spec.detect is answer_mismatch.detect and "final_answer" in spec.needs and spec.default
    assert set(spec.severity_names) == {"changes_grade", "differs"}


def test_mismatch_that_changes_the_grade():
    text = REASONING + "So the total is $660.\n\n**Final Answer**\n\n\\[ \\boxed{A} \\]"
    steps = segment(text)
    [f] = answer_mismatch.detect(text, question=QUESTION, steps=steps, final_answer="B", ground_truth="A")
    assert f.severity == "changes_grade" and f.score == 1.0
    assert text[f.char_start:f.char_end] == "A" and f.step_index == steps[-1].index
    assert "concludes A" in f.evidence and "reported answer is B" in f.evidence
    assert f.details["conclusion_correct"] is True and f.details["reported_correct"] is False


def test_mismatch_without_ground_truth_differs():
    text = REASONING + "Therefore, the answer is C."
    [f] = answer_mismatch.detect(text, question=QUESTION, final_answer="(D) $424")
    assert f.severity == "differs" and f.details["conclusion"] == "C" and f.details["reported"] == "D"


def test_no_mismatch_when_they_agree_or_one_is_missing():
    text = REASONING + "So the total is $660, option A.\n\n**Final Answer**\n\n\\[ \\boxed{660} \\]"
    assert answer_mismatch.detect(text, question=QUESTION, final_answer="A", ground_truth="A") == []
    assert answer_mismatch.detect(text, question=QUESTION, final_answer=None, ground_truth="A") == []
    assert answer_mismatch.detect(REASONING + "So the sum is = (", question=QUESTION, final_answer="A",
                                  ground_truth="A") == []          # ran out: concluded nothing
    assert answer_mismatch.detect("0.5", final_answer="\\frac{1}{2}", ground_truth="0.5") == []


def test_dev_set_agreement_with_its_own_grades(dev_jsonl):
    """The workbench's grade (the reported answer, graded) agrees with the dev set's `correct` on >= 98%."""
    agree = n = 0
    for line in dev_jsonl.open(encoding="utf-8"):
        r = json.loads(line)
        if r["correct"] is None:
            continue
        st = trace_stats(r["response"], (), ground_truth=r["ground_truth"], final_answer=r["final_answer_turn"],
                         question=r["question"], benchmark=r["benchmark"])
        agree += st.extracted_correct == r["correct"]
        n += 1
    assert n > 11_000 and agree / n >= 0.98
