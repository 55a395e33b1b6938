"""Grounding-loss detector, text tier (for cached runs without a model).

Only samples that had an image (has_image=True) can be flagged.

1. `cannot_see` (on by default): the model states that it cannot see, does not have or was not
   given the image. Matched by the statement's structure, not a phrase list: an inability or an
   absence, a verb of seeing, viewing, having, accessing or receiving, and the image or a synonym
   (imagerefs.STATEMENT_NOUNS) belong together:
   - "I can't see / am unable to view / have no way of seeing / it is not possible for me to view"
     + the image; "I don't have (access to) / lack / wasn't given" + the image; "you haven't shared"
     + the image; "as a text-based model, I cannot see images";
   - the image + "cannot be viewed / could not be loaded / isn't available (to the model) / was not
     provided / seems to be missing / didn't come through / has not been shared with me";
   - "there is no image attached / for me to look at", "no diagram has been supplied";
   - "without (seeing / access to / being able to view) the image", "in the absence of the image",
     "not having the picture"; "..., but since I can't see it" right after an image is mentioned.
   Kept out: "I can't see why", "I don't see any trees in the image" (the object seen is not the
   image), "I don't see any figure holding a model" (an indefinite noun followed by what it does),
   "the figure is not drawn to scale", "the image of f is not available in closed form", "you / the
   reader can't see", "I don't have the exact figures for ...".
   Score: the share of the trace written after the statement (0..1; 1 = the whole reasoning went on
   without the image, near 0 = said at the very end).
2. `decline` (opt-in: `detect(..., decline=True)`; off by default because 3 of its 39 findings on the
   dev set were plausible when read, bench/labels/decline.jsonl): references to the image stop -
   long traces (>= 8 steps, >= 3000 chars) whose first quarter refers to the image >= 2 times and
   whose whole second half (>= 1500 chars) never does. Score: the share of the trace after the last
   reference (how long the image is absent).

The per-step curve is `Step.image_ref_count` (workbench.analysis.imagerefs). This tier has low
recall for silent forgetting (the model keeps writing about the image while ignoring it): the model
tiers of the probe measure that.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workbench.analysis.base import Step, step_at
from workbench.analysis.imagerefs import REF_NOUN_PATTERN, STATEMENT_NOUN_PATTERN
from workbench.analysis.registry import DetectorSpec, Severity
from workbench.records import Finding

NAME = "grounding_loss"
VERSION = "grounding-text-3"  # 3: structural cannot-see rule, graded scores, decline opt-in
DECLINE_DEFAULT = False       # the decline rule runs only when asked (measured precision 0.08 < 0.8)
OPT_IN_SEVERITIES = ("decline",)

_A = "['’]"  # straight or curly apostrophe
_NOUN = STATEMENT_NOUN_PATTERN
_REF = REF_NOUN_PATTERN  # after an indefinite article only the image nouns proper ("I don't have a map" is a tool)
_ADJ = r"(?!(?:actual|exact|specific|precise)\s+figures\b)(?:(?:actual|original|specific|exact|full|given|provided|accompanying|referenced|attached|mentioned|" \
       r"relevant|associated|corresponding|above|below|following|said|same|circuit|related|described|whole|" \
       r"entire|uploaded|shared)\s+)*"
_DEF = r"(?:the|this|that|these|those|your|its|my)\s+"
_INDEF = r"(?:an?|any)\s+"
# what may follow the noun and still be about the noun itself (not something seen in it)
_POST = r"(?:\s+(?:\d+|[A-Z]\b|\([a-z0-9]\)))?" \
        r"(?:\s+(?:(?:that|which)\s+)?(?:(?:is\s+|was\s+)?(?:referred\s+to|mentioned|referenced|described|cited|" \
        r"given|included)\s+(?:in|by)\s+the\s+(?:question|problem|prompt|text|task)|the\s+(?:question|problem|" \
        r"prompt)\s+(?:mentions|refers\s+to|references|describes|shows)|(?:you|they)\s+(?:mention(?:ed)?|refer(?:red)?\s+to|" \
        r"describe[ds]?|shared|provided)))?"
_NP_DEF = _DEF + _ADJ + _NOUN + _POST
_NP = r"(?:" + _DEF + "|" + _INDEF + r")?" + _ADJ + _NOUN
# after "see <indefinite image noun>" only an end of clause keeps it a statement about the image
_CLAUSE_END = r"(?=\s*(?:[.,;:!?)]|$|\s(?:here|attached|provided|included|in\s+(?:the|your)\s+(?:question|prompt|" \
              r"message|problem|input)|so|but|and|which|that\s+I|to\s+(?:look|refer|work))\b))"
_NEG = rf"(?:can{_A}?t|cannot|can\s+not|could\s+not|couldn{_A}t|am\s+unable\s+to|{_A}m\s+unable\s+to|" \
       rf"am\s+not\s+able\s+to|{_A}m\s+not\s+able\s+to|was\s+unable\s+to|won{_A}t\s+be\s+able\s+to|" \
       rf"don{_A}t|do\s+not|didn{_A}t|did\s+not|have\s+no\s+way\s+to|have\s+no\s+means\s+to|" \
       rf"{_A}m\s+not\s+in\s+a\s+position\s+to|lack\s+the\s+ability\s+to|don{_A}t\s+have\s+the\s+ability\s+to|" \
       rf"do\s+not\s+have\s+the\s+ability\s+to)"
_SEE = r"(?:see|view|look\s+at|access|open|display|perceive|load|make\s+out|examine|inspect|read)"
_SEEING = r"(?:seeing|viewing|looking\s+at|accessing|opening|perceiving|examining|inspecting)"
_SUBJ = r"\b(?:I|we|the\s+model|this\s+model)\s*"
_ADV = r"(?:(?:actually|really|directly|currently|physically|personally|visually|unfortunately)\s+)?"
_STATE = r"(?:provided|included|available|attached|given|shared|supplied|uploaded|accessible|viewable|visible|" \
         r"displayed|rendered|loaded|loading|displaying|showing\s+up|present|here|sent|embedded|shown)"
_STATE_ANY = _STATE + r"|viewed|seen|accessed|opened|load|display|show\s+up|come\s+through|came\s+through|" \
                      r"coming\s+through|upload|attach"
_STATE_END = r"(?!\s+(?:in|on|for|under|as|at|with|from|to\s+scale|in\s+units|in\s+terms|in\s+full|in\s+detail|" \
             r"correctly\s+labell?ed)\b(?!\s+(?:the\s+|this\s+|your\s+)?(?:question|prompt|problem|message|input|" \
             r"conversation|text|chat|me|us|here|my\s+(?:side|end))\b))"
_IS_NOT = rf"(?:is|was|are|were|has|have|had|does|do|did|could|can|will|would|seems\s+to|appears\s+to)\s*" \
          rf"(?:(?:unfortunately|still|currently|actually|simply|apparently)\s+)?(?:not|n{_A}t)" \
          rf"|can{_A}t|cannot|can\s+not|couldn{_A}t|isn{_A}t|wasn{_A}t|aren{_A}t|weren{_A}t|hasn{_A}t|haven{_A}t|" \
          rf"doesn{_A}t|don{_A}t|didn{_A}t|won{_A}t"
_TO_ME = r"(?:\s+(?:to|for|with)\s+(?:me|us|the\s+model|this\s+model|the\s+assistant))?"

_PATTERNS = [
    # I can't see / view / access the image; I don't see an image here
    _SUBJ + _NEG + r"\s+" + _ADV + _SEE + r"\s+(?:" + _NP_DEF + r"(?!\s+(?:being|as|having|showing|to\s+be|clearly)\b)"
    + "|" + _INDEF + _ADJ + _NOUN + _CLAUSE_END + ")",
    # I don't have / lack / have no (access to) the image; I wasn't given / shown the image
    _SUBJ + rf"(?:(?:don{_A}t|do\s+not|didn{_A}t|did\s+not)\s+(?:actually\s+|really\s+|currently\s+)?have|lack|have\s+no|"
    rf"haven{_A}t\s+got|(?:have\s+not|haven{_A}t|has\s+not|hasn{_A}t)\s+(?:been\s+)?(?:given|shown|provided|sent)|"
    rf"(?:was\s+not|wasn{_A}t|were\s+not|weren{_A}t)\s+(?:given|shown|provided|sent))\s+(?:with\s+)?(?:access\s+to\s+)?"
    + r"(?:" + _DEF + _ADJ + _NOUN + "|" + _INDEF + _ADJ + _REF + r"(?=\s*[.,;:!?)]|\s+to\s+(?:look|refer|work|go)|"
    r"\s+(?:here|in\s+(?:this|the|your)\s+(?:conversation|chat|question|prompt|message|problem)))"
    + r"|" + _ADJ + _REF + r")\b(?!\s+(?:of|for|on|in|from|about)\s+(?!(?:the|this|your)\s+(?:problem|question|conversation|chat|prompt|message)|front\s+of\s+me))(?!-)",
    # you haven't shared / didn't attach the image
    rf"\byou\s+(?:haven{_A}t|have\s+not|didn{_A}t|did\s+not|forgot\s+to)\s+(?:yet\s+)?(?:share|shared|attach|attached|"
    rf"provide|provided|include|included|upload|uploaded|send|sent)\s+" + _NP,
    # the image is not available / cannot be viewed / was not provided / seems to be missing
    r"\b" + _NP_DEF + r"\s+(?:itself\s+)?(?:(?:" + _IS_NOT + r")\s+(?:been\s+|be\s+)?(?:" + _STATE_ANY + ")" + _TO_ME
    + _STATE_END + r"|(?:has\s+|have\s+)?failed\s+to\s+(?:load|display|render|upload|come\s+through|show(?:\s+up)?|attach)"
    + rf"|(?:is|was|seems\s+to\s+be|appears\s+to\s+be|{_A}s)\s+(?:missing|unavailable|absent|inaccessible)"
    + r"(?=\s*[.,;:!?)]|\s*$|\s+(?:here|from|in\s+(?:the|this|your)\s+(?:question|prompt|message|problem)|so|but|and|to\s+me)\b))",
    # no image is provided; there is no image attached / for me to look at
    r"\bno\s+" + _ADJ + _NOUN + r"\s+(?:is\s+|was\s+|has\s+been\s+|had\s+been\s+|have\s+been\s+|were\s+)?"
    r"(?:provided|given|attached|included|available|supplied|uploaded|shared|accessible)\b",
    rf"\bthere{_A}?s?\s+(?:is\s+|was\s+|are\s+)?no\s+" + _ADJ + _NOUN
    + r"\s+(?:attached|provided|included|given|available|here|for\s+me|to\s+(?:look|refer|see|view))",
    # without seeing / access to / being able to view the image; in the absence of the image
    r"\b(?:without|lacking)\s+(?:(?:actually\s+)?" + _SEEING + r"|having|access\s+to|any\s+access\s+to|being\s+able\s+to\s+"
    + _SEE + r"|the\s+ability\s+to\s+" + _SEE + r")\s+" + _NP + r"\b(?!\s+(?:of|for)\s+(?!the\s+(?:problem|question)))",
    r"\bwithout\s+" + _NP_DEF + r"\s*,\s*(?:it|I|we|this|there)\b",
    r"\bin\s+the\s+absence\s+of\s+" + _NP_DEF + r"\b",
    r"\bnot\s+having\s+" + _NP + r"\b",
    r"\bnot\s+being\s+able\s+to\s+" + _SEE + r"\s+" + _NP + r"\b",
    # it is not possible for me to view the image; I have no way of seeing the image
    rf"\b(?:no\s+way\s+for\s+me\s+to|not\s+possible\s+for\s+me\s+to|impossible\s+for\s+me\s+to|"
    rf"have\s+no\s+way\s+(?:of|to))\s+(?:{_SEE}|{_SEEING})\s+" + _NP,
    # text-only: I cannot see images; as a text-based model; I can only read text
    rf"\bI\s+(?:can{_A}?t|cannot|can\s+not|am\s+unable\s+to|{_A}m\s+unable\s+to|am\s+not\s+able\s+to|{_A}m\s+not\s+able\s+to|"
    rf"don{_A}t\s+have\s+the\s+ability\s+to|do\s+not\s+have\s+the\s+ability\s+to)\s+(?:see|view|process|look\s+at|"
    rf"interpret|analy[sz]e|read)\s+(?:images|pictures|photos|visual\s+(?:content|input|information)|visuals)\b",
    r"\bas\s+an?\s+(?:text[- ]based|text[- ]only|language)\s+(?:AI|model|assistant)\b",
    r"\bI\s+(?:can\s+only|only)\s+(?:read|process|handle|see|work\s+with)\s+text\b",
    # "... but since I can't see it": only right after an image noun (checked in detect)
    rf"\b(?:since|as|which|but|because)\s+I\s+(?:can{_A}?t|cannot|can\s+not|don{_A}t|do\s+not|am\s+unable\s+to|"
    rf"{_A}m\s+unable\s+to)\s+(?:see|view|have|access)\s+(?:it\b|them\b|that(?=\s*[,.;:!?)]))",
    r"\b" + _NOUN + rf"(?:\s+\d+)?(?:\s+(?:mentioned|referred\s+to|shown|given|included))?,?\s+which\s+I\s+(?:can{_A}?t|cannot|can\s+not|don{_A}t|do\s+not)\s+(?:see|have|view)\b",
    rf"\b(?:since|as)\s+it(?:{_A}s|\s+is|\s+was)\s+not\s+(?:provided|shown|included|given|visible|available)\b",
]
CANNOT_SEE = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.I)
_PRONOUN_END = re.compile(r"\b(?:it|them|that)$|^(?:since|as)\s+it", re.I)
_NOUN_RE = re.compile(r"\b" + _NOUN + r"\b", re.I)
MIN_STEPS, MIN_CHARS, MIN_LATE_CHARS = 8, 3000, 1500


def detect(response: str, *, question: str | None = None, steps: Sequence[Step] = (),
           has_image: bool = False, decline: bool = DECLINE_DEFAULT) -> list[Finding]:
    """Text-tier grounding loss: cannot-see statements (and, when asked, a decline of image references)."""
    if not has_image or not response:
        return []
    findings: list[Finding] = []
    n = len(response)
    for m in CANNOT_SEE.finditer(response):
        text = m.group(0)
        if _PRONOUN_END.search(text) and not _NOUN_RE.search(text) and \
                not _NOUN_RE.search(response, max(0, m.start() - 120), m.start()):
            continue  # "since I can't see it" only counts right after an image was mentioned
        after = max(0, len(response[m.end():].rstrip()))
        findings.append(Finding(NAME, "cannot_see", round(min(1.0, after / n), 4), m.start(), m.end(),
                                step_at(steps, m.start()), _sentence(response, m.start(), m.end()),
                                {"rule": "cannot_see"}))
    if decline:
        found = _decline(response, steps)
        if found:
            findings.append(found)
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
    silent = (steps[-1].char_end - onset.char_start) / max(1, steps[-1].char_end)
    return Finding(NAME, "decline", round(min(1.0, max(0.0, silent)), 4), onset.char_start, steps[-1].char_end,
                   onset.index, f"no reference to the image in the last {len(steps) - onset.index} of {len(steps)} steps",
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
