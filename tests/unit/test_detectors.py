"""Detectors pinned on small hand-written cases: positives, hard negatives, adversarial input."""

from __future__ import annotations

import pytest

from workbench.analysis import grounding, language, repetition
from workbench.analysis.steps import segment

LOOP_UNIT = "So the hypotenuse is the square root of 6 squared plus 8 squared, which is 10. "


def run(module, text, **kw):
    return module.detect(text, steps=segment(text), **kw)


# ---------------------------------------------------------------- language_mixing
def test_chinese_word_inside_english_sentence():
    text = "The osteoclasts would反而 resorb more bone. That is the key."
    [f] = run(language, text)
    assert text[f.char_start:f.char_end] == "反而"
    assert f.severity == "word" and f.details["language"] == "zh" and 0 < f.score <= 1


def test_chinese_drift_is_one_drift_finding():
    text = ("Let me read the plot.\n\n接下来我们看下午的数据。在十五点的时候，温度达到了最高点，大约二十二度。\n\n"
            "之后温度开始下降，所以最高温度出现在十五点左右，答案是C。\n\n**Final Answer**\n\n\\[ \\boxed{C} \\]")
    findings = run(language, text)
    assert [f.severity for f in findings] == ["drift"]
    assert text[findings[0].char_start:].startswith("接下来")


def test_other_scripts_and_latin_language():
    assert run(language, "The answer in Russian would be правильный ответ here.")[0].details["language"] == "ru"
    french = ("Then I continue.\n\nPour résoudre ce problème, nous devons d'abord calculer la somme des valeurs et "
              "ensuite diviser par le nombre total des éléments dans la liste.\n\nSo B.")
    [f] = run(language, french)
    assert f.details["language"] == "fr"


@pytest.mark.parametrize("text", [
    "By Schrödinger's equation and Erdős's bound, α + β = γ and Δx ≥ λ/2; a priori, et al. agree.",
    "The vis-à-vis comparison is laissez-faire, déjà vu, naïve café résumé.",
    "Σ_{i=1}^{n} i² = n(n+1)(2n+1)/6 and ∫ e^x dx = e^x + C, with µ = 3 and Ω = 4.",
    "The Arabic word قَرَأَ (qara'a) means 'to read', and 'كتاب' (kitāb) means book.",
    "",
    "   \n\n  ",
])
def test_language_negatives(text):
    assert run(language, text) == []


@pytest.mark.parametrize("sentence,lang", [
    ("Donc la réponse est B, car les deux valeurs sont égales.", "fr"),
    ("Entonces la respuesta correcta es la opción C.", "es"),
    ("Also ist die Antwort B, weil beide Werte gleich sind.", "de"),
    ("Portanto, a resposta correta é a opção B.", "pt"),
    ("Quindi la risposta giusta è la terza opzione.", "it"),
])
def test_foreign_latin_sentence_inside_an_english_paragraph(sentence, lang):
    text = f"The two forces act on the block. {sentence} Then we check the sign of the torque."
    [f] = run(language, text, question="Which option is correct? A. 1 B. 2")
    assert f.severity == "sentence" and f.details["language"] == lang and f.details["script"] == "latin"
    assert text[f.char_start:f.char_end] == sentence


@pytest.mark.parametrize("text", [
    "I believe Tönnies contrasted Gemeinschaft with Gesellschaft in his work.",
    "So, does opéra comique have da capo arias? I think it does.",
    "The painting Las Meninas by Velázquez hangs in the Prado; see Smith et al. for the history.",
    "Per se, the contract is valid; de facto it is ignored, and res ipsa loquitur applies.",
    "Compute e = d + c, then v = d x + e y + f for the plane.",
])
def test_english_with_names_loanwords_and_formulas_is_not_mixing(text):
    assert run(language, text, question="Which option is correct? A. 1 B. 2") == []


def test_labelled_latin_sentences_in_an_english_paragraph():
    """bench/labels/latin_sentences.jsonl (our own sentences): >= 95% of the foreign ones found with the
    right language, none of the English ones (names, loanwords, Latin phrases, formulas) flagged."""
    import json
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / "bench" / "labels" / "latin_sentences.jsonl"
    found = fp = n_foreign = 0
    for case in (json.loads(line) for line in path.open(encoding="utf-8")):
        text = f"We compute the total of the two values first. {case['text']} Then we check the answer."
        out = run(language, text, question="What is the total? A. 1 B. 2")
        if case["lang"] == "en":
            fp += bool(out)
        else:
            n_foreign += 1
            found += bool(out) and out[0].details["language"] == case["lang"]
    assert fp == 0 and found >= 0.95 * n_foreign, (found, n_foreign, fp)


def test_answer_in_the_questions_own_language_is_not_mixing():
    q = "Welchen Wert hat x, wenn 2x + 3 = 11 ist? A. 2 B. 4 C. 6 D. 8"
    answer = ("Zuerst ziehen wir drei von beiden Seiten ab. Dann bleibt 2x = 8 übrig.\n\n"
              "Also ist x gleich vier, und die Antwort ist B.\n\n**Antwort**: B")
    assert language.main_language(q, answer) == "de"
    assert run(language, answer, question=q) == []
    mixed = answer.replace("Dann bleibt", "所以 Dann bleibt")
    [f] = run(language, mixed, question=q)
    assert f.details["language"] == "zh" and f.details["main_language"] == "de"


def test_a_continuous_foreign_tail_is_one_drift_finding():
    text = ("Let me compute the area first.\n\n接下来我们计算三角形的面积。底是六，高是八。\n\n"
            "\\[ A = \\frac{1}{2} \\times 6 \\times 8 = 24 \\]\n\n所以面积是二十四，答案是B。也就是说选项B是正确的。"
            "\n\n**Final Answer**\n\n\\[ \\boxed{B} \\]")
    findings = run(language, text)
    assert [f.severity for f in findings] == ["drift"]
    assert text[findings[0].char_start:].startswith("接下来") and "答案是B" in text[findings[0].char_start:
                                                                                        findings[0].char_end]


def test_chinese_quoted_from_the_question_is_not_mixing():
    q = "The figure illustrates 勾股定理. What is x?"
    assert run(language, "The question mentions 勾股定理, the Pythagorean theorem.", question=q) == []


# ---------------------------------------------------------------- repetition_loop
def test_runaway_sentence_loop():
    text = "Let me compute. " + LOOP_UNIT * 30 + "So the hypotenuse is the squ"
    [f] = run(repetition, text)
    assert f.severity == "runaway" and f.details["ran_to_end"] and f.details["copies"] >= 29
    assert abs(f.char_start - len("Let me compute. ")) <= 200
    assert f.details["chars_wasted"] >= 28 * len(LOOP_UNIT.strip())


def test_loop_that_escapes_and_three_copies():
    text = "Start here. " + LOOP_UNIT * 3 + "\n\nThen I realise the answer is 10, so B."
    [f] = run(repetition, text)
    assert f.severity == "loop" and f.details["copies"] == 3 and not f.details["ran_to_end"]


def test_inline_expression_and_line_pair_loops():
    inline = "X_C " + "= 1 / (j × 0.00377) " * 25 + "= 1 / (j × 0.003"
    assert run(repetition, inline)[0].severity == "runaway"
    block = "Is 17 prime? Yes.\nIs 19 prime? Yes.\n"
    pair = "Check:\n" + block * 6 + "Done, both are prime numbers."
    [f] = run(repetition, pair)
    assert f.details["period_chars"] == len(block) and f.details["copies"] == 6


def test_character_loop_without_spaces():
    [f] = run(repetition, "答案是" + "射精液" * 100)
    assert f.details["period_chars"] == 3 and f.severity == "runaway"


@pytest.mark.parametrize("text", [
    "Let me add.\n\n" + "".join(f"- For n = {n}: 2 × {n} = {2 * n}\n" for n in range(1, 30)),
    "| a | b |\n|---|---|\n" + "".join(f"| {i} | {i * i} |\n" for i in range(30)),
    "Wait, check: 2 + 2 = 4. Something else entirely. Wait, check: 2 + 2 = 4. Done now.",
    "So x = 3. So x = 3. And then we move on to a completely different topic entirely.",
    "..........\n----------\n==========\n" * 10 + "End of the table.",
    "A. cat\nB. dog\nC. bird\nD. fish\n",
    "",
])
def test_repetition_negatives(text):
    assert run(repetition, text) == []


def test_degenerate_character_run_is_a_runaway_loop():
    [f] = run(repetition, "x" * 200_000)
    assert f.severity == "runaway" and f.char_start == 0


def test_near_verbatim_cycle_across_steps():
    steps = [f"Alternatively, perhaps the company is arguing that the claim is barred by estoppel number {i % 2}."
             for i in range(5)]
    text = "\n\nOther reasoning in between here.\n\n".join(steps)
    findings = run(repetition, text)
    assert findings and findings[0].severity == "cycle" and findings[0].details["copies"] >= 4


def test_long_block_of_thirteen_sentences_repeated_four_times():
    block = " ".join(f"Step {i} of the argument says the force on link {i} balances the moment about pin {i}."
                     for i in range(13)) + "\n\n"
    text = "Let me set up the statics. " + block * 4 + "So the answer is B."
    [f] = run(repetition, text)
    assert f.severity == "loop" and f.details["copies"] == 4 and f.details["period_units"] == 13
    assert f.char_start == len("Let me set up the statics. ")


def test_loop_rotating_one_word_per_copy_is_one_loop():
    words = ["maybe", "perhaps", "possibly"]
    copies = [f"So {words[i % 3]} the tension in the rope equals the weight of the hanging block." for i in range(9)]
    text = "Consider the pulley. " + " ".join(copies) + " So maybe the tension in the"
    [f] = run(repetition, text)
    assert f.severity == "runaway" and f.details["near_verbatim"] and f.details["copies"] >= 3
    assert f.char_start == len("Consider the pulley. ")


@pytest.mark.parametrize("text", [
    " ".join(f"Option {c} does not satisfy the second condition of the problem." for c in "ABCD"),
    " ".join(f"The {w} term of the expansion is positive for every admissible x." for w in
             ("first", "second", "third", "fourth", "fifth")),
    "\n".join(f"- In {m}, the monthly total stays below the budget line." for m in ("January", "February", "March",
                                                                                   "April", "May")),
    " ".join(f"For n = {n}, the sum of the first n odd numbers is {n * n}." for n in range(1, 9)),
])
def test_enumerations_that_change_one_word_are_not_loops(text):
    assert run(repetition, "Let me check each case.\n\n" + text + "\n\nDone.") == []


def test_an_earlier_step_with_the_same_opening_does_not_hide_a_cycle():
    decoy = "Alternatively, perhaps the company is liable under a completely unrelated theory of agency law."
    member = "Alternatively, perhaps the company is arguing that the claim is barred by estoppel in this case."
    filler = [f"Unrelated computation number {i} gives {i * 7} for the running total." for i in range(6)]
    text = "\n\n".join([decoy] + [x for pair in zip([member] * 5, filler) for x in pair])
    cycles = [f for f in run(repetition, text) if f.severity == "cycle"]
    assert len(cycles) == 1 and cycles[0].details["copies"] == 5


def test_formulas_restated_per_case_are_not_cycles():
    formula = "\\[ \\text{metal} + 2\\text{HCl} \\rightarrow \\text{metal chloride} + \\text{H}_2 \\]"
    text = "\n\n".join(x for i in range(6) for x in (formula, f"Case {i}: try metal number {i} with mass {i * 3} g."))
    assert [f for f in run(repetition, text) if f.severity == "cycle"] == []


# ---------------------------------------------------------------- grounding_loss
@pytest.mark.parametrize("text", [
    "I'm sorry, but I can't see the image you've provided.",
    "There's a plot of the data, but since I can't see it, I'll assume a typical shape.",
    "Without the figure, it's hard to know which points are meant.",
    "Since I don't have the actual diagram, I'll guess.",
    "Since the image isn't provided, I'll focus on the options.",
])
def test_cannot_see_positives(text):
    [f] = run(grounding, text, has_image=True)
    assert f.severity == "cannot_see" and f.tier == "text"


@pytest.mark.parametrize("text", [
    "I can't see why that would work.",
    "I don't see any trees in this image; it is open land.",
    "I don't have the beginning retained earnings.",
    "But I don't have the tables right now, so I'll estimate.",
    "The cost is not shown in the table of values.",
])
def test_cannot_see_negatives(text):
    assert run(grounding, text, has_image=True) == []


def test_grounding_needs_an_image():
    assert run(grounding, "I can't see the image.", has_image=False) == []


def test_decline_of_image_references():
    early = "Looking at the image, the figure shows five circles. The image is clear."
    later = [f"Case {i}: the count of arrangements is C({i + 2}, {i}) and the total grows accordingly." * 4
             for i in range(12)]
    text = "\n\n".join([early, *later])
    assert run(grounding, text, has_image=True) == []          # opt-in (measured precision < 0.8)
    findings = run(grounding, text, has_image=True, decline=True)
    assert [f.severity for f in findings] == ["decline"]
    assert findings[0].step_index == 1


# ---------------------------------------------------------------- adversarial
@pytest.mark.parametrize("text", [
    "", " ", "\n\n\n", "😀" * 5000, "שלום עולם " * 100, "مرحبا " * 50, "a\ud800b lone surrogate",
    "word " * 40_000, ("Let me think. " * 3 + "\n\n") * 2000,
])
def test_adversarial_input_never_crashes(text):
    for module in (language, repetition, grounding):
        findings = run(module, text, has_image=True)
        for f in findings:
            assert 0 <= f.char_start <= f.char_end <= len(text)
            assert 0.0 <= f.score <= 1.0
