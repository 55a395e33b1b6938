"""Grading by the benchmark's rules: what kind of question it is, what an answer means, whether it is right.

Re-implements the rules of the benchmarks' published scorers (read, not copied):
- Multiple choice (MMMU / MMMU-Pro `parse_multi_choice_response`, VLMEvalKit `can_infer`, MathVista
  `normalize_extracted_answer`): a bare letter, "(B)", "B.", "Answer: B", "the answer is option C",
  `\\boxed{B}`; else the option's text or value ("660" for "$660"), or an answer containing exactly one
  option's text; else exactly one option letter standing alone near the end; MathVista maps any other
  short answer to the most similar choice (edit distance). Graded by letter.
- Numbers (MathVista precision, MMMU `normalize_str` rounding, MATH-V value match): units, "$", "%",
  thousands separators, `\\frac{a}{b}` and a/b are read as values; a question asking for a precision
  ("two decimal places", "nearest tenth", "integer", MathVista `precision`) compares after rounding to it;
  otherwise equal at the ground truth's own decimals, or within 1% when the ground truth has decimals.
- Free text (MMMU `eval_open`): lower-cased, punctuation and articles folded; equal, or the ground truth
  appears as whole words in a short answer.
Options come from the sample's metadata (VLMEvalKit columns A..J, MMMU `index2ans`, MathVista `choices`,
MMMU-Pro / MATH-V `options`) or from the question text (lines "A. ...", "(A) ...", "Options: A: .., B: ..").
No answer found for a sample with a ground truth grades as wrong (the benchmarks count it wrong or guess).
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

LETTERS = "ABCDEFGHIJ"
OPTIONS_WINDOW = 4000   # options are read from the end of the question (a passage may come first)
MC, NUMERIC, FREE = "multiple_choice", "numeric", "free_text"

# Option lines in a question: "A. text", "(A) text", "A) text", "A: text" at a line start.
_OPTION_LINE = re.compile(r"^[ \t]*\(?([A-J])(?:\)|\.|:|：|\)\.)[ \t]+(\S[^\n]*)$", re.M)
# Inline options after a keyword: "Options: A: x, B: y" / "Choices: (A) x (B) y".
_INLINE_START = re.compile(r"(?:options?|choices?)\s*[:：]?\s*(?=\(?A[.:)：])", re.I)
_INLINE_MARK = re.compile(r"(?:^|[\s,;(])\(?([A-J])[.:)：]\s*")
_LATEX_WRAP = re.compile(r"\\(?:text|mathrm|textbf|mathbf|operatorname|textit|mbox)\s*\{([^{}]*)\}")
_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|-?\.\d+")
_FRAC = re.compile(r"(-?)\\[dt]?frac\s*\{\s*(-?[\d.]+)\s*\}\s*\{\s*(-?[\d.]+)\s*\}")
_SLASH = re.compile(r"^(-?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)$")
_PLAIN = re.compile(r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?$")
# A number followed by a unit: "%", "°", "cm", "m/s", "m^2", "km/h", "dollars" (no digits but exponents).
_UNIT_TAIL = re.compile(r"^([-+]?[\d.,]+(?:[eE][-+]?\d+)?)\s*(%|°[CFK]?|[^\W\d_]{1,12}\.?"
                        r"(?:\s?[/^·*]\s?[^\W_]{1,8})*[²³]?)$")
_BOXED = "\\boxed{"
_BARE = re.compile(r"^\(?\s*([A-J])\s*\)?[.:]?$")
_PAREN = re.compile(r"\(([A-J])\)")
_BARE_LOWER = re.compile(r"^\(?([a-j])\)?$")
_LEAD = re.compile(r"^\(?([A-J])(?:\)|\.|:|：)(?:\s|$)")
_STATED = re.compile(r"(?:answer|option|choice)\s*(?:is|would be|should be|must be|[:：])?\s*[:：]?\s*"
                     r"(?:option\s*|choice\s*)?\(?\**([A-J])\**\)?(?![A-Za-z0-9])", re.I)
_ZH_STATED = re.compile(r"(?:答案|选项|选择|选)\s*(?:是|为|：|:)?\s*\(?([A-J])\)?")
_WORDS = re.compile(r"[^\w%.]+")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PRECISION_WORDS = (
    (re.compile(r"\b(?:three|3) decimal|nearest thousandth", re.I), 3),
    (re.compile(r"\b(?:two|2) decimal|nearest hundredth|two significant decimal", re.I), 2),
    (re.compile(r"\b(?:one|1) decimal|nearest tenth", re.I), 1),
    (re.compile(r"requiring an integer|nearest (?:whole|integer)|\bas an integer|whole number", re.I), 0),
)


@dataclass(frozen=True)
class Question:
    """What grading needs to know about one sample's question.

    `kind`: multiple_choice | numeric | free_text. `truths`: accepted answers (letters for multiple
    choice). `options`: letter -> option text (empty when only the letters are known).
    `precision`: decimals the question asks for (None: not asked). `rule`: the benchmark family whose
    quirks apply (mathvista | mmmu | generic)."""
    kind: str
    truths: tuple[str, ...]
    options: dict[str, str] = field(default_factory=dict)
    precision: int | None = None
    rule: str = "generic"


# ---------------------------------------------------------------- question ----------------------------

@lru_cache(maxsize=256)
def benchmark_rule(benchmark: str | None) -> str:
    b = re.sub(r"[^a-z]", "", (benchmark or "").lower())
    if "mathvista" in b:
        return "mathvista"
    if b.startswith("mmmu"):
        return "mmmu"
    return "generic"


def question_spec(question: str | None, ground_truth: str | None, metadata: Any = None,
                  benchmark: str | None = None) -> Question | None:
    """The grading spec of a sample, or None when it has no ground truth."""
    return _question_spec(question or "", ground_truth if ground_truth is None else str(ground_truth),
                          metadata if metadata is None or isinstance(metadata, str) else
                          json.dumps(metadata, sort_keys=True, default=str), benchmark)


@lru_cache(maxsize=64)
def _question_spec(question: str, ground_truth: str | None, metadata: str | None,
                   benchmark: str | None) -> Question | None:
    if ground_truth is None or not ground_truth.strip():
        return None
    meta = _meta_dict(metadata)
    rule = benchmark_rule(benchmark)
    options = options_from_metadata(meta) or parse_options(question)
    truths = _truth_list(ground_truth)
    qtype = str(meta.get("question_type") or "").lower()
    declared_mc = qtype in ("multi_choice", "multiple-choice", "multiple_choice", "mc")
    declared_open = qtype in ("free_form", "open", "free-form", "open-ended")
    letters = _truth_letters(truths, options)
    if letters and not declared_open:
        return Question(MC, letters, options, None, rule)
    if declared_mc and options:   # MathVista: the truth is an option's text we could not map exactly
        return Question(MC, tuple(_nearest_option(t, options) for t in truths), options, None, rule)
    if all(_values(t) for t in truths):
        return Question(NUMERIC, truths, {}, _precision(meta, question), rule)
    return Question(FREE, truths, {}, None, rule)


def _meta_dict(metadata: str | None) -> dict[str, Any]:
    if not metadata:
        return {}
    try:
        meta = json.loads(metadata)
    except ValueError:
        return {}
    if not isinstance(meta, dict):
        return {}
    for inner in ("metadata", "doc"):   # MathVista keeps its fields one level down; lmms-eval's doc
        if isinstance(meta.get(inner), dict):
            meta = {**meta[inner], **meta}
    return meta


def _as_list(v: Any) -> list | None:
    if isinstance(v, (list, tuple)):
        return list(v)
    if isinstance(v, str) and v.strip().startswith("[") and v.strip().endswith("]"):
        try:
            out = ast.literal_eval(v.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
        return list(out) if isinstance(out, (list, tuple)) else None
    return None


def options_from_metadata(meta: dict[str, Any]) -> dict[str, str]:
    """letter -> text from the option fields benchmarks' result files carry."""
    i2a = meta.get("index2ans")
    if isinstance(i2a, str):
        try:
            i2a = ast.literal_eval(i2a)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            i2a = None
    if isinstance(i2a, dict) and i2a:
        return {str(k).strip(): str(v) for k, v in i2a.items() if str(k).strip() in LETTERS}
    for key in ("options", "choices"):
        items = _as_list(meta.get(key))
        if items and len(items) <= len(LETTERS):
            return {LETTERS[i]: str(v) for i, v in enumerate(items)}
    if _usable(meta.get("A")) and _usable(meta.get("B")):   # VLMEvalKit option columns
        out = {}
        for letter in LETTERS:
            if not _usable(meta.get(letter)):
                break
            out[letter] = str(meta[letter])
        return out
    return {}


def _usable(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and v != v) and str(v).strip() not in ("", "nan", "None")


def parse_options(question: str) -> dict[str, str]:
    """Options written in the question: consecutive letters from A, one per line or inline after
    "Options:" / "Choices:". The last run of option lines wins (examples may come first)."""
    if not question or ("A" not in question):
        return {}
    runs: list[dict[str, str]] = []
    for m in _OPTION_LINE.finditer(question, max(0, len(question) - OPTIONS_WINDOW)):
        letter, text = m.group(1), m.group(2).strip()
        if letter == "A":
            runs.append({"A": text})
        elif runs and LETTERS.index(letter) == len(runs[-1]):
            runs[-1][letter] = text
    runs = [r for r in runs if len(r) >= 2]
    if runs:
        return runs[-1]
    starts = list(_INLINE_START.finditer(question))
    if not starts:
        return {}
    start = starts[-1]   # the last inline option list is the one the question ends with
    tail = question[start.end():]
    marks = [m for m in _INLINE_MARK.finditer(tail)]
    out: dict[str, str] = {}
    pos = []
    for m in marks:
        if LETTERS.index(m.group(1)) == len(out):
            out[m.group(1)] = ""
            pos.append(m)
    for i, m in enumerate(pos):
        end = pos[i + 1].start() if i + 1 < len(pos) else len(tail)
        text = tail[m.end():end].strip().rstrip(",;").strip()
        if i + 1 == len(pos):
            text = text.split("\n")[0].strip()
        out[m.group(1)] = text
    return out if len(out) >= 2 else {}


def _truth_list(ground_truth: str) -> tuple[str, ...]:
    """Accepted answers: MMMU writes several as a list of strings ("['24/7', '3.429']"); a list of
    numbers (MathVista's list answers) is one answer."""
    items = _as_list(ground_truth)
    if items and all(isinstance(x, str) for x in items):
        return tuple(str(x).strip() for x in items if str(x).strip()) or (ground_truth.strip(),)
    return (ground_truth.strip(),)


def _truth_letters(truths: tuple[str, ...], options: dict[str, str]) -> tuple[str, ...]:
    """Letters of the truths when every truth is an option letter or an option's exact text."""
    out = []
    for t in truths:
        m = _BARE.match(t.strip())
        if m and (not options or m.group(1) in options):
            out.append(m.group(1))
            continue
        hit = [k for k, v in options.items() if _norm_text(v) == _norm_text(t)]
        if len(hit) != 1:
            return ()
        out.append(hit[0])
    return tuple(out)


def _precision(meta: dict[str, Any], question: str) -> int | None:
    if str(meta.get("answer_type") or "").lower() == "integer":
        return 0
    p = meta.get("precision")
    try:
        if p is not None and str(p).strip() not in ("", "None", "nan"):
            return int(float(p))
    except ValueError:
        pass
    tail = question[-400:]
    low = tail.lower()
    if not any(w in low for w in ("decimal", "nearest", "integer", "whole number")):
        return None
    for pattern, decimals in _PRECISION_WORDS:
        if pattern.search(tail):
            return decimals
    return None


# ---------------------------------------------------------------- answers -----------------------------

def clean(ans: str) -> str:
    """An answer without LaTeX wrappers, math delimiters, markdown emphasis and trailing punctuation."""
    s = ans.strip()
    if "\\" in s:
        if _BOXED in s:
            inner = boxed_contents(s)
            if inner:
                s = inner[-1][1]
        for _ in range(3):
            unwrapped = _LATEX_WRAP.sub(r"\1", s)
            if unwrapped == s:
                break
            s = unwrapped
        for a, b in _LATEX_REPLACE:
            if a in s:
                s = s.replace(a, b)
    if "**" in s:
        s = s.replace("**", "")
    if "~" in s:
        s = s.replace("~", " ")
    if "$" in s and (s.count("$") >= 2 or (s.startswith("$") and s.endswith("$"))) \
            and not re.fullmatch(r"\$\s*[\d.,]+", s):
        s = s.replace("$", "")
    return s.strip().strip(" .:;,。").strip()


_LATEX_REPLACE = (("\\%", "%"), ("\\,", ""), ("\\!", ""), ("\\ ", " "), ("\\$", "$"), ("\\(", ""),
                  ("\\)", ""), ("\\[", ""), ("\\]", ""), ("\\left", ""), ("\\right", ""), ("^\\circ", "°"),
                  ("^{\\circ}", "°"), ("\\circ", "°"), ("\\times", "×"), ("\\cdot", "·"))


def boxed_contents(text: str) -> list[tuple[int, str]]:
    """(offset, content) of every \\boxed{...}, balancing nested braces."""
    out: list[tuple[int, str]] = []
    start = 0
    while True:
        i = text.find(_BOXED, start)
        if i < 0:
            return out
        depth, j = 1, i + 7
        while j < len(text) and depth:
            c = text[j]
            depth += (c == "{") - (c == "}")
            j += 1
        if depth == 0:
            out.append((i, text[i + 7:j - 1]))
        start = i + 7


def _norm_text(s: str) -> str:
    s = clean(s).lower()
    s = _ARTICLES.sub(" ", s)
    return " ".join(w for w in _WORDS.split(s) if w).strip(". ")


def _values(s: str) -> list[float]:
    """The values a wholly numeric answer can mean ([] when it is not just a number, with an optional unit):
    "12%" -> [12, 0.12], "$1,000" -> [1000], "\\frac{1}{2}" -> [0.5], "3 cm" -> [3]."""
    s = clean(s).replace("−", "-").replace("$", "").strip()
    if not s or not any(c.isdigit() for c in s):
        return []
    if "=" in s:
        s = s.rsplit("=", 1)[1].strip()
    if "\\approx" in s or "≈" in s:
        s = re.split(r"\\approx|≈", s)[-1].strip()
    m = _FRAC.fullmatch(s)
    if m:
        try:
            q = float(m.group(3))
            return [(-1 if m.group(1) else 1) * float(m.group(2)) / q] if q else []
        except ValueError:
            return []
    m = _SLASH.match(s)
    if m:
        q = float(m.group(2))
        return [float(m.group(1)) / q] if q else []
    percent = False
    m = _UNIT_TAIL.match(s)
    if m and not _PLAIN.match(s):
        s, unit = m.group(1), m.group(2)
        percent = unit == "%"
    if not _PLAIN.match(s):
        return []
    try:
        v = float(s.replace(",", ""))
    except ValueError:
        return []
    return [v, v / 100] if percent else [v]


def _numbers(s: str) -> list[float]:
    s = s.replace("−", "-")
    out = []
    for m in _FRAC.finditer(s):
        try:
            q = float(m.group(3))
            if q:
                out.append(((-1 if m.group(1) else 1) * float(m.group(2)) / q, m.start()))
        except ValueError:
            pass
    for m in _NUMBER.finditer(s):
        with contextlib.suppress(ValueError):
            out.append((float(m.group(0).replace(",", "")), m.start()))
    return [v for v, _ in sorted(out, key=lambda x: x[1])]


def choose_option(text: str, q: Question) -> str | None:
    """The option letter a (short) answer names, or None."""
    letters = "".join(q.options) if q.options else LETTERS
    s = clean(text)
    if not s:
        return None
    m = _BARE.match(s) or _BARE_LOWER.match(s)   # MATH-V writes its extracted letters in lower case
    if m and m.group(1).upper() in letters:
        return m.group(1).upper()
    stated: list[str] = [x for x in _STATED.findall(s) + _ZH_STATED.findall(s) if x in letters]
    if stated:
        return stated[-1]
    parens: list[str] = [x for x in _PAREN.findall(s) if x in letters]   # MMMU: the last "(B)" mentioned
    if parens and (len(set(parens)) == 1 or len(s) > 40):
        return parens[-1]
    m = _LEAD.match(s)
    if m and m.group(1) in letters:
        return m.group(1)
    if q.options and q.rule == "mathvista":   # MathVista: the exact option text, else the most similar one
        exact = [k for k, v in q.options.items() if _norm_text(v) == _norm_text(s)]
        return exact[0] if len(exact) == 1 else _nearest_option(s, q.options)
    if q.options:
        hit = _match_option_text(s, q.options)
        if hit:
            return hit
    tokens = [t for t in re.split(r"[\s.()\[\],:;!*#{}]+", s) if t]
    found = [t for t in tokens if len(t) == 1 and t in letters]
    if len(set(found)) == 1 and (len(tokens) <= 3 or tokens.index(found[-1]) >= len(tokens) - 5) \
            and not (found[-1] == "A" and tokens.index("A") < len(tokens) - 1 and len(tokens) > 3):
        return found[-1]
    return None


def mmmu_choice(response: str, q: Question) -> str | None:
    """MMMU's reading of a whole response that states no answer: the last "(B)" in it, else the last
    " B " standing alone, else (over 5 words) the option whose text it mentions last; None when none
    (MMMU then guesses at random, which we do not: no answer is wrong)."""
    letters = "".join(q.options) if q.options else LETTERS
    text = " " + response.strip().strip(",.!?;:'") + " "
    best = max(((text.rfind(f"({c})"), c) for c in letters), default=(-1, ""))
    if best[0] >= 0:
        return best[1]
    best = max(((text.rfind(f" {c} "), c) for c in letters), default=(-1, ""))
    if best[0] >= 0:
        return best[1]
    if q.options and len(text.split()) > 5:
        low = text.lower()
        best = max(((low.rfind(v.lower()), k) for k, v in q.options.items() if v.strip()), default=(-1, ""))
        if best[0] >= 0:
            return best[1]
    return None


def _match_option_text(s: str, options: dict[str, str]) -> str | None:
    """The option whose text or value the answer states (exactly, or as the only option it contains)."""
    ns = _norm_text(s)
    exact = [k for k, v in options.items() if _norm_text(v) == ns]
    if len(exact) == 1:
        return exact[0]
    va = _values(s)
    if va:
        same = [k for k, v in options.items() if any(_close(a, b) for a in va for b in _values(v))]
        if len(same) == 1:
            return same[0]
    if len(ns) <= max(2 * sum(len(v) for v in options.values()) + 20, 400):
        inside = {k: _rfind_words(ns, _norm_text(v)) for k, v in options.items() if len(_norm_text(v)) >= 2}
        inside = {k: i for k, i in inside.items() if i >= 0}
        if inside:   # several: the one stated last (MMMU), unless a longer option contains the others
            longest = max(inside, key=lambda k: len(options[k]))
            if all(_norm_text(options[k]) in _norm_text(options[longest]) for k in inside):
                return longest
            return max(inside, key=lambda k: (inside[k], len(options[k])))
    return None


def _rfind_words(hay: str, needle: str) -> int:
    """Offset of the last whole-word occurrence of `needle` in `hay`, or -1."""
    i = hay.rfind(needle)
    while i >= 0:
        before = hay[i - 1] if i > 0 else " "
        after = hay[i + len(needle)] if i + len(needle) < len(hay) else " "
        if not before.isalnum() and not after.isalnum():
            return i
        i = hay.rfind(needle, 0, i)
    return -1


def _contains(hay: str, needle: str) -> bool:
    return _rfind_words(hay, needle) >= 0


def _nearest_option(s: str, options: dict[str, str]) -> str:
    """MathVista's fallback: the option with the smallest edit distance to the answer."""
    a = s.strip()
    return min(options, key=lambda k: (_edit_distance(a, str(options[k])), k))


def _edit_distance(a: str, b: str) -> int:
    a, b = a[:200], b[:200]
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _close(a: float, b: float, precision: int | None = None, rel: float | None = None) -> bool:
    if precision is not None:
        return bool(abs(round(a, precision) - round(b, precision)) < 10 ** (-precision) / 2)
    if rel is not None:
        return abs(a - b) <= max(1e-9, rel * abs(b))
    return abs(a - b) <= max(1e-9, 1e-6 * abs(b))


def interpret(answer: str | None, q: Question) -> str | None:
    """The answer as the grader reads it: an option letter, a number as written, or normalised text."""
    if answer is None or not str(answer).strip():
        return None
    if q.kind == MC:
        return choose_option(str(answer), q)
    s = clean(str(answer))
    if q.kind == NUMERIC:
        if _values(s):
            return s
        nums = _numbers(s)
        if not nums:
            return None
        return _fmt(nums[-1])
    return _norm_text(s) or None


def _fmt(v: float) -> str:
    return str(int(v)) if v.is_integer() else repr(v)


def is_correct(answer: str | None, q: Question) -> bool:
    """Whether an interpreted answer (see `interpret`) is right; a missing answer is wrong."""
    if answer is None:
        return False
    if q.kind == MC:
        return answer in q.truths
    if q.kind == NUMERIC:
        va = _values(answer) or _numbers(answer)[-1:]
        return any(_numeric_match(a, t, q.precision) for t in q.truths for a in va)
    na = answer if answer == _norm_text(answer) else _norm_text(answer)
    for t in q.truths:
        nt = _norm_text(t)
        if not nt:
            continue
        if na == nt or na.replace(" ", "") == nt.replace(" ", ""):
            return True
        if len(nt) >= 2 and len(na) <= 4 * len(nt) + 20 and _contains(na, nt):
            return True
        vt, va = _values(t), _values(answer)
        if vt and va and any(_close(a, b, rel=1e-2) for a in va for b in vt):
            return True
    return False


def _numeric_match(a: float, truth: str, precision: int | None) -> bool:
    """Equal after rounding to the precision the question asks for; else after rounding both to 2
    decimals (MMMU, MATH-V); values below 0.05 in size (where 2 decimals say nothing) within 1%."""
    for g in _values(truth):
        if precision is not None:
            if _close(a, g, precision):
                return True
        elif g != 0 and abs(g) < 0.05:
            if _close(a, g, rel=1e-2):
                return True
        elif _close(a, g, 2):
            return True
    return False


def same_answer(a: str, b: str, q: Question | None) -> bool:
    """Whether two answers, as `interpret` read them, say the same thing (letters, values within the
    grading tolerance, normalised text)."""
    if a == b:
        return True
    if q is not None and q.kind == MC:
        return False
    va, vb = _values(a), _values(b)
    if va and vb:
        return any(_close(x, y, q.precision if q and q.precision is not None else 2) for x in va for y in vb)
    return _norm_text(a) == _norm_text(b)


def grade(answer: str | None, ground_truth: str | None, *, question: str | None = None, metadata: Any = None,
          benchmark: str | None = None) -> bool | None:
    """Grade one answer by the benchmark's rules: True/False, None when there is no ground truth."""
    q = question_spec(question, ground_truth, metadata, benchmark)
    if q is None or answer is None:
        return None
    return is_correct(interpret(answer, q), q)
