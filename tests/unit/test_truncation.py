"""Truncation means "ran out": finish_reason, runaway loops, traces that stop mid-thought; never a short answer.

Traces are written here in the shapes QVQ and other models produce; none is copied from a result file."""

from __future__ import annotations

import pytest

from workbench.analysis.answers import extract_answer, read_answers, trace_stats
from workbench.analysis.truncation import LONG_UNCONCLUDED, ends_clean, left_open, tail_loop, truncation

REASONING = ("Let me look at the figure carefully. The triangle has legs of 6 and 8, so I can use the "
             "Pythagorean theorem to find the hypotenuse and then compare it with each option.\n\n") * 12
FINISHED = REASONING + "So the hypotenuse is 10, which is option B.\n\n**Final Answer**\n\n\\[ \\boxed{B} \\]"


def cut(text: str) -> str | None:
    return read_answers(text).truncation


@pytest.mark.parametrize("text", ["B", "(C)", "A.", "Yes", "12 cm", "The answer is D", "Answer: B",
                                  "F. Sweet corn: $7.90; plain corn: $5.50;", "The image shows two dogs on a beach",
                                  "Okay, based on the pattern:\n\nD"])
def test_short_complete_answers_are_never_truncated(text):
    assert cut(text) is None
    assert not trace_stats(text, (), ground_truth="B").truncated


def test_a_short_text_that_stops_on_a_function_word_is_cut():
    assert cut("Let me think about the problem and compute the") == "cut"


def test_finish_reason_decides_when_known():
    assert truncation("B", conclusion_end=None, finish_reason="length") == "length"
    assert truncation(REASONING + "and then the valu", conclusion_end=None, finish_reason="eos") is None


def test_a_finished_trace_is_complete():
    assert cut(FINISHED) is None
    assert cut(REASONING + "Therefore, the answer is C.") is None
    assert cut(REASONING + "Putting it together:\n\nH") is None        # a last line that is only the answer


@pytest.mark.parametrize("ending", [
    "Total cash inflow for month 3: $18,000 + $45,000 + $36,000 = $1",
    "For point C the interior angle is ∠C = (28",
    "Then the moment of inertia is \\( I = \\frac{b h^3}{12} = \\frac{0.2 \\times",
    "Sum: -0.00157 + 0.00495 - 0.",
    "Option A is 4.80 N/m\n\nOption B is 5.80 N/m\n\nOption C is",
])
def test_traces_that_stop_mid_thought_are_cut_and_get_no_fragment(ending):
    text = REASONING + ending
    r = read_answers(text, ground_truth="B", question="Which?\nA. 1\nB. 2\nC. 3\n")
    assert r.truncation == "cut"
    assert r.info.answer is None and r.conclusion is None


def test_a_statement_running_into_the_cut_is_a_fragment():
    text = REASONING + "So the answer would be \\( x = \\frac{3}{"
    assert extract_answer(text).source != "answer_is"
    r = read_answers(text, ground_truth="0.75")
    assert r.truncation == "cut" and r.conclusion is None


def test_a_long_reasoning_trace_that_never_names_an_answer_ran_out():
    text = ("Consider the forces on the beam and the moments about the left support. " * 140)[:LONG_UNCONCLUDED + 100]
    assert cut(text.rstrip() + ".") == "cut"


def test_hanging_reasoning_at_the_end_is_cut():
    assert cut(REASONING * 2 + "Wait, no.") == "cut"


@pytest.mark.parametrize("tail, period", [
    ("Maybe I need to check the units again. " * 12, 39),
    ("= 1 / (j × 0.00377) " * 10, 20),
    ("} " * 40, 2),
])
def test_a_loop_running_into_the_end_is_truncated(tail, period):
    text = REASONING + tail[:-3]          # the last copy is cut anywhere
    found = tail_loop(text)
    assert found is not None and found[0] == period
    assert cut(text) == "loop"
    assert cut(text + "\n\n**Final Answer**\n\n\\[ \\boxed{B} \\]") is None     # escaped the loop and concluded


def test_a_long_multi_paragraph_loop_is_found():
    block = ("Alternatively, perhaps the fencing covers three sides of the yard and the fourth is the house. "
             "Then the area is x times y with 2x + y fixed.\n\nBut the options include other values.\n\n")
    text = REASONING + block * 5 + block[:70]
    assert tail_loop(text)[0] == len(block)


def test_enumerations_are_not_loops():
    text = REASONING + "".join(f"Step {i}: add {i} to the total, giving {i * (i + 1) // 2}.\n" for i in range(1, 40))
    assert tail_loop(text) is None


def test_ends_clean_and_left_open():
    assert ends_clean("So the answer is B.") and ends_clean("\\[ \\boxed{B} \\]") and ends_clean("**H.**")
    assert not ends_clean("the total is = ") and not ends_clean("and then the")
    assert left_open("(28") and left_open("\\( x = 5") and left_open("the value of")
    assert not left_open("$660") and not left_open("A. Yes.**")
