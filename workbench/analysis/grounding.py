"""Grounding-loss detector, text tier (for cached runs without a model).

Only samples that had an image (has_image=True) can be flagged.

1. `cannot_see`: the model says it cannot see, does not have, or was not given the image
   ("I can't see the actual image", "since I don't have the diagram", "without the figure, it's
   hard to...", "the image isn't provided"). First person, an image noun (or "it" right after an
   image was mentioned) and a not-seeing verb must occur together; "I can't see why", "I don't see
   any trees in the image" (that is grounded) and "you can't see" are not matched. Score 1.0.
2. `decline`: references to the image stop: long traces (>= 8 steps, >= 3000 chars) whose first
   quarter mentions the image >= 2 times and whose whole second half (>= 1500 chars) never does.
   Score = 1 - late reference rate / early reference rate.

The per-step curve is `steps.image_ref_count`. This tier has low recall for silent forgetting
(the model keeps writing about the image while ignoring it): the model tiers of the probe
measure that.
"""

from __future__ import annotations

import re
from typing import Sequence

from workbench.analysis.base import Step, step_at
from workbench.analysis.registry import DetectorSpec, Severity
from workbench.records import Finding

NAME = "grounding_loss"
VERSION = "grounding-text-2"

# "table(s)", "painting", "score" are left out on purpose: "I don't have the tables" means reference
# tables, "without seeing the painting in person" is not about the given image.
_NOUN = r"(?:image|picture|figure|diagram|graph|chart|plot|photo(?:graph)?|illustration|drawing|map|visual|" \
        r"screenshot|pedigree|graphic|circuit|schematic|scan|x-ray|ecg|sheet music)s?"
_ADJ = r"(?:actual |original |specific |exact |full |given |provided |accompanying |referenced |attached |" \
       r"mentioned |relevant |associated )*"
_DET = r"(?:the |this |that |an |any |your |these |those )"
_NEG_SEE = r"(?:can(?:no|')?t|cannot|can not|am unable to|am not able to|'m unable to|'m not able to|" \
           r"don't|do not|couldn't|could not)"
CANNOT_SEE = re.compile(
    r"\bI\s*" + _NEG_SEE + r"\s+(?:actually\s+|really\s+|directly\s+)?(?:see|view|access|look at|display|perceive)\s+"
    + _DET + _ADJ + _NOUN + r"\b(?!\s+(?:being|as|having|showing|to be)\b)"  # "can't see the image being X" is an opinion
    r"|\bI\s+(?:don't|do not|didn't|did not)\s+(?:actually\s+|really\s+)?have\s+(?:access to\s+)?" + _DET + "?"
    + _ADJ + _NOUN + r"\b(?!\s+(?:of|for)\s+(?!the\s+(?:problem|question)))"
    r"|\bwithout\s+(?:seeing|having|access to|being able to see)\s+" + _DET + _ADJ + _NOUN + r"\b"
    r"|\bwithout\s+the\s+" + _ADJ + _NOUN + r"\s*,\s*(?:it'?s|it is|I)\b"
    r"|\b(?:the|this)\s+" + _ADJ + _NOUN + r"\s+(?:itself\s+)?(?:isn't|is not|wasn't|was not|aren't|are not)\s+"
    r"(?:provided|included|available(?: to me)?|attached|given|shown|visible(?: here| to me)?|accessible)\b(?!\s+(?:in|on)\s+the\s+(?:"
    + _NOUN + r"))(?!\s+(?:to scale|in units|in terms|in full|in detail)\b)"
    r"|\bno\s+" + _NOUN + r"\s+(?:is\s+|was\s+)?(?:provided|given|attached|included|available)\b"
    r"|\bI\s+(?:can't|cannot|am unable to|'m unable to|don't have the ability to)\s+(?:see|view|process)\s+images\b"
    r"|\b(?:since|as|which|but)\s+I\s+(?:can't|cannot|can not|don't|do not)\s+(?:see|have)\s+(?:it|them|that|what)\b"
    r"|\b" + _NOUN + r"(?:\s+\d+)?,?\s+which\s+I\s+(?:can't|cannot|can not|don't|do not)\s+(?:see|have)\b"
    r"|\b(?:since|as)\s+it(?:'s| is)\s+not\s+(?:provided|shown|included|given|visible)\b",
    re.I)
_IT_CONTEXT = re.compile(_NOUN, re.I)
MIN_STEPS, MIN_CHARS, MIN_LATE_CHARS = 8, 3000, 1500


def detect(response: str, *, question: str | None = None, steps: Sequence[Step] = (),
           has_image: bool = False) -> list[Finding]:
    """Text-tier grounding loss: cannot-see statements and a decline of image references."""
    if not has_image or not response:
        return []
    findings: list[Finding] = []
    for m in CANNOT_SEE.finditer(response):
        text = m.group(0)
        if re.search(r"\b(?:it|them|that|what)\b$|^(?:since|as)\s+it", text, re.I) and \
                not _IT_CONTEXT.search(response, max(0, m.start() - 120), m.start()):
            continue  # "since I can't see it" only counts right after an image was mentioned
        findings.append(Finding(NAME, "cannot_see", 1.0, m.start(), m.end(), step_at(steps, m.start()),
                                _sentence(response, m.start(), m.end()), {"rule": "cannot_see"}))
    decline = _decline(response, steps)
    if decline:
        findings.append(decline)
    return findings


def _decline(response: str, steps: Sequence[Step]) -> Finding | None:
    if len(steps) < MIN_STEPS or len(response) < MIN_CHARS:
        return None
    quarter = max(1, len(steps) // 4)
    half = len(steps) // 2
    early = steps[:quarter]
    late = steps[half:]
    early_refs = sum(s.image_ref_count for s in early)
    late_refs = sum(s.image_ref_count for s in late)
    late_chars = late[-1].char_end - late[0].char_start
    if early_refs < 2 or late_refs > 0 or late_chars < MIN_LATE_CHARS:
        return None
    last_ref = max((s for s in steps if s.image_ref_count), key=lambda s: s.index)
    onset = steps[last_ref.index + 1] if last_ref.index + 1 < len(steps) else late[0]
    early_rate = early_refs / max(1, sum(s.char_end - s.char_start for s in early))
    return Finding(NAME, "decline", 1.0 if early_rate else 0.0, onset.char_start, steps[-1].char_end, onset.index,
                   f"no reference to the image in the last {len(steps) - onset.index} of {len(steps)} steps",
                   {"rule": "decline", "early_refs": early_refs, "late_refs": late_refs,
                    "last_ref_step": last_ref.index, "curve": [s.image_ref_count for s in steps]})


def _sentence(text: str, a: int, b: int, width: int = 160) -> str:
    start = max(text.rfind(".", 0, a), text.rfind("\n", 0, a)) + 1
    end_candidates = [i for i in (text.find(".", b), text.find("\n", b)) if i >= 0]
    end = min(end_candidates) + 1 if end_candidates else len(text)
    s = " ".join(text[start:end].split())
    return s if len(s) <= width else s[: width - 1] + "…"


SPEC = DetectorSpec(
    name=NAME, version=VERSION, label="grounding loss", colour="#d93025", css_class="wb-ground",
    description="The trace loses the image: says it cannot see it, stops referring to it (text tier), "
                "or stops attending to / depending on it (model tiers, from `workbench probe`).",
    severities=(
        Severity("cannot_see", "cannot see", "#d93025", "says it cannot see or was not given the image"),
        Severity("decline", "decline", "#f28b82", "references to the image stop in the second half"),
        Severity("high", "high (model)", "#a50e0e", "model tier: reliance dropped for good, by >= 75%"),
        Severity("medium", "medium (model)", "#d93025", "model tier: reliance dropped until the end"),
        Severity("low", "low (model)", "#f28b82", "model tier: reliance dropped, then recovered"),
    ),
    tiers=("text", "attention", "visual_dependence"), requires_image=True,
    detect=detect)
