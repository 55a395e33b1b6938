"""Repetition-loop detector: verbatim tandem repeats and near-verbatim cycles across steps.

Verbatim loops. The trace is cut into units at sentence ends and line breaks (one C-speed
regex pass); each unit (whitespace-trimmed) gets an integer id. A loop is a block of p
consecutive units (p = 1..MAX_PERIOD) repeated back to back at least 3 times. Because cutting a
periodic string at fixed characters yields a periodic unit sequence, this finds sentence loops,
alternating line pairs and inline expressions that contain a period or a break. Units longer
than LONG_UNIT characters (an expression repeated with no break) are also cut into
whitespace tokens and searched the same way. Only traces where some unit occurs 3+ times are
searched at all, so the cost is linear in the text.

Content rule: the repeated block must carry real content (>= MIN_BLOCK_ALNUM letters or digits
for 3 copies; shorter blocks need >= 5 copies); separators, ellipses and table rules never
count. Enumerations and tables do not repeat verbatim (their values change), so they are not
flagged. A check repeated two times is not a loop (3+ copies back to back are).

Near-verbatim cycles. Steps whose normalised text (lowercase, punctuation and spacing folded,
numbers kept) is identical or nearly so (difflib ratio >= 0.9 on a shared signature) and that
come back 3+ times, not necessarily consecutively, are a `cycle`.

Each finding: char_start = onset (first character of the first copy), char_end = end of the
last copy; details: period_chars, period_units, copies, chars_wasted ((copies - 1) x period),
ran_to_end (nothing but a partial copy follows). Severity: `runaway` (ran to the end of the
trace), `loop` (escaped), `cycle`. Score: share of the trace wasted in the loop, 0..1.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from typing import Sequence

from workbench.analysis.base import Step, step_at
from workbench.analysis.registry import DetectorSpec, Measure, Severity
from workbench.records import Finding

NAME = "repetition_loop"
VERSION = "repetition-1"

MAX_PERIOD = 12          # units per repeated block
MIN_COPIES = 3
MIN_BLOCK_ALNUM = 30     # letters/digits a block needs to count with 3 copies (a real sentence)
MID_BLOCK_ALNUM = 8      # blocks with 8-29 need 4 copies (an inline expression)
SHORT_BLOCK_COPIES = 5   # blocks with fewer letters/digits (>= 4) need 5 copies
LONG_UNIT = 400
_UNIT = re.compile(r"[^.!?。！？\n]*(?:[.!?。！？]+|\n|$)")
_TOKEN = re.compile(r"\S+")
_ALNUM = re.compile(r"[^\W_]")
_NORM = re.compile(r"[\W_]+")
_CHAR_LOOP = re.compile(r"(.{2,120}?)\1{2,}", re.S)   # only run on long units with few spaces
CYCLE_MIN_COPIES = 5     # near-verbatim steps: a formula restated per option (2-4 times) is not a loop
_FILLER = re.compile(r"^(?:(?:alternatively|perhaps|maybe|wait|but|so|hmm|well|okay|ok|again|actually|now|then|"
                     r"let me|i think|or|and|also|still|hold on|no)\s+)+")


_CUT = re.compile(r"(?<=[.!?。！？\n])")


def _units(text: str) -> tuple[list[int], list[int], list[str]]:
    """Units (sentences / lines) with offsets; empty when no loop is possible (the common case)."""
    parts = _CUT.split(text)
    keys = [p.strip() for p in parts]
    counts = Counter(keys)
    if not any(c >= MIN_COPIES and len(k) >= 6 for k, c in counts.items()) and \
            not any(len(k) >= 100 for k in keys):
        return [], [], []
    starts, ends, out = [], [], []
    pos = 0
    for part, key in zip(parts, keys):
        if key:
            lead = len(part) - len(part.lstrip())
            starts.append(pos + lead)
            ends.append(pos + lead + len(key))
            out.append(key)
        pos += len(part)
    return starts, ends, out


def _tandem_runs(ids: list[int], max_period: int) -> list[tuple[int, int, int]]:
    """(start index, period, copies) of maximal tandem repeats with >= MIN_COPIES copies."""
    n = len(ids)
    found: list[tuple[int, int, int]] = []
    covered_until = -1
    i = 0
    while i < n - 2:
        best = None
        for p in range(1, min(max_period, (n - i) // MIN_COPIES) + 1):
            j = i
            while j + p < n and ids[j] == ids[j + p]:
                j += 1
            copies = (j - i) // p + 1
            if copies >= MIN_COPIES:
                best = (i, p, copies)
                break  # smallest period wins
        if best and i > covered_until:
            found.append(best)
            covered_until = best[0] + best[1] * best[2] - 1
            i = covered_until + 1
        else:
            i += 1
    return found


def _enough(alnum: int, copies: int) -> bool:
    """Does a block with this much content, repeated this often, count as a loop?"""
    if alnum >= MIN_BLOCK_ALNUM:
        return copies >= MIN_COPIES
    if alnum >= MID_BLOCK_ALNUM:
        return copies >= 4
    return alnum >= 4 and copies >= SHORT_BLOCK_COPIES


def _block_alnum(keys: list[str], start: int, period: int) -> int:
    return sum(len(_ALNUM.findall(k)) for k in keys[start:start + period])


def _loops(starts: list[int], ends: list[int], keys: list[str], *, max_period: int,
           min_units: int = 1) -> list[tuple[int, int, int, int, int]]:
    """(char_start, char_end, period_chars, copies, period_units) of tandem repeats of content-carrying
    blocks in a sequence of units (sentences/lines, or whitespace tokens inside one long unit)."""
    counts = Counter(keys)
    if not counts or counts.most_common(1)[0][1] < MIN_COPIES:
        return []
    table: dict[str, int] = {}
    ids = [table.setdefault(k, len(table)) for k in keys]
    out = []
    for i, p, copies in _tandem_runs(ids, max_period):
        if p * copies < min_units or not _enough(_block_alnum(keys, i, p), copies):
            continue
        a, b = starts[i], ends[i + p * copies - 1]
        period_chars = starts[i + p] - starts[i] if i + p < len(starts) else b - a
        out.append((a, b, period_chars, copies, p))
    return out


def detect(response: str, *, question: str | None = None, steps: Sequence[Step] = (),
           has_image: bool = False) -> list[Finding]:
    """Loops in `response`: verbatim tandem repeats and near-verbatim cycles of steps."""
    if not response or len(response) < 40:
        return []
    starts, ends, keys = _units(response)
    loops = _loops(starts, ends, keys, max_period=MAX_PERIOD)
    for s, e, k in zip(starts, ends, keys):
        found: list[tuple[int, int, int, int, int | None]] = []
        if len(k) >= LONG_UNIT:  # an expression repeated with no sentence break inside one unit
            ts, te, tk = [], [], []
            for m in _TOKEN.finditer(response, s, e):
                ts.append(m.start())
                te.append(m.end())
                tk.append(m.group(0))
            found += _loops(ts, te, tk, max_period=40, min_units=6)
        if len(k) >= 100 and k.count(" ") < len(k) / 20:  # no spaces to cut at (CJK, symbol runs)
            found += _char_loops(response, s, e)
        for a, b, pc, copies, pu in found:
            if not any(x <= a < y for x, y, *_ in loops):
                loops.append((a, b, pc, copies, pu))
    findings = []
    tail = len(response.rstrip())
    for a, b, period_chars, copies, period_units in sorted(loops):
        rest = response[b:tail].strip()
        block = response[a:a + period_chars].strip()
        ran_to_end = not rest or (len(rest) < len(block) and block.startswith(rest))
        wasted = period_chars * (copies - 1)
        findings.append(Finding(
            NAME, "runaway" if ran_to_end else "loop", round(min(1.0, wasted / max(1, len(response))), 4),
            a, b, step_at(steps, a), _excerpt(block),
            {"period_chars": period_chars, "period_units": period_units, "copies": copies,
             "chars_wasted": wasted, "ran_to_end": ran_to_end}))
    findings += _cycles(response, steps, [(f.char_start, f.char_end) for f in findings])
    return findings


def _char_loops(text: str, s: int, e: int) -> list[tuple[int, int, int, int, int]]:
    out = []
    for m in _CHAR_LOOP.finditer(text, s, e):
        block = m.group(1)
        copies = (m.end() - m.start()) // len(block)
        alnum = len(_ALNUM.findall(block))
        if alnum < 2 or (alnum < MID_BLOCK_ALNUM and copies < SHORT_BLOCK_COPIES) or m.end() - m.start() < 30:
            continue
        out.append((m.start(), m.end(), len(block), copies, None))
    return out


def _cycles(response: str, steps: Sequence[Step], covered: list[tuple[int, int]]) -> list[Finding]:
    """Steps that come back near-verbatim 3+ times (not necessarily back to back)."""
    if len(steps) < CYCLE_MIN_COPIES:
        return []
    groups: dict[str, list[Step]] = {}
    for s in steps:
        if s.char_end - s.char_start < 60 or any(x <= s.char_start < y for x, y in covered):
            continue
        head = response[s.char_start:s.char_start + 100]
        if head.startswith(("- ", "* ", "| ")):  # list items and table rows: per-option recomputation
            continue
        key = _FILLER.sub("", _NORM.sub(" ", head.lower()).strip())[:30]
        groups.setdefault(key, []).append(s)
    candidates: dict[str, list[tuple[Step, str]]] = {}
    for key, members in groups.items():
        if len(members) < CYCLE_MIN_COPIES or len(key) < 20:
            continue
        for s in members:
            raw = response[s.char_start:s.char_end]
            compact = "".join(raw.split())
            if sum(c.isalpha() for c in compact) < 0.6 * len(compact):  # formulas, matrices, number lists
                continue
            candidates.setdefault(key, []).append((s, _FILLER.sub("", _NORM.sub(" ", raw.lower()).strip())))
    groups = candidates  # type: ignore[assignment]
    out = []
    for members in groups.values():
        if len(members) < CYCLE_MIN_COPIES:
            continue
        first = members[0][1]
        same = [m for m in members if m[1] == first or difflib.SequenceMatcher(None, first, m[1]).quick_ratio() >= 0.8
                and difflib.SequenceMatcher(None, first, m[1]).ratio() >= 0.8]
        if len(same) < CYCLE_MIN_COPIES:
            continue
        a, b = same[0][0].char_start, same[-1][0].char_end
        period = same[0][0].char_end - same[0][0].char_start
        wasted = sum(m[0].char_end - m[0].char_start for m in same[1:])
        rest = response[b:].strip()
        out.append(Finding(NAME, "cycle", round(min(1.0, wasted / max(1, len(response))), 4), a, b,
                           same[0][0].index, _excerpt(response[a:a + period]),
                           {"period_chars": period, "period_units": None, "copies": len(same),
                            "chars_wasted": wasted, "ran_to_end": not rest,
                            "steps": [m[0].index for m in same]}))
    return out


def _excerpt(s: str, width: int = 100) -> str:
    s = " ".join(s.split())
    return s if len(s) <= width else s[: width - 1] + "…"


SPEC = DetectorSpec(
    name=NAME, version=VERSION, label="repetition loop", colour="#1a73e8", css_class="wb-loop", collapse=True,
    description="A block of text repeated back to back, or near-verbatim cycles of reasoning.",
    severities=(
        Severity("loop", "loop", "#4285f4", "a verbatim loop the trace escaped"),
        Severity("runaway", "runaway", "#1a73e8", "a verbatim loop that ran into the end of the trace"),
        Severity("cycle", "cycle", "#8ab4f8", "near-verbatim steps that keep coming back"),
    ),
    measures=(Measure("copies", "copies", "int"), Measure("chars_wasted", "chars wasted", "int"),
              Measure("period_chars", "period", "int")),
    detect=detect)
