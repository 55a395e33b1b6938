"""grounding_loss text tier: hand-written cannot-see statements and the near misses it must ignore.

Sentences are our own paraphrases of how QVQ phrases a missing image (no real trace text); the
paraphrase set bench/labels/cannot_see.jsonl was written before the structural rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.analysis import grounding, imagerefs
from workbench.analysis.steps import segment

PARAPHRASES = [json.loads(line) for line in
               (Path(__file__).resolve().parents[2] / "bench" / "labels" / "cannot_see.jsonl").open(encoding="utf-8")]


def detect(text: str, has_image: bool = True, **kw):
    return grounding.detect(text, steps=segment(text, has_image=has_image), has_image=has_image, **kw)


@pytest.mark.parametrize("text", [
    "Since I can't see the diagram, I'll assume the triangle is isosceles.",
    "Unfortunately, the image isn't provided, so I have to reason from the text.",
    "I don't have access to the figure, but such circuits usually have two resistors.",
    "Without seeing the graph, it is hard to say which curve is steeper.",
    "I'm unable to view the attached image directly.",
    "The chart was not included in the question.",
    "No image was provided with this problem.",
    "I do not have the actual picture, so let me think about common setups.",
])
def test_cannot_see_statements_are_flagged_with_exact_span(text):
    [f] = detect(text)
    assert f.severity == "cannot_see" and 0.0 <= f.score <= 1.0
    assert f.score == round((len(text.rstrip()) - f.char_end) / len(text), 4)  # share written after it
    assert 0 <= f.char_start < f.char_end <= len(text)
    assert text[f.char_start:f.char_end] in text and f.evidence  # evidence is the sentence around it


@pytest.mark.parametrize("text", [
    "I can't see why the angle would be 40 degrees.",               # "see" = understand
    "The image doesn't show any labels on the axes.",                # grounded statement about the image
    "I don't see any trees in the picture.",                         # grounded
    "If you can't see the image clearly, zoom in.",                  # about the reader
    "The reader cannot see the hidden face of the cube in the drawing.",
    "The figure is not drawn to scale.",
    "The figure is not shown to scale, so measure nothing.",
    "Without the constraint, it would be unbounded.",
    "I can't see a reason to doubt the figure.",
    "The graph is not provided in units of meters but in feet.",
    "I don't have enough information from the figure to decide between B and C.",
    "Looking at the image, I can't see a fourth vertex.",
    "Hmm, I cannot see the image being anything other than a parabola.",
])
def test_hard_negatives_are_not_flagged(text):
    assert detect(text) == []


@pytest.mark.parametrize("case", PARAPHRASES,
                         ids=[f"{c['label']}-{c['family']}-{i}" for i, c in enumerate(PARAPHRASES)])
def test_paraphrase_set(case):
    found = [f for f in detect(case["text"]) if f.severity == "cannot_see"]
    assert bool(found) == bool(case["label"]), case["text"]


def test_curly_apostrophes_and_pronoun_after_an_image_noun():
    assert detect("I’m unable to see the picture, so I’ll guess.")
    assert detect('The question refers to a figure called "image 1," but since I can’t see that, I guess.')
    assert detect("The answer is B, but since I can't see that, fine.") == []   # no image noun before "that"
    assert detect("But since I don't have a map, I'll compute the coordinates.") == []   # a tool, not the image
    assert detect("Without the exact figures, it's hard to choose.") == []               # numbers


def test_score_grades_how_much_reasoning_went_on_without_the_image():
    body = "\n\n".join(f"Step {i}: the load on member {i} is {i * 10} N by the method of joints." for i in range(30))
    early = detect("I can't see the diagram, so I'll assume a truss.\n\n" + body)[0].score
    late = detect(body + "\n\nI can't see the diagram, so this is a guess.")[0].score
    assert early > 0.9 and late < 0.05


def test_text_only_samples_are_never_flagged():
    assert detect("I can't see the image, and no figure was provided.", has_image=False) == []


def _trace(early: str, n_late: int, late_len: int = 300) -> str:
    late = [(f"Step {i}: the sum of the first {i} terms is computed term by term and checked again. "
             * 10)[:late_len] for i in range(n_late)]
    return "\n\n".join([early, *late])


def test_decline_needs_early_references_and_a_long_silent_remainder():
    early = "Looking at the image, the diagram shows a ladder against a wall. The figure marks the angle."
    assert detect(_trace(early, 12)) == []                             # decline is opt-in
    assert grounding.DECLINE_DEFAULT is False and "decline" in grounding.OPT_IN_SEVERITIES
    [f] = detect(_trace(early, 12), decline=True)
    assert f.severity == "decline" and f.step_index == 1
    assert 0.8 < f.score < 1.0                                          # most of the trace is silent
    assert f.details["early_refs"] >= 2 and f.details["late_refs"] == 0
    assert len(f.details["curve"]) == 13


def test_no_decline_for_short_traces_or_when_late_steps_still_look():
    early = "Looking at the image, the diagram shows a ladder against a wall. The figure marks the angle."
    assert detect(_trace(early, 4), decline=True) == []                # too short to judge
    still_looking = _trace(early, 12) + "\n\nChecking the image again, the angle is 30 degrees."
    assert detect(still_looking, decline=True) == []
    assert detect(_trace("The ladder problem, worked algebraically.", 12), decline=True) == []  # never looked
    # "imagine", "photosynthesis", "paragraph" are not references to the image
    fake = "Imagine the photosynthesis paragraph. Photons and demographic data.\n\n" * 2
    assert detect(_trace(fake, 12), decline=True) == []


def test_image_references_are_whole_words():
    assert imagerefs.count("Imagine the image") == 1
    assert imagerefs.count("photosynthesis, photons, demographic, paragraph, graphene, figured") == 0
    assert imagerefs.count("Figures 2 and 3, the graph's axis, <image 1>; now figure out the plot") == 4


@pytest.mark.parametrize("text", ["", "   \n\n  ", "😀" * 3000, "لا أستطيع رؤية الصورة " * 50,
                                  "a\ud800b I can't see the image \udfff", "I can't see the image. " * 20_000])
def test_adversarial_input(text):
    for f in detect(text, decline=True):
        assert 0 <= f.char_start <= f.char_end <= len(text) and 0.0 <= f.score <= 1.0
