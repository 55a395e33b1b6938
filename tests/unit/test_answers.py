"""Answer extraction and grading: plain "Final Answer:" lines, fractions and percentages."""

from __future__ import annotations

import pytest

from workbench.analysis.answers import extract_answer, grade, trace_stats
from workbench.analysis.steps import segment


@pytest.mark.parametrize("text, answer", [
    ("Adding the two sides gives 7.\n\nFinal Answer: C.", "C"),
    ("Work...\n\n## Final Answer: 42", "42"),
])
def test_plain_final_answer_line(text, answer):
    info = extract_answer(text)
    assert info.answer == answer
    assert info.source == "final_answer_block" and len(info.candidates) == 1


def test_final_answer_in_prose_is_not_a_block():
    text = "So I need the final answer: let me keep going and check the sum. " * 8
    assert extract_answer(text).source != "final_answer_block"


@pytest.mark.parametrize("answer, truth, expected", [
    ("0.5", "1/2", True),
    ("\\frac{1}{2}", "0.5", True),
    ("-\\dfrac{3}{4}", "-0.75", True),
    ("12%", "0.12", True),
    ("12%", "12", True),
    ("2/3", "0.5", False),
    ("\\frac{1}{3}", "0.333", True),     # within the 1% relative tolerance
    ("\\frac{1}{3}", "0.34", False),
])
def test_numeric_forms_are_compared_by_value(answer, truth, expected):
    assert grade(answer, truth) is expected


def test_trace_stats_counts_the_final_line_as_a_candidate():
    text = "The area is half of 6.\n\nFinal Answer: 3"
    stats = trace_stats(text, segment(text), ground_truth="3.0")
    assert stats.extracted_answer == "3" and stats.extracted_correct is True
    assert stats.n_candidates == 1 and not stats.truncated
