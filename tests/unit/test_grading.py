"""Grading by the benchmark's rules: question kinds, options, multiple choice, numbers, free text.

Cases are written here in the shapes the benchmarks' scorers handle (MMMU, MMMU-Pro, MathVista,
MATH-V, VLMEvalKit); none is copied from a result file."""

from __future__ import annotations

import json

import pytest

from workbench.analysis.grading import (
    FREE,
    MC,
    NUMERIC,
    Question,
    benchmark_rule,
    choose_option,
    grade,
    interpret,
    is_correct,
    mmmu_choice,
    options_from_metadata,
    parse_options,
    question_spec,
    same_answer,
)

MMLU_STYLE = "Which value is the total?\n\nA. $660\nB. $632\nC. 8%\nD. none of these\n"


# ------------------------------------------------------------------ options and question kinds --------

def test_option_lines_in_the_question():
    assert parse_options(MMLU_STYLE) == {"A": "$660", "B": "$632", "C": "8%", "D": "none of these"}
    q = "Pick one.\n(A) red\n(B) green\n(C) blue"
    assert parse_options(q) == {"A": "red", "B": "green", "C": "blue"}


def test_the_last_run_of_option_lines_wins_over_examples():
    q = "Example:\nA. one\nB. two\nAnswer: A\n\nQuestion: which?\nA. cat\nB. dog\nC. cow\n"
    assert parse_options(q) == {"A": "cat", "B": "dog", "C": "cow"}


def test_inline_options_after_a_keyword():
    q = "How many dots are there? Options: A: 3, B: 4, C: 5, D: 6"
    assert parse_options(q) == {"A": "3", "B": "4", "C": "5", "D": "6"}
    assert parse_options("Object A is heavier than object B.") == {}


@pytest.mark.parametrize("meta, expected", [
    ({"A": "cat", "B": "dog", "C": None, "D": float("nan")}, {"A": "cat", "B": "dog"}),           # VLMEvalKit
    ({"index2ans": {"A": "1", "B": "2"}, "all_choices": ["A", "B"]}, {"A": "1", "B": "2"}),       # MMMU
    ({"choices": ["145°", "35°"]}, {"A": "145°", "B": "35°"}),                                   # MathVista
    ({"options": "['x', 'y', 'z']"}, {"A": "x", "B": "y", "C": "z"}),                             # MMMU-Pro
    ({"choices": "None"}, {}),
])
def test_options_from_metadata(meta, expected):
    assert options_from_metadata(meta) == expected


def test_question_kind_follows_the_ground_truth():
    assert question_spec(MMLU_STYLE, "B").kind == MC
    assert question_spec(MMLU_STYLE, "$632").truths == ("B",)          # the truth given as the option's text
    assert question_spec("How far is it?", "12.5").kind == NUMERIC
    assert question_spec("Who painted it?", "Monet").kind == FREE
    assert question_spec("anything", None) is None and question_spec("anything", "  ") is None
    # MMMU writes several accepted answers as a list of strings; a MathVista list answer is one answer
    assert question_spec("Area?", "['24/7', '3.429']").truths == ("24/7", "3.429")
    assert question_spec("Codes?", "[0, 2, 0, 2]").truths == ("[0, 2, 0, 2]",)


def test_declared_question_type_and_precision_from_metadata():
    meta = {"question_type": "free_form", "answer_type": "float", "precision": 2.0, "choices": None}
    q = question_spec("What is x?", "1.25", meta, "MathVista")
    assert (q.kind, q.precision, q.rule) == (NUMERIC, 2, "mathvista")
    assert question_spec("How many?", "3", {"answer_type": "integer"}).precision == 0
    assert question_spec("Metadata as stored (JSON text)", "A", json.dumps({"A": "x", "B": "y"})).options == \
        {"A": "x", "B": "y"}


@pytest.mark.parametrize("question, decimals", [
    ("Round your answer to two decimal places.", 2),
    ("Give the answer to the nearest tenth.", 1),
    ("Hint: answer requiring an integer answer and provide the final value", 0),
    ("What is the length?", None),
])
def test_precision_the_question_asks_for(question, decimals):
    assert question_spec(question, "3.5").precision == decimals


def test_benchmark_rules():
    assert benchmark_rule("MathVista (testmini)") == "mathvista"
    assert benchmark_rule("MMMU (validation)") == "mmmu" and benchmark_rule("MMMU-Pro") == "mmmu"
    assert benchmark_rule("MMStar") == "generic" and benchmark_rule(None) == "generic"


# ------------------------------------------------------------------ multiple choice --------------------

@pytest.mark.parametrize("answer, letter", [
    ("B", "B"), ("(B)", "B"), ("B.", "B"), ("**B**", "B"), ("\\boxed{B}", "B"), ("$\\boxed{\\text{B}}$", "B"),
    ("Answer: B", "B"), ("The answer is (C).", "C"), ("the answer is option C", "C"), ("The correct choice is D", "D"),
    ("(B) $632", "B"), ("B. $632", "B"), ("答案是C", "C"),
    ("660", "A"), ("$660", "A"), ("8%", "C"),                  # the option's value or text, mapped to its letter
    ("none of these", "D"), ("I would go with none of these.", "D"),
    ("So it is clearly B", "B"),                                # one option letter standing alone near the end
    ("A", "A"),
    ("42", None), ("I cannot tell from the image.", None),
])
def test_multiple_choice_forms(answer, letter):
    q = question_spec(MMLU_STYLE, "B")
    assert choose_option(answer, q) == letter


def test_lower_case_letters_as_math_v_writes_them():
    q = Question(MC, ("C",), {"A": "1", "B": "2", "C": "3"})
    assert interpret("c", q) == "C" and is_correct(interpret("(c)", q), q)


def test_two_option_texts_the_last_stated_wins():
    q = Question(MC, ("B",), {"A": "the red car", "B": "the blue car"})
    assert choose_option("Not the red car but the blue car.", q) == "B"


def test_mathvista_maps_any_other_answer_to_the_most_similar_choice():
    q = question_spec("Which angle?", "145°", {"question_type": "multi_choice", "choices": ["145°", "35°", "90°"]},
                      "MathVista")
    assert q.truths == ("A",)
    assert interpret("145", q) == "A" and interpret("about 35 degrees", q) == "B"


def test_mmmu_reads_a_whole_response_that_states_no_answer():
    q = Question(MC, ("C",), {"A": "apple", "B": "pear", "C": "plum"}, rule="mmmu")
    assert mmmu_choice("It could be (A) at first, but (C) fits the picture better.", q) == "C"
    assert mmmu_choice("The fruit in the picture is a plum with a dark skin.", q) == "C"
    assert mmmu_choice("No idea.", q) is None


# ------------------------------------------------------------------ numbers ----------------------------

@pytest.mark.parametrize("answer, truth, expected", [
    ("12", "12", True), ("12.0", "12", True), ("12.3", "12", False), ("13", "12", False),
    ("0.9633", "0.963", True),       # equal at 2 decimals (MMMU, MATH-V)
    ("24.3", "24.32", False), ("1249.25", "1249", False), ("12.966 g", "12.97", True),
    ("$1,000", "1000", True), ("1,000 dollars", "1000", True), ("12 cm", "12", True), ("5 m/s^2", "5", True),
    ("12%", "0.12", True), ("12%", "12", True), ("20 %", "0.2", True),
    ("\\frac{1}{2}", "0.5", True), ("-\\dfrac{3}{4}", "-0.75", True), ("1/3", "0.33", True), ("2/3", "0.5", False),
    ("0.00124", "0.00123", True), ("0.0013", "0.00123", False),    # small values: within 1%
    ("x = 7", "7", True), ("The total is 13 dollars.", "13", True),
    ("3 and 6", "3", False), ("no number", "3", False),
])
def test_numbers(answer, truth, expected):
    assert grade(answer, truth, question="How much?") is expected


def test_precision_asked_by_the_question_is_used():
    q = "Give the value to one decimal place."
    assert grade("1.24", "1.2", question=q) is True
    assert grade("1.26", "1.2", question=q) is False
    assert grade("3.0", "3", metadata={"answer_type": "integer"}) is True     # MathVista's integer answers
    assert grade("3.4", "3", metadata={"answer_type": "integer"}) is True


# ------------------------------------------------------------------ free text --------------------------

@pytest.mark.parametrize("answer, truth, expected", [
    ("Paris", "paris", True), ("The Eiffel Tower", "eiffel tower", True), ("MgS", "['$MgS$', 'MgS']", True),
    ("It is located in Paris, France.", "Paris", True),        # the truth as whole words in a short answer
    ("Parisian", "Paris", False), ("London", "Paris", False), ("yes", "Yes", True), ("no", "Yes", False),
])
def test_free_text(answer, truth, expected):
    assert grade(answer, truth, question="Where?") is expected


def test_no_answer_is_wrong_and_no_truth_is_ungraded():
    q = question_spec(MMLU_STYLE, "B")
    assert is_correct(None, q) is False
    assert grade("B", None) is None


def test_same_answer():
    q = question_spec("How much?", "0.5")
    assert same_answer("0.5", "\\frac{1}{2}", q) and not same_answer("0.5", "0.6", q)
    assert not same_answer("A", "B", question_spec(MMLU_STYLE, "B"))
    assert same_answer("The Tower", "tower", None)
