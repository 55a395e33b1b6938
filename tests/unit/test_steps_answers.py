"""Step segmentation (exact offsets, roles) and answer extraction / grading."""

from __future__ import annotations

import pytest

from workbench.analysis.answers import extract_answer, grade, trace_stats
from workbench.analysis.steps import MAX_STEP_CHARS, segment

TRACE = ("Let me look at the image. The figure shows a right triangle.\n\n"
         "The legs are 6 and 8, so the hypotenuse is 10.\n\n\n"
         "Wait, let me double-check: 36 + 64 = 100. Yes.\n\n"
         "Alternatively, I could use the 3-4-5 triple scaled by 2.\n\n"
         "So the answer is B.\n\n**Final Answer**\n\n\\[ \\boxed{B} \\]\n")


def test_steps_have_exact_offsets_and_roles():
    steps = segment(TRACE)
    texts = [TRACE[s.char_start:s.char_end] for s in steps]
    assert texts[0] == "Let me look at the image. The figure shows a right triangle."
    assert [s.role for s in steps] == ["perception", "computation", "reflection", "switch", "conclusion",
                                       "conclusion", "conclusion"]
    assert steps[0].image_ref_count == 2 and steps[1].image_ref_count == 0
    assert [s.index for s in steps] == list(range(len(steps)))
    # steps are ordered, disjoint, and cover every non-space character
    covered = set()
    for s in steps:
        covered.update(range(s.char_start, s.char_end))
    assert all(i in covered for i, c in enumerate(TRACE) if not c.isspace())


def test_no_image_means_no_references_and_no_perception_roles():
    steps = segment(TRACE, has_image=False)
    assert [s.role for s in steps][:2] == ["computation", "computation"]
    assert all(s.image_ref_count == 0 for s in steps)
    assert [(s.char_start, s.char_end) for s in steps] == [(s.char_start, s.char_end) for s in segment(TRACE)]


def test_image_references_count_whole_words_only():
    text = "Imagine the photosynthesis paragraph.\n\nLooking at the image, the graphs show photons."
    steps = segment(text)
    assert [s.image_ref_count for s in steps] == [0, 2]
    assert [s.role for s in steps] == ["computation", "perception"]


def test_long_paragraph_is_split_at_discourse_markers():
    para = " ".join(["We compute the next value carefully and write it down."] * 20 + ["Wait, that is wrong."] +
                    ["We compute the other value and keep going with it."] * 20)
    steps = segment(para)
    assert len(steps) >= 2 and all(s.char_end - s.char_start <= 4000 for s in steps)
    assert any(para[s.char_start:].startswith("Wait") for s in steps)
    assert len(para) > MAX_STEP_CHARS


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n", "x" * 200_000, "😀 " * 10_000])
def test_segment_edge_cases(text):
    steps = segment(text)
    assert all(0 <= s.char_start < s.char_end <= len(text) for s in steps)
    assert (not text.strip()) == (steps == [])


@pytest.mark.parametrize("text, answer, source", [
    (TRACE, "B", "final_answer_block"),
    ("blah \\boxed{\\frac{1}{2}} more", "\\frac{1}{2}", "boxed"),
    ("Thinking.\n\nSo the answer is 42.\n", "42", "answer_is"),
    ("I pick option (C) here", "I pick option (C) here", "short"),   # a short response is its own answer
    ("Thinking it over at length. " * 20 + "\n\nI pick option (C) here.", "C", "option_letter"),
    ("", None, None),
])
def test_extract_answer(text, answer, source):
    info = extract_answer(text)
    assert (info.answer, info.source) == (answer, source)


@pytest.mark.parametrize("answer, truth, expected", [
    ("B", "B", True), ("(B) 42", "B", True), ("C", "B", False), ("3.1416", "3.14", True), ("1,000", "1000", True),
    ("12 cm", "12", True), ("13", "12", False), ("Paris", "paris", True), ("x", None, None),
])
def test_grade(answer, truth, expected):
    assert grade(answer, truth) is expected


def test_trace_stats_truncation_and_counts():
    steps = segment(TRACE)
    st = trace_stats(TRACE, steps, ground_truth="B")
    assert (st.n_steps, st.n_switches, st.n_reflections, st.extracted_correct, st.truncated) == (7, 1, 1, True, False)
    cut = "Let me think about the problem and compute the"
    assert trace_stats(cut, segment(cut)).truncated
    assert trace_stats(TRACE, steps, finish_reason="length").truncated
    many = "The answer is A. Hmm, the answer is B. Actually the answer is C.\n\n**Final Answer** C"
    assert trace_stats(many, segment(many)).n_candidates == 3
