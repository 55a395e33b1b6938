"""Repetition-loop detector: tandem repeats (verbatim or rotating one word) and near-verbatim cycles.

Verbatim loops. The trace is cut into units at sentence ends and line breaks (one C-speed regex
split); each unit (trimmed of whitespace, a list bullet or the previous sentence's closing quote)
gets an integer id. A loop is a block of consecutive units
repeated back to back at least MIN_COPIES times; the block may be of any number of units as long as
it is at most MAX_PERIOD_CHARS characters long. Candidate periods d come from units (or units' first or last
LOOSE_KEY characters) that occur at i, i + d and i + 2d; each such seed is grown in both directions
while unit k matches unit k + d, so the cost stays linear in practice. Because cutting a periodic
string at fixed characters yields a periodic unit sequence, this finds sentence loops, alternating
line pairs, paragraphs repeated whole and inline expressions that contain a period or a break.
Units of LONG_UNIT characters or more (an expression repeated with no break) are also cut into
whitespace tokens and searched the same way, and long units with almost no spaces (CJK, symbol
runs) character by character. Traces with no evenly spaced repeat and no long unit (most of them)
stop after the split.

Near-verbatim copies. Two units of the same number of words that differ in exactly one word (not a
number, not a one-letter label such as an option letter or a variable) count as the same unit when
their first or last 16 characters agree; a block repeated this way is one loop when the changed
word comes back (at most copies // 2 + 1 distinct variants: "maybe / perhaps / maybe / perhaps"),
so enumerations ("the first term ..., the second term ...", "Option A ..., Option B ...") stay out.

Content rule: the repeated block must carry real content: >= MIN_BLOCK_ALNUM letters or digits for
3 copies, >= MID_BLOCK_ALNUM for 4 copies, >= 4 for SHORT_BLOCK_COPIES copies; separators, ellipses
and table rules never count. Enumerations and tables do not repeat verbatim (their values change).
A check repeated two times is not a loop (3+ copies back to back are).

Near-verbatim cycles. Prose steps (not list items, table rows or formulas) whose normalised text
(lowercase, punctuation folded, leading filler such as "Alternatively, perhaps" dropped) shares its
first 30 characters and is >= CYCLE_SIMILARITY similar (difflib ratio) to another member of the same
cluster, coming back >= CYCLE_MIN_COPIES times, not necessarily consecutively, are a `cycle`.

Each finding: char_start = onset (first character of the first copy), char_end = end of the last
copy; details: period_chars, period_units, copies, chars_wasted ((copies - 1) x period), ran_to_end
(nothing but a partial copy follows), near_verbatim (copies differ in a rotating word). Severity:
`runaway` (ran to the end of the trace), `loop` (escaped), `cycle`. Score: share of the trace
wasted in the loop, 0..1.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Sequence
from itertools import accumulate
from operator import itemgetter

from workbench.analysis.base import Step, step_at
from workbench.analysis.registry import DetectorSpec, Measure, Severity
from workbench.records import Finding

NAME = "repetition_loop"
VERSION = "repetition-2"  # 2: blocks limited by characters, rotating-word copies, cycle clustering fixed

MAX_PERIOD_CHARS = 4000  # characters per repeated block (any number of sentence units)
MAX_TOKEN_PERIOD_CHARS = 400  # ... for expressions repeated inside one long unit (word tokens)
MIN_COPIES = 3
MIN_BLOCK_ALNUM = 30     # letters/digits a block needs to count with 3 copies (a real sentence)
MID_BLOCK_ALNUM = 8      # blocks with 8-29 need 4 copies (an inline expression)
SHORT_BLOCK_COPIES = 5   # blocks with fewer letters/digits (>= 4) need 5 copies
LONG_UNIT = 400
LOOSE_KEY = 16           # characters of a unit's start / end that must agree for a one-word variant
CYCLE_MIN_COPIES = 5     # near-verbatim steps: a formula restated per option (2-4 times) is not a loop
CYCLE_SIMILARITY = 0.8
_TOKEN = re.compile(r"\S+")
_ALNUM = re.compile(r"[^\W_]")
_NORM = re.compile(r"[\W_]+")
_LATEX = re.compile(r"\\[A-Za-z]+")
_CHAR_LOOP = re.compile(r"(.{2,120}?)\1{2,}", re.S)   # only run on long units with few spaces
_FILLER = re.compile(r"^(?:(?:alternatively|perhaps|maybe|wait|but|so|hmm|well|okay|ok|again|actually|now|then|"
                     r"let me|i think|or|and|also|still|hold on|no)\s+)+")
_ENDS = ".!?。！？\n"                     # a unit ends after one of these
_FILLER_LINES = re.compile(_FILLER.pattern.replace(r"\s+", "[ ]+"), re.M)  # on folded keys, one per line
_SEP = "\U0001E950"  # ADLAM DIGIT ZERO: a word character without case that traces do not use (checked)
# _NORM.sub(" ", text.lower()) for ASCII text: letters lowercased, digits kept, everything else (and "_") a space
_ASCII_FOLD = bytes(b if chr(b).isalnum() and b < 128 else 0 if b == 0 else 32 for b in range(256)).lower()
_SPACES = re.compile(rb" {2,}")
_CUT = re.compile(f"(?<=[{_ENDS}])")   # the definition of the cut (split after each end); _cut is the fast form
_UNIT = re.compile(f"[^{_ENDS}]*[{_ENDS}]|[^{_ENDS}]+")
_HEAD, _TAIL = itemgetter(slice(0, LOOSE_KEY)), itemgetter(slice(-LOOSE_KEY, None))
# a closing quote or bracket of the previous sentence, a list bullet: not part of a unit
_LEAD = " \t\r\n\f\v\"'“”‘’)]}*»-•#"


def _seeds(cols: list[list[str]], min_len: int) -> dict[int, list[int]]:
    """{period d: [i, ...]} where some key of a column occurs at i, i + d and i + 2d (a loop's footprint)."""
    seeds: dict[int, list[int]] = {}
    for col in cols:
        rep = {k for k, c in Counter(col).items() if c >= MIN_COPIES and len(k) >= min_len}
        if not rep:
            continue
        where: dict[str, list[int]] = {}
        for i in [i for i, k in enumerate(col) if k in rep]:
            where.setdefault(col[i], []).append(i)
        for xs in where.values():
            at = set(xs)
            for j, x in enumerate(xs[:-2]):
                for y in xs[j + 1:j + 5]:  # the next few occurrences propose the period
                    if x + 2 * (y - x) in at:
                        seeds.setdefault(y - x, []).append(x)
    return seeds


def _cut(text: str) -> list[str]:
    """`_CUT.split(text)`, twice as fast: a zero-width split tries the lookbehind at every character,
    while matching whole units runs in the regex engine's tight character-class loop."""
    parts = _UNIT.findall(text)
    if not text or text[-1] in _ENDS:
        parts.append("")   # split() ends with the empty piece after a final cut
    return parts


def _units(text: str) -> tuple[list[int], list[int], list[str], dict[int, list[int]]]:
    """Units (sentences / lines) with offsets, and loop seeds (_seeds) from the units and from their
    first and last LOOSE_KEY characters. Only long units (searched inside) when there is no seed (the
    common case)."""
    all_parts = _cut(text)
    all_keys = [p.lstrip(_LEAD).rstrip() for p in all_parts]
    idx = [i for i, k in enumerate(all_keys) if k]
    keys = [all_keys[i] for i in idx]
    # a unit repeated verbatim repeats its first and last characters too; one changed word keeps one of them
    seeds = _seeds([list(map(_HEAD, keys)), list(map(_TAIL, keys))], 6)
    if seeds:
        pick: Sequence[int] = range(len(keys))
    else:
        pick = [i for i, k in enumerate(keys) if len(k) >= 100]  # only long units are searched inside
        if not pick:
            return [], [], [], seeds
    ends_all = list(accumulate(map(len, all_parts)))
    starts, ends, out = [], [], []
    for i in pick:
        part = all_parts[idx[i]]
        a = ends_all[idx[i]] - len(part.lstrip(_LEAD))
        starts.append(a)
        ends.append(a + len(keys[i]))
        out.append(keys[i])
    return starts, ends, out, seeds


def _one_word_apart(a: str, b: str) -> bool:
    """Same words but one, and that one is a word (not a number or a one-letter label)."""
    ta, tb = a.split(), b.split()
    if len(ta) != len(tb) or len(ta) < 4:
        return False
    diff = [(x, y) for x, y in zip(ta, tb) if x != y]
    if len(diff) != 1:
        return False
    x, y = (w.strip(".,;:!?()[]\"'") for w in diff[0])
    return len(x) > 1 and len(y) > 1 and x.isalpha() and y.isalpha()


def _partial_copy(rest: str, block: str) -> bool:
    """Is `rest` the start of a copy of `block` with at most one word changed (a rotating loop cut off)?"""
    tr, tb = rest.split(), block.split()
    return len(tr) <= len(tb) and sum(x != y for x, y in zip(tr[:-1], tb)) <= 1


def _tandem(keys: list[str], starts: list[int], max_chars: int, seeds: dict[int, list[int]],
            loose: bool) -> list[tuple[int, int, int, bool]]:
    """(first unit, period in units, copies, near_verbatim) of maximal tandem repeats (>= MIN_COPIES copies),
    grown from each seed in both directions while unit k matches unit k + period."""
    n = len(keys)

    def same(k: int, d: int) -> bool:
        x, y = keys[k], keys[k + d]
        return x == y or (loose and (x[:LOOSE_KEY] == y[:LOOSE_KEY] or x[-LOOSE_KEY:] == y[-LOOSE_KEY:])
                          and _one_word_apart(x, y))

    found: list[tuple[int, int, int, bool]] = []
    for d in sorted(seeds):
        if 3 * d > n:
            continue
        reached = -1
        for x in sorted(seeds[d]):
            if x < reached or x + 2 * d >= n:
                continue
            s, e = x, x
            while s > 0 and same(s - 1, d):
                s -= 1
            while e + d < n and same(e, d):
                e += 1
            reached = e
            if e - s < 2 * d or starts[s + d] - starts[s] > max_chars:
                continue
            copies = (e - s) // d + 1
            near = any(keys[k] != keys[k + d] for k in range(s, s + (copies - 1) * d))
            if near:
                variants = {tuple(keys[s + c * d:s + (c + 1) * d]) for c in range(copies)}
                if len(variants) > copies // 2 + 1:
                    continue  # every copy different: an enumeration, not a loop
            found.append((s, d, copies, near))
    # keep the longest cover first, then the smaller period; drop overlaps
    found.sort(key=lambda f: (-(f[1] * f[2]), f[1], f[0]))
    chosen: list[tuple[int, int, int, bool]] = []
    for s, d, c, near in found:
        e = s + d * c
        if all(e <= s2 or s >= s2 + d2 * c2 for s2, d2, c2, _ in chosen):
            chosen.append((s, d, c, near))
    return sorted(chosen)


def _enough(alnum: int, copies: int) -> bool:
    """Does a block with this much content, repeated this often, count as a loop?"""
    if alnum >= MIN_BLOCK_ALNUM:
        return copies >= MIN_COPIES
    if alnum >= MID_BLOCK_ALNUM:
        return copies >= 4
    return alnum >= 4 and copies >= SHORT_BLOCK_COPIES


def _loops(starts: list[int], ends: list[int], keys: list[str], *, max_chars: int, seeds: dict[int, list[int]],
           loose: bool, min_units: int = 1) -> list[tuple[int, int, int, int, int, bool]]:
    """(char_start, char_end, period_chars, copies, period_units, near_verbatim) of tandem repeats of
    content-carrying blocks in a sequence of units (sentences/lines, or tokens inside one long unit)."""
    if len(keys) < MIN_COPIES or not seeds:
        return []
    out = []
    for i, p, copies, near in _tandem(keys, starts, max_chars, seeds, loose):
        alnum = sum(len(_ALNUM.findall(k)) for k in keys[i:i + p])
        if p * copies < min_units or not _enough(alnum, copies):
            continue
        a, b = starts[i], ends[i + p * copies - 1]
        period_chars = starts[i + p] - starts[i]
        out.append((a, b, period_chars, copies, p, near))
    return out


def detect(response: str, *, question: str | None = None, steps: Sequence[Step] = (),
           has_image: bool = False) -> list[Finding]:
    """Loops in `response`: tandem repeats (verbatim or rotating one word) and near-verbatim cycles of steps."""
    if not response or len(response) < 40:
        return []
    starts, ends, keys, seeds = _units(response)
    loops: list[tuple[int, int, int, int, int | None, bool]] = list(
        _loops(starts, ends, keys, max_chars=MAX_PERIOD_CHARS, seeds=seeds, loose=True))
    for s, e, k in zip(starts, ends, keys):
        found: list[tuple[int, int, int, int, int | None, bool]] = []
        if len(k) >= LONG_UNIT:  # an expression repeated with no sentence break inside one unit
            ts, te, tk = [], [], []
            for m in _TOKEN.finditer(response, s, e):
                ts.append(m.start())
                te.append(m.end())
                tk.append(m.group(0))
            found += _loops(ts, te, tk, max_chars=MAX_TOKEN_PERIOD_CHARS, loose=False, min_units=6,
                            seeds=_seeds([tk], 1))
        if len(k) >= 100 and k.count(" ") < len(k) / 20:  # no spaces to cut at (CJK, symbol runs)
            found += _char_loops(response, s, e)
        for loop in found:
            if not any(x <= loop[0] < y for x, y, *_ in loops):
                loops.append(loop)
    findings = []
    tail = len(response.rstrip())
    for a, b, period_chars, copies, period_units, near in sorted(loops):
        rest = response[b:tail].strip()
        block = response[a:a + period_chars].strip()
        ran_to_end = not rest or (len(rest) < len(block)
                                  and (block.startswith(rest) or (near and _partial_copy(rest, block))))
        wasted = period_chars * (copies - 1)
        findings.append(Finding(
            NAME, "runaway" if ran_to_end else "loop", round(min(1.0, wasted / max(1, len(response))), 4),
            a, b, step_at(steps, a), _excerpt(block),
            {"period_chars": period_chars, "period_units": period_units, "copies": copies,
             "chars_wasted": wasted, "ran_to_end": ran_to_end, "near_verbatim": near}))
    findings += _cycles(response, steps, [(a, b) for a, b, *_ in sorted(loops)])   # the loops' spans
    return findings


def _char_loops(text: str, s: int, e: int) -> list[tuple[int, int, int, int, None, bool]]:
    out = []
    for m in _CHAR_LOOP.finditer(text, s, e):
        block = m.group(1)
        copies = (m.end() - m.start()) // len(block)
        alnum = len(_ALNUM.findall(block))
        if alnum < 2 or (alnum < MID_BLOCK_ALNUM and copies < SHORT_BLOCK_COPIES) or m.end() - m.start() < 30:
            continue
        out.append((m.start(), m.end(), len(block), copies, None, False))
    return out


def _similar(a: str, b: str) -> bool:
    if a == b:
        return True
    wa, wb = set(a.split()), set(b.split())
    if len(wa & wb) < CYCLE_SIMILARITY * max(len(wa), len(wb)) - 2:  # cheap: too few shared words
        return False
    sm = difflib.SequenceMatcher(None, a, b)
    return sm.real_quick_ratio() >= CYCLE_SIMILARITY and sm.quick_ratio() >= CYCLE_SIMILARITY and \
        sm.ratio() >= CYCLE_SIMILARITY


def _key(head: str) -> str:
    """A step's cycle key: its opening, lowercased, punctuation folded, leading filler dropped, 30 characters."""
    return _FILLER.sub("", _NORM.sub(" ", head.lower()).strip())[:30]


def _keys(heads: list[str]) -> list[str]:
    """[_key(h) for h in heads] with three regex calls in all instead of two per step: the heads are
    joined by a word character (_NORM keeps it, so no fold runs across two heads) and, once folded
    (no whitespace left but single spaces), by line breaks for the multi-line form of _FILLER."""
    if len(heads) < CYCLE_MIN_COPIES:
        return [_key(h) for h in heads]
    joined = "\x00".join(heads)
    if joined.isascii() and joined.count("\x00") == len(heads) - 1:
        # ASCII: lowercase and fold in one bytes.translate (letters and digits kept, NUL kept as the separator)
        folded_b = _SPACES.sub(b" ", joined.encode("ascii").translate(_ASCII_FOLD))
        folded = [f.strip(b" ").decode("ascii") for f in folded_b.split(b"\x00")]
    elif any(_SEP in h for h in heads):
        return [_key(h) for h in heads]
    else:
        folded = [f.strip() for f in _NORM.sub(" ", _SEP.join(heads).lower()).split(_SEP)]
    return [k[:30] for k in _FILLER_LINES.sub("", "\n".join(folded)).split("\n")]


def _cycles(response: str, steps: Sequence[Step], covered: list[tuple[int, int]]) -> list[Finding]:
    """Steps that come back near-verbatim CYCLE_MIN_COPIES+ times (not necessarily back to back)."""
    if len(steps) < CYCLE_MIN_COPIES:
        return []
    groups: dict[str, list[Step]] = {}
    members: list[Step] = []
    heads: list[str] = []
    for s in steps:
        if s.char_end - s.char_start < 60 or (covered and any(x <= s.char_start < y for x, y in covered)):
            continue
        head = response[s.char_start:s.char_start + 70]
        if head.startswith(("- ", "* ", "| ")):  # list items and table rows: per-option recomputation
            continue
        members.append(s)
        heads.append(head)
    for s, key in zip(members, _keys(heads)):
        groups.setdefault(key, []).append(s)
    out = []
    for key, members in groups.items():
        if len(members) < CYCLE_MIN_COPIES or len(key) < 20:
            continue
        prose: list[tuple[Step, str]] = []
        for s in members:
            raw = response[s.char_start:s.char_end]
            compact = "".join(_LATEX.sub("", raw).split())  # LaTeX commands are not prose
            if sum(c.isalpha() for c in compact) < 0.6 * max(1, len(compact)):  # formulas, matrices, numbers
                continue
            prose.append((s, _FILLER.sub("", _NORM.sub(" ", raw.lower()).strip())))
        clusters: list[list[tuple[Step, str]]] = []
        for m in prose:  # a member joins the first cluster whose first or one of its 4 latest steps it resembles
            home = next((c for c in clusters if any(_similar(x[1], m[1]) for x in c[:1] + c[-4:])), None)
            if home is None:
                clusters.append([m])
            else:
                home.append(m)
        for same in clusters:
            if len(same) < CYCLE_MIN_COPIES:
                continue
            a, b = same[0][0].char_start, same[-1][0].char_end
            period = same[0][0].char_end - same[0][0].char_start
            wasted = sum(m[0].char_end - m[0].char_start for m in same[1:])
            rest = response[b:].strip()
            out.append(Finding(NAME, "cycle", round(min(1.0, wasted / max(1, len(response))), 4), a, b,
                               same[0][0].index, _excerpt(response[a:a + period]),
                               {"period_chars": period, "period_units": None, "copies": len(same),
                                "chars_wasted": wasted, "ran_to_end": not rest, "near_verbatim": True,
                                "steps": [m[0].index for m in same]}))
    out.sort(key=lambda f: f.char_start or 0)   # every cycle has a span
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
