"""Did the trace run out? `finish_reason = length` when the source says so; otherwise a runaway loop at
the end, or a trace that stops mid-thought without concluding.

- A source's `finish_reason` is the truth when known: `length` ran out, anything else (eos, stop) did not.
- A verbatim loop that runs into the end of the text (3+ copies of a block, the last one cut anywhere)
  only ends at the token cap: truncated, whatever else the text holds.
- A short answer (at most SHORT_CHARS characters: "B", "Yes", "12 cm", a sentence or two) is complete
  unless it stops on an operator or a function word ("... and compute the").
- A longer trace is complete when it concludes near its end (a final-answer block, a boxed answer,
  "the answer is X", "Answer: X", a last line that is just an option or a number, in its last part) or, with no
  firm conclusion, when its last paragraph ends a sentence, closes what it opened and is not reasoning
  left hanging.
  It is truncated when it stops mid-sentence or mid-formula ("= $1", "∠C = (28", an unclosed bracket)
  without concluding, when its last paragraph is reasoning left hanging ("Wait, no."), or when it is a
  long reasoning trace (LONG_UNCONCLUDED characters) that never names an answer at all.
"""

from __future__ import annotations

import re

SHORT_CHARS = 300
TAIL_SHARE = 0.25          # a conclusion in the last quarter of the trace (or the last TAIL_CHARS) ends it
TAIL_CHARS = 800
LONG_UNCONCLUDED = 8000    # a reasoning trace this long that never names an answer ran out
LOOP_WINDOW = 1500         # where the tail-loop check looks for earlier copies of the last characters
LOOP_PROBE = 12            # characters of the end used to find candidate periods
_END_OK = re.compile(r"(?:[.!?。！？)\]}*`\"'»”>|]|\$\$|\\\]|\$)\s*$")
# Left open at the end: an operator or opening bracket, a number cut at its point, a function word
# (lower case only: a capital "A" at the end is an option letter). "*" closes markdown ("**B**").
_DANGLING = re.compile(r"[=(\[{,+\-−×/\\^_:;]\s*$|[-+=×*/]\s*\d+\.$"
                       r"|\b(?:and|or|the|a|an|of|to|is|are|be|with|for|by|than|then)\s*$")
_SHORT_CUT = re.compile(r"[=(\[{+\-−×/\\^]\s*$|\b(?:and|or|the|an|of|to|with|for|by|than)\s*$")
_HANGING = re.compile(r"^(?:wait|but|alternatively|hmm|let me|let's|maybe|perhaps|so,? let|now|first|next|then|"
                      r"looking|option [a-j] is|i need|i think|hold on|actually)\b", re.I)
_ALNUM = re.compile(r"[^\W_]")


def tail_loop(text: str) -> tuple[int, int] | None:
    """(period, copies) of a verbatim loop that runs into the end of `text`, or None.

    The last LOOP_PROBE characters are searched for in the preceding LOOP_WINDOW; each earlier
    occurrence gives a candidate period p, kept when the text is p-periodic over its last 3 copies."""
    t = text.rstrip()
    n = len(t)
    if n < 60:
        return None
    probe = t[-LOOP_PROBE:]
    lo = max(0, n - LOOP_WINDOW)
    i = t.rfind(probe, lo, n - 1)
    while i >= 0:
        p = n - LOOP_PROBE - i
        if p >= 2 and 3 * p <= n and t[n - p:] == t[n - 2 * p:n - p] == t[n - 3 * p:n - 2 * p]:
            copies = 3
            while (copies + 1) * p <= n and t[n - (copies + 1) * p:n - copies * p] == t[n - p:]:
                copies += 1
            block = t[n - p:]
            alnum = len(_ALNUM.findall(block))
            if (alnum >= 4 and (copies * p >= 100 or copies >= 5) and (alnum >= 8 or copies >= 5)) \
                    or (copies >= 20 and copies * p >= 40):   # a run of symbols ("} } } }") to the cap
                return p, copies
        i = t.rfind(probe, lo, i + LOOP_PROBE - 1) if i > lo else -1
    return None


def ends_clean(text: str) -> bool:
    """Whether the text ends a sentence, a formula or a block (not "= $1", "(28", "and the")."""
    t = text.rstrip()
    return bool(_END_OK.search(t[-40:])) and not _DANGLING.search(t[-20:])


def left_open(fragment: str) -> bool:
    """Whether a statement is left open at its end: a dangling operator or word, or an unclosed
    bracket, brace or formula delimiter."""
    f = fragment.rstrip()
    if not f or _DANGLING.search(f[-20:]):
        return True
    return (f.count("(") > f.count(")") or f.count("[") > f.count("]") or f.count("{") > f.count("}")
            or f.count("\\(") > f.count("\\)") or (f.count("$") % 2 == 1 and "$$" not in f
            and not re.search(r"\$\s*[\d.,]+\s*$", f)))


def is_short(text: str) -> bool:
    """A short answer ("B", "Yes", "12 cm", a sentence or two): never a trace that ran out."""
    return len(text.strip()) <= SHORT_CHARS


def truncation(text: str | None, *, conclusion_end: int | None, finish_reason: str | None,
               concluded: bool = False) -> str | None:
    """Why the trace ran out (`length`, `loop`, `cut`), or None when it is complete.

    `conclusion_end`: character offset where the trace's firm conclusion (a final-answer block, a boxed
    answer, "the answer is X") ends, None when it has none; `concluded`: it names an answer somewhere,
    firmly or not ("which is closest to option B")."""
    if finish_reason:
        return "length" if finish_reason == "length" else None
    t = (text or "").rstrip()
    if not t:
        return None
    if len(t) >= 60 and tail_loop(t):
        return "loop"
    if is_short(t):   # complete unless it stops on an operator or a function word ("compute the")
        return "cut" if len(t) > 40 and _SHORT_CUT.search(t[-20:]) else None
    tail_start = len(t) - max(TAIL_CHARS, int(TAIL_SHARE * len(t)))
    if conclusion_end is not None and conclusion_end >= tail_start:
        return None
    last = t[t.rfind("\n\n") + 2:].strip() if "\n\n" in t else t
    if not ends_clean(t) or left_open(last[-2000:]):
        return "cut"
    if not concluded and (len(t) >= LONG_UNCONCLUDED or (_HANGING.match(last) and len(last) < 200)):
        return "cut"
    return None
