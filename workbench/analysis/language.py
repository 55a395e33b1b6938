"""Language-mixing detector: text in another language than the trace's main language.

Script first: characters of non-Latin scripts (Han, kana, hangul, Cyrillic, Greek is NOT among
them, Arabic, Hebrew, Thai, Devanagari) are found with one compiled character class (C speed,
O(n)); runs of them (allowing spaces, digits and punctuation inside) are spans. A language
identifier (langdetect, seeded) is consulted only for Latin-script paragraphs that look
non-English (almost no English function words), and only accepted when the language's own
function words are present too.

Not flagged: math symbols and Greek letters, accented Latin names (Schrödinger, Erdős), loanwords
inside English sentences (a priori, et al.), and text that also appears in the question.

Severity: `word` (a few characters or words inside an English sentence), `sentence` (a clause or
sentence), `drift` (the trace switches language and stays there: consecutive paragraphs written
mostly in the other language, or the rest of the trace). Score: the share of the step's letters
(drift: of the trace's letters) in the other language, 0..1, higher is worse.
"""

from __future__ import annotations

import re
from typing import Sequence

from workbench.analysis.base import Step, step_at
from workbench.analysis.steps import paragraphs
from workbench.analysis.registry import DetectorSpec, Measure, Severity
from workbench.records import Finding

NAME = "language_mixing"
VERSION = "language-1"

_SCRIPTS = {
    "han": "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff",
    "kana": "\u3040-\u30ff\u31f0-\u31ff",
    "hangul": "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f",
    "cyrillic": "\u0400-\u04ff",
    "arabic": "\u0600-\u06ff\u0750-\u077f",
    "hebrew": "\u05d0-\u05ea\u05f0-\u05f4",
    "thai": "\u0e01-\u0e5b",
    "devanagari": "\u0900-\u097f",
}
_ALL = "".join(_SCRIPTS.values())
_ANY = re.compile(f"[{_ALL}]")
_GAP = r"[\s\d\u3000-\u303f\uff00-\uffef,.:;!?()\"'\-·…]*"
_RUN = re.compile(f"[{_ALL}]+(?:{_GAP}[{_ALL}]+)*")
_SCRIPT_RE = {name: re.compile(f"[{chars}]") for name, chars in _SCRIPTS.items()}
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
_LANG_OF_SCRIPT = {"han": "zh", "kana": "ja", "hangul": "ko", "cyrillic": "ru", "arabic": "ar", "hebrew": "he",
                   "thai": "th", "devanagari": "hi"}
_MIN_CHARS = {"han": 1, "kana": 1, "hangul": 1, "thai": 2, "cyrillic": 2, "arabic": 2, "hebrew": 2,
              "devanagari": 2}
_SENTENCE_PUNCT = "。！？；"
MERGE_GAP = 30
MAX_FINDINGS = 100

_EN_STOP = (" the ", " and ", " is ", " of ", " to ", " that ", " it ", " in ", " this ", " we ", " for ")
_FOREIGN_STOP = {
    "fr": {"le", "la", "les", "des", "est", "et", "une", "que", "pour", "dans", "nous", "du"},
    "es": {"el", "la", "los", "las", "es", "y", "que", "una", "por", "para", "con", "del"},
    "de": {"der", "die", "das", "und", "ist", "nicht", "ein", "eine", "mit", "zu", "den", "wir"},
    "it": {"il", "la", "che", "di", "una", "per", "sono", "non", "con", "del", "gli"},
    "pt": {"o", "os", "que", "uma", "não", "para", "com", "do", "da", "em", "é"},
    "nl": {"de", "het", "een", "en", "is", "niet", "van", "dat", "met", "voor"},
}


def _script_of(text: str) -> str:
    counts = {name: len(rx.findall(text)) for name, rx in _SCRIPT_RE.items()}
    if counts["kana"]:
        return "kana"
    return max(counts, key=counts.get)


def _foreign_share(text: str) -> float:
    foreign = len(_ANY.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    return foreign / (foreign + latin) if foreign + latin else 0.0


def _quoted(span: str, question: str | None) -> bool:
    if not question:
        return False
    core = "".join(_ANY.findall(span))
    return bool(core) and (span.strip() in question or core in "".join(_ANY.findall(question)))


_ACCENTED = re.compile(r"[\u00e0-\u00ff\u00df]")


def _latin_language(text: str) -> tuple[str, float] | None:
    """A non-English language for a Latin-script paragraph, or None (cheap checks first)."""
    n_words = text.count(" ") + 1
    if n_words < 8:
        return None
    padded = " " + text.lower() + " "
    stop_ratio = sum(padded.count(w) for w in _EN_STOP) / n_words
    if stop_ratio >= 0.04 or (stop_ratio >= 0.015 and not _ACCENTED.search(text)):
        return None
    words = text.split()
    lowered = {w.strip(".,;:!?()\"'").lower() for w in words}
    best = max(_FOREIGN_STOP, key=lambda k: len(lowered & _FOREIGN_STOP[k]))
    if len(lowered & _FOREIGN_STOP[best]) < 3:
        return None
    if len(_LATIN_LETTER.findall(text)) < 0.7 * len(text.replace(" ", "")):
        return None  # formulas, tables, numbers
    from langdetect import DetectorFactory, detect_langs
    DetectorFactory.seed = 0
    try:
        top = detect_langs(text)[0]
    except Exception:  # langdetect raises on text without features
        return None
    if top.lang != "en" and top.prob >= 0.9 and top.lang == best:
        return top.lang, top.prob
    return None


_GLOSS_AFTER = re.compile(r"['\"’”]?\s*\(\s*[A-Za-z\u00c0-\u024f'ʿʾ\- ]+")
_OPEN = "'\"‘“(«"


def _is_mention(text: str, a: int, b: int) -> bool:
    """A foreign word talked about, not written in: quoted, in parentheses, or glossed "(kitāb)"."""
    before = text[max(0, a - 2):a].strip()
    if before and before[-1] in _OPEN:
        return True
    return _GLOSS_AFTER.match(text, b) is not None


def _main_is_foreign(question: str | None) -> bool:
    return bool(question) and _foreign_share(question) > 0.5


def detect(response: str, *, question: str | None = None, steps: Sequence[Step] = (),
           has_image: bool = False) -> list[Finding]:
    """Spans of `response` in another language than the trace's (English) main language."""
    if not response or _main_is_foreign(question):
        return []
    has_script = _ANY.search(response) is not None
    paras = paragraphs(response)
    findings: list[Finding] = []

    drift_ranges: list[tuple[int, int]] = []
    if has_script:
        dominated = [(a, b) for a, b in paras if _ANY.search(response, a, b) and _foreign_share(response[a:b]) >= 0.5
                     and not _quoted(response[a:b], question)]
        drift_ranges = _drift_regions(dominated, paras, response)
    total_letters = 1
    if drift_ranges:
        total_letters = len(_ANY.findall(response)) + len(_LATIN_LETTER.findall(response)) or 1
    for a, b in drift_ranges:
        share = len(_ANY.findall(response, a, b)) / total_letters
        script = _script_of(response[a:b])
        findings.append(Finding(NAME, "drift", round(min(1.0, share), 4), a, b, step_at(steps, a),
                                _excerpt(response, a, b),
                                {"script": script, "language": _LANG_OF_SCRIPT[script], "chars": b - a,
                                 "trace_share": round(share, 4)}))

    spans: list[list[int]] = []
    if has_script:
        for m in _RUN.finditer(response):
            a, b = m.start(), m.end()
            if any(x <= a < y for x, y in drift_ranges):
                continue
            text = m.group(0)
            script = _script_of(text)
            if len(_SCRIPT_RE[script].findall(text)) < _MIN_CHARS[script] or _quoted(text, question):
                continue
            if script not in ("han", "kana") and _is_mention(response, a, b):
                continue
            if spans and a - spans[-1][1] <= MERGE_GAP and spans[-1][2] == script:
                spans[-1][1] = b
            else:
                spans.append([a, b, script])
    for a, b, script in spans[:MAX_FINDINGS]:
        text = response[a:b]
        n_foreign = len(_ANY.findall(text))
        sentence = n_foreign >= 12 or any(p in text for p in _SENTENCE_PUNCT) or (
            script not in ("han", "kana") and len(text.split()) >= 4)
        idx = step_at(steps, a)
        step_text = response[steps[idx].char_start:steps[idx].char_end] if idx is not None else text
        findings.append(Finding(NAME, "sentence" if sentence else "word",
                                round(min(1.0, _foreign_share(step_text)), 4), a, b, idx, _excerpt(response, a, b),
                                {"script": script, "language": _LANG_OF_SCRIPT[script], "chars": b - a}))

    for a, b in paras:  # Latin-script paragraphs in another language (rare; checked cheaply)
        if b - a < 60 or any(x <= a < y for x, y in drift_ranges):
            continue
        text = response[a:b]
        lang = _latin_language(text)
        if lang and not (question and text.strip() in question):
            findings.append(Finding(NAME, "sentence", 1.0, a, b, step_at(steps, a), _excerpt(response, a, b),
                                    {"script": "latin", "language": lang[0], "confidence": round(lang[1], 3),
                                     "chars": b - a}))
    findings.sort(key=lambda f: f.char_start or 0)
    if findings:
        total_letters = len(_ANY.findall(response)) + len(_LATIN_LETTER.findall(response)) or 1
        share = round(len(_ANY.findall(response)) / total_letters, 4)
        for f in findings:
            f.details.setdefault("trace_share", share)
    return findings


def _drift_regions(dominated: list[tuple[int, int]], paras: list[tuple[int, int]],
                   response: str) -> list[tuple[int, int]]:
    """Runs of consecutive foreign-dominated paragraphs that are long or reach the end."""
    if not dominated:
        return []
    index = {p: i for i, p in enumerate(paras)}
    runs: list[list[int]] = []
    for p in dominated:
        i = index[p]
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    out = []
    last_content = len(paras) - 1
    while last_content > 0 and not _ANY.search(response, *paras[last_content]) and \
            len(_LATIN_LETTER.findall(response, *paras[last_content])) < 30:
        last_content -= 1  # the final-answer block (e.g. a boxed letter) does not end a drift
    for i, j in runs:
        a, b = paras[i][0], paras[j][1]
        if (j > i or j >= last_content) and len(_ANY.findall(response, a, b)) >= 20:
            out.append((a, b))
    return out


def _excerpt(text: str, a: int, b: int, width: int = 80) -> str:
    s = text[a:b]
    return s if len(s) <= width else s[: width - 1] + "…"


SPEC = DetectorSpec(
    name=NAME, version=VERSION, label="language mixing", colour="#f29900", css_class="wb-mix",
    description="Text in another language than the trace's main language.",
    severities=(
        Severity("word", "word", "#fbbc04", "a few characters or words inside a sentence"),
        Severity("sentence", "sentence", "#f29900", "a clause or a whole sentence"),
        Severity("drift", "drift", "#e8710a", "the trace switches language and stays there"),
    ),
    measures=(Measure("chars", "chars", "int"), Measure("trace_share", "share of trace", "share")),
    detect=detect)
