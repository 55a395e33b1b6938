"""Step segmentation: paragraphs, over-long ones split at discourse markers, with exact offsets.

`segment(response)` returns steps that cover every non-blank paragraph of the raw response:
`response[step.char_start:step.char_end]` is the step's text (whitespace-trimmed). The text is
never rewritten. Roles come from the step's opening words (see ROLE_PATTERNS); `perception` (the step
opens by referring to the image) only for samples that had an image. `image_ref_count` counts
references to the image (workbench.analysis.imagerefs: whole words) in the step, 0 without an image.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from workbench.analysis import imagerefs
from workbench.analysis.base import Step

VERSION = "steps-2"  # 2: image references on word boundaries (imagerefs), none and no perception without an image
MAX_STEP_CHARS = 1500       # a paragraph longer than this is split at discourse markers
HARD_STEP_CHARS = 4000      # ... and, failing that, at sentence ends (a loop with no markers)
HEAD_CHARS = 160            # a step's opening, where its role is read

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_MARKERS = (r"Wait|Hmm|But wait|Alternatively|Another approach|Let me (?:double[- ]check|check|verify|"
            r"re-?examine|reconsider|try|think)|Actually|However|So,|Therefore|Now,|First,|Next,|Finally,")
_SPLIT = re.compile(r"(?<=[.!?。:])\s+(?=(?:" + _MARKERS + r")\b)")
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+")

ROLE_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("conclusion", re.compile(r"(?:So|Thus|Therefore|Hence)?,?\s*(?:the )?"
                              r"(?:final |correct )?answer (?:is|should be)|^Final answer", re.I)),
    ("switch", re.compile(r"(?:Alternatively|Another (?:approach|way|idea|possibility)|Let me try (?:a |another|"
                          r"something)|Let's try (?:a |another)|Instead,|On the other hand|Maybe I should "
                          r"(?:try|approach|consider))", re.I)),
    ("reflection", re.compile(r"(?:Wait|Hmm+|Hold on|But wait|Actually|Let me (?:double[- ]check|check|verify|"
                              r"re-?examine|reconsider|re-?evaluate|make sure|see if)|Let's (?:double[- ]check|"
                              r"check|verify)|Double[- ]checking|Checking|But |However|No,|Oh,|Oops|I think I "
                              r"(?:made|might have made) a mistake|Is that (?:right|correct))", re.I)),
]
# ROLE_PATTERNS as one alternation (first alternative that matches wins, as in the list): one match per step
_ROLE = re.compile("|".join(f"(?P<{role}>{p.pattern})" for role, p in ROLE_PATTERNS), re.I)
def _split_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split text[start:end] at discourse markers (then sentence ends) into pieces of sane size."""
    chunk = text[start:end]
    cuts = [m.start() for m in _SPLIT.finditer(chunk)]
    pieces = _cut(chunk, cuts, MAX_STEP_CHARS // 4)
    out: list[tuple[int, int]] = []
    for a, b in pieces:
        if b - a > HARD_STEP_CHARS:
            sub = chunk[a:b]
            scuts = [m.start() for m in _SENTENCE_END.finditer(sub)]
            for c, d in _cut(sub, scuts, MAX_STEP_CHARS, hard=HARD_STEP_CHARS):
                out.append((start + a + c, start + a + d))
        else:
            out.append((start + a, start + b))
    return out


def _cut(chunk: str, cuts: list[int], min_len: int, hard: int | None = None) -> list[tuple[int, int]]:
    """Pieces between cut points, merging pieces shorter than min_len; trims whitespace."""
    pieces: list[tuple[int, int]] = []
    a = 0
    for c in [*cuts, len(chunk)]:
        if c - a >= min_len or c == len(chunk):
            pieces.append((a, c))
            a = c
    if hard:  # text with no sentence ends at all (e.g. one huge token run): cut blindly
        fixed = []
        for a, b in pieces:
            while b - a > hard:
                fixed.append((a, a + hard))
                a += hard
            fixed.append((a, b))
        pieces = fixed
    trimmed = []
    for a, b in pieces:
        seg = chunk[a:b]
        lead = len(seg) - len(seg.lstrip())
        tail = len(seg) - len(seg.rstrip())
        if b - tail > a + lead:
            trimmed.append((a + lead, b - tail))
    return trimmed


def role_of(text: str, head_refs: int | None = None, *, has_image: bool = True) -> str:
    """The step's role from its opening words; `perception` only when the sample had an image and the
    step opens by referring to it (head_refs: references in its first 160 characters, if known)."""
    if "**Final Answer" in text or "\\boxed{" in text:
        return "conclusion"
    head = text[:HEAD_CHARS]
    m = _ROLE.match(head)
    if m:
        return m.lastgroup  # type: ignore[return-value]  # every alternative is a named group
    if has_image and (imagerefs.count(head) if head_refs is None else head_refs):
        return "perception"
    return "computation"


def paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-blank paragraph, whitespace-trimmed; blank lines separate them."""
    out = []
    a = 0
    for m in _BLANK_LINE.finditer(text):
        out.append((a, m.start()))
        a = m.end()
    out.append((a, len(text)))
    trimmed = []
    for a, b in out:
        seg = text[a:b]
        stripped = seg.strip()
        if stripped:
            lead = len(seg) - len(seg.lstrip())
            trimmed.append((a + lead, a + lead + len(stripped)))
    return trimmed


def segment(response: str | None, *, has_image: bool = True) -> list[Step]:
    """Steps of a trace with exact offsets into `response` and a role each.

    With has_image=False (the sample had no image) nothing refers to an image: every step's
    image_ref_count is 0 and no step is `perception` (and the reference scan is skipped)."""
    if not response:
        return []
    spans: list[tuple[int, int]] = []
    for a, b in paragraphs(response):
        if b - a > MAX_STEP_CHARS:
            spans.extend(_split_long(response, a, b))
        else:
            spans.append((a, b))
    refs = imagerefs.positions(response) if has_image else []
    steps = []
    for i, (a, b) in enumerate(spans):
        lo = bisect_left(refs, a)
        n = bisect_left(refs, b) - lo
        head = bisect_left(refs, min(b, a + HEAD_CHARS)) - lo if n else 0
        steps.append(Step(i, a, b, role_of(response[a:b], head, has_image=has_image), n))
    return steps
