"""Language-mixing detector: text in another language than the trace's main language.

Main language. The language the question is written in (scripts first; for Latin script, function
words, then a language identifier when they point away from English); when the question says too
little (an image placeholder, formulas), the language the trace starts in. A trace written in its
question's language is never flagged for that; German answers to German questions are fine.

Foreign text, found two ways:
- Script: characters of non-Latin scripts (Han, kana, hangul, Cyrillic, Arabic, Hebrew, Thai,
  Devanagari; Greek is NOT among them) that the main language does not use, found with one
  compiled character class (C speed); runs of them (allowing spaces, digits and punctuation inside)
  are spans.
- Latin-script sentences in another Latin-script language: a sentence with none of the main
  language's common words ("the", "is", "of", ... for English), at least two function words of
  one other language ("la", "est", "que"; "die", "ist"; "il", "che", "è" ...) and a language
  identifier (py3langid, restricted to English, French, Spanish, German, Portuguese, Italian and
  Dutch) naming that other language with probability >= LID_MIN_PROB. Only sentences passing the
  cheap checks reach the identifier (none in most traces), so its model is loaded lazily.

Not flagged: math symbols and Greek letters, accented Latin names (Schrödinger, Erdős), loanwords
and names inside English sentences (a priori, laissez-faire, Gemeinschaft), foreign words quoted or
glossed ("the word قَرَأَ (qara'a)"), text that also appears in the question.

One finding per continuous foreign region: spans of one language are merged when nothing but
spacing, formulas or other non-prose separates them (or they are closer than MERGE_GAP
characters); a paragraph written mostly (>= 50% of its letters) in the other language belongs to
the region whole. Severity: `drift` (the region spans two or more such paragraphs, or one that runs
to the end of the trace's content), `sentence` (a clause or sentence), `word` (a few characters or
words inside a sentence of the main language). Score: the share of the step's letters (drift: of
the trace's letters) in the other language, 0..1, higher is worse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from workbench.analysis.base import Step, step_at
from workbench.analysis.registry import DetectorSpec, Measure, Severity
from workbench.analysis.steps import paragraphs
from workbench.records import Finding

NAME = "language_mixing"
VERSION = "language-2"  # 2: main language from the question, Latin-script sentences, one finding per region

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
_SCRIPTS_OF_LANG = {"zh": {"han"}, "ja": {"han", "kana"}, "ko": {"hangul", "han"}, "ru": {"cyrillic"},
                    "ar": {"arabic"}, "he": {"hebrew"}, "th": {"thai"}, "hi": {"devanagari"}}
_MIN_CHARS = {"han": 1, "kana": 1, "hangul": 1, "thai": 2, "cyrillic": 2, "arabic": 2, "hebrew": 2,
              "devanagari": 2}
_SENTENCE_PUNCT = "。！？；"
MERGE_GAP = 30
MAX_FINDINGS = 100
LID_MIN_PROB = 0.9
LID_LANGUAGES = ("en", "fr", "es", "de", "pt", "it", "nl")

# Common words that mark a sentence as written in the language (checked with `in`, C speed).
_MARKERS = {
    "en": (" the ", " is ", " of ", " and ", " to ", " that ", " it ", " we ", " this ", " are ", " for ",
           " with ", " be ", "The ", "This ", "So ", "But ", "Let ", "I ", " I'", " not ", " can ", " was ",
           " have ", " has ", " does ", " if ", " at ", " by ", " or ", " you ", " they ", " there ", " which ",
           " what ", " how ", " would ", " should ", " will ", " from ", "So,", "What ", "How ", "Which ", "We "),
    "fr": (" le ", " la ", " les ", " des ", " est ", " et ", " une ", " que ", " pour ", " dans ", " du "),
    "es": (" el ", " la ", " los ", " las ", " es ", " que ", " una ", " por ", " para ", " con ", " del "),
    "de": (" der ", " die ", " das ", " und ", " ist ", " nicht ", " ein ", " eine ", " mit ", " zu ", " den "),
    "pt": (" o ", " os ", " que ", " uma ", " não ", " para ", " com ", " do ", " da ", " em ", " é "),
    "it": (" il ", " la ", " che ", " di ", " una ", " per ", " sono ", " non ", " con ", " del ", " è "),
    "nl": (" de ", " het ", " een ", " en ", " is ", " niet ", " van ", " dat ", " met ", " voor "),
}
_FUNCTION_WORDS = {  # lowercase; words that are also common English words are left out
    "fr": set(["bon", "voyons", "donc", "alors", "ainsi", "alors", "au", "aussi", "aux", "avec", "avons", "bien", "c'est", "ce", "ceci", "cela", "ces", "cette", "comme", "d'abord", "dans", "de", "des", "donc", "du", "déjà", "elle", "en", "encore", "entre", "est", "et", "fait", "faut", "il", "ils", "je", "l'option", "la", "le", "les", "leur", "leurs", "lui", "mais", "mes", "moins", "n'est", "ne", "nos", "nous", "ont", "où", "pas", "peu", "peut", "pour", "puis", "qu'il", "quand", "que", "qui", "sa", "sans", "se", "sera", "ses", "si", "sommes", "sont", "sous", "suis", "sur", "tous", "tout", "toutes", "trop", "très", "un", "une", "voici", "vous", "ça", "était", "été", "être"]),
    "es": set(["bueno", "pues", "así", "voy", "vamos", "entonces", "al", "aún", "como", "con", "cuando", "cómo", "de", "del", "donde", "el", "ello", "en", "entonces", "entre", "es", "esa", "ese", "eso", "esta", "estar", "estas", "este", "esto", "estos", "está", "fue", "ha", "han", "hay", "hemos", "la", "las", "le", "les", "lo", "los", "menos", "mi", "muy", "más", "ni", "nos", "para", "pero", "por", "porque", "puede", "que", "qué", "se", "ser", "si", "sobre", "su", "sus", "también", "tiene", "todo", "todos", "un", "una", "vamos", "ya", "yo"]),
    "de": set(["deshalb", "daher", "nun", "doch", "gut", "ja", "aber", "auch", "auf", "aus", "bei", "bist", "dann", "das", "dass", "dem", "den", "der", "die", "diese", "dieser", "dieses", "dort", "du", "durch", "ein", "eine", "einem", "einen", "einer", "es", "für", "gegen", "habe", "haben", "hier", "ich", "ihr", "ist", "jetzt", "kann", "kein", "keine", "können", "mal", "mein", "meiner", "mit", "muss", "müssen", "nach", "nicht", "noch", "nur", "ob", "oder", "ohne", "schon", "sehr", "seit", "sich", "sie", "sind", "soll", "und", "uns", "unter", "vom", "waren", "warum", "weil", "wenn", "wer", "werden", "wie", "wir", "wird", "wo", "zu", "zum", "zwischen", "über"]),
    "pt": set(["bem", "vou", "assim", "e", "portanto", "então", "ainda", "ao", "aos", "até", "com", "como", "da", "das", "de", "dos", "ela", "ele", "em", "entre", "então", "esta", "estar", "este", "está", "eu", "foi", "isso", "isto", "já", "lhe", "mais", "mas", "menos", "meu", "minha", "muito", "na", "nas", "nos", "não", "nós", "o", "onde", "os", "ou", "para", "pela", "pelo", "pode", "porque", "portanto", "quando", "que", "se", "sem", "ser", "seu", "seus", "sobre", "sua", "suas", "são", "também", "tem", "temos", "todas", "todos", "tudo", "um", "uma", "vamos", "você", "à", "às", "é"]),
    "it": set(["allora", "bene", "così", "dunque", "vediamo", "e", "abbiamo", "agli", "al", "alla", "allo", "anche", "ancora", "che", "ci", "con", "cosa", "cui", "dal", "dalla", "degli", "dei", "del", "della", "delle", "di", "essere", "fra", "già", "gli", "ha", "hai", "hanno", "ho", "i", "il", "la", "le", "lo", "ma", "meno", "mi", "molto", "ne", "negli", "nel", "nella", "non", "perché", "però", "più", "quando", "quella", "quello", "questa", "questo", "quindi", "senza", "si", "siamo", "sono", "stato", "sul", "ti", "tra", "tutte", "tutti", "tutto", "un", "una", "uno", "vi", "è"]),
    "nl": set(["als", "bij", "dat", "de", "dus", "een", "en", "het", "maar", "met", "niet", "ook", "voor", "wordt", "zijn"]),
    "en": set(["and", "are", "be", "can", "for", "is", "it", "not", "of", "that", "the", "this", "to", "was", "we", "with"]),
}
_OTHER_FUNCTION_WORDS = {main: frozenset().union(*(w for lang, w in _FUNCTION_WORDS.items() if lang != main))
                         for main in _FUNCTION_WORDS}
# word endings common in the other languages and rare in English ("podemos", "possiamo", "imediatamente")
_ROMANCE_GERMAN_ENDINGS = re.compile(r"\b[a-zà-ÿ]{2,}(?:amos|emos|imos|iamo|ción|ciones|ção|ções|zione|zioni|mente|"
                                     r"iendo|ieren|ungen|keit|heit|lich|lichen|eux|euse|ées)\b", re.I)
_FORMULA = re.compile(r"[=\\^_{}<>|∫∑√]")
_ACCENT = re.compile(r"[àâçéèêëîïôûùüÿñæœäößãõáíóúìò¿¡]")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_LINE_SPLIT = re.compile(r"(?<=[.!?;])\s+")

_lid: Any = None


def _identify(text: str, main: str | None = None) -> tuple[str, float]:
    """(most likely language, probability) from py3langid restricted to LID_LANGUAGES; with `main`, the
    probability is that of "not `main`" (1 - P(main)). The model loads on first use."""
    global _lid
    if _lid is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
        ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        ident.set_languages(list(LID_LANGUAGES))
        _lid = ident
    ranked = _lid.rank(text)
    lang, prob = ranked[0]
    if main is not None:
        prob = 1.0 - next((p for code, p in ranked if code == main), 0.0)
    return lang, float(prob)


def _script_of(text: str) -> str:
    counts = {name: len(rx.findall(text)) for name, rx in _SCRIPT_RE.items()}
    if counts["kana"]:
        return "kana"
    return max(counts, key=counts.__getitem__)


def _marked(s: str, lang: str) -> bool:
    """Does the sentence carry common words of `lang`? (English: almost every English sentence does.)"""
    padded = f" {s} "
    for m in _MARKERS.get(lang, ()):  # noqa: SIM110 - a plain loop beats any(genexpr): runs once per sentence
        if m in padded:
            return True
    return False


def _function_language(s: str, main: str) -> tuple[str, int]:
    """The non-main language with the most distinct function words in `s` (lowercase words only, but the
    first), and how many."""
    lowered = _lower_words(s)
    best, hits = "", 0
    for lang, fw in _FUNCTION_WORDS.items():
        if lang != main:
            n = len(lowered & fw)
            if n > hits:
                best, hits = lang, n
    return best, hits


def _lower_words(s: str) -> set[str]:
    """The sentence's lowercase words (and its first word), without one-letter words (variables: "e", "i")
    unless accented ("à", "é")."""
    words = _WORD.findall(s)
    return {w.lower() for i, w in enumerate(words)
            if (i == 0 or not w[:1].isupper()) and (len(w) > 1 or not w.isascii())}


def _fw_hits(s: str, lang: str) -> int:
    return len(_lower_words(s) & _FUNCTION_WORDS.get(lang, set()))


def main_language(question: str | None, response: str = "") -> str:
    """ISO 639-1 code of the trace's main language: the question's, else the trace start's, else English."""
    lang = _language_of(question or "")
    if lang:
        return lang
    start = response[:300]
    if _marked(start.replace("\n", " "), "en"):
        return "en"  # the trace starts in English ("Let me read the plot.") whatever follows
    return _language_of(start) or "en"


def _language_of(text: str) -> str | None:
    """The language `text` is written in, or None when it says too little or is ambiguous."""
    text = text[:1000]
    if _ANY.search(text) is None and _marked(text.replace("\n", " "), "en"):
        return "en"  # the common case, decided without counting letters
    foreign = len(_ANY.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    if foreign + latin < 20:
        return None  # an image placeholder, a formula
    if foreign > latin:
        return _LANG_OF_SCRIPT[_script_of(text)]
    sample = " ".join(_WORD.findall(text)[:120])
    if _marked(sample, "en") or _function_language(sample, "en")[1] == 0:
        return "en"  # common English words, or no function word of another language
    found, prob = _identify(sample)
    if found != "en" and prob >= LID_MIN_PROB and _fw_hits(sample, found) >= 1:
        return found
    return None


def _quoted(span: str, question: str | None) -> bool:
    if not question:
        return False
    core = "".join(_ANY.findall(span))
    return span.strip() in question or (bool(core) and core in "".join(_ANY.findall(question)))


_GLOSS_AFTER = re.compile(r"['\"’”]?\s*\(\s*[A-Za-z\u00c0-\u024f'ʿʾ\- ]+")
_OPEN = "'\"‘“(«"


def _is_mention(text: str, a: int, b: int) -> bool:
    """A foreign word talked about, not written in: quoted, in parentheses, or glossed "(kitāb)"."""
    before = text[max(0, a - 2):a].strip()
    if before and before[-1] in _OPEN:
        return True
    return _GLOSS_AFTER.match(text, b) is not None


def _script_spans(response: str, main: str, question: str | None) -> list[list[Any]]:
    """[start, end, language, script] of runs of scripts the main language does not use."""
    own = _SCRIPTS_OF_LANG.get(main, set())
    spans: list[list[Any]] = []
    for m in _RUN.finditer(response):
        a, b = m.start(), m.end()
        text = m.group(0)
        script = _script_of(text)
        if script in own or (main == "ja" and script == "kana"):
            continue
        if len(_SCRIPT_RE[script].findall(text)) < _MIN_CHARS[script] or _quoted(text, question):
            continue
        if script not in ("han", "kana") and _is_mention(response, a, b):
            continue
        spans.append([a, b, _LANG_OF_SCRIPT[script], script])
    return spans


def _latin_spans(response: str, main: str, question: str | None) -> list[list[Any]]:
    """[start, end, language, "latin"] of Latin-script sentences in another language than `main`."""
    latin_main = main in _MARKERS
    others = _OTHER_FUNCTION_WORDS.get(main, frozenset())
    spans: list[list[Any]] = []
    pos = 0
    for line in response.split("\n"):
        start = pos
        pos += len(line) + 1
        if len(line) < 12 or (latin_main and others.isdisjoint(line.lower().split())):
            continue  # no function word of any other language on the line: nothing to look at
        off = start
        for piece in line.split(". "):
            a = off
            off += len(piece) + 2
            if len(piece) < 12:
                continue
            if latin_main and _marked(piece, main) and "? " not in piece and "! " not in piece and "; " not in piece:
                continue  # the common case: a sentence of the main language
            for sub_a, sub in _sentences(piece, a):  # split further at ? ! ; (the rare path)
                span = _latin_sentence(sub, sub_a, main, latin_main, response, question)
                if span:
                    spans.append(span)
    return spans


def _sentences(piece: str, a: int) -> list[tuple[int, str]]:
    out, last = [], 0
    for m in _LINE_SPLIT.finditer(piece):
        out.append((a + last, piece[last:m.start()]))
        last = m.end()
    out.append((a + last, piece[last:]))
    return out


def _latin_sentence(s: str, a: int, main: str, latin_main: bool, response: str,
                    question: str | None) -> list[Any] | None:
    stripped = s.strip()
    if len(stripped) < 12 or _ANY.search(stripped) or _FORMULA.search(stripped):
        return None
    lead = len(s) - len(s.lstrip())
    a += lead
    if latin_main:
        if _marked(stripped, main):
            return None
        lang, hits = _function_language(stripped, main)
        if hits < 2 and not (hits and _ACCENT.search(stripped)) and \
                hits + min(2, len(_ROMANCE_GERMAN_ENDINGS.findall(stripped))) < 2:
            return None
    else:  # e.g. English prose inside a Chinese trace
        if not _marked(stripped, "en") or len(_WORD.findall(stripped)) < 5:
            return None
        lang, hits = "en", 3
    letters = len(_LATIN_LETTER.findall(stripped))
    if letters < 0.6 * len(stripped.replace(" ", "")):
        return None  # formulas, numbers, tables
    if _is_mention(response, a, a + len(stripped)) or (question and stripped.rstrip(".!?;") in question):
        return None
    found, prob = _identify(stripped, main if main in LID_LANGUAGES else None)
    if found == main or prob < LID_MIN_PROB:
        return None
    if lang and found != lang and _fw_hits(stripped, found) < 1:
        return None  # the identifier and the function words disagree
    end = a + len(stripped)
    if response[end:end + 1] == ".":  # the split at ". " took the sentence's own full stop
        end += 1
    return [a, end, found, "latin"]


def detect(response: str, *, question: str | None = None, steps: Sequence[Step] = (),
           has_image: bool = False) -> list[Finding]:
    """Regions of `response` in another language than the trace's main language (see module doc)."""
    if not response:
        return []
    main = main_language(question, response)
    spans = _script_spans(response, main, question) if _ANY.search(response) else []
    spans += _latin_spans(response, main, question)
    if not spans:
        return []
    spans.sort(key=lambda s: s[0])
    regions = _regions(response, spans, main)
    total_letters = len(_ANY.findall(response)) + len(_LATIN_LETTER.findall(response)) or 1
    foreign_total = sum(_letters(response, r[0], r[1], r[3]) for r in regions)
    trace_share = round(min(1.0, foreign_total / total_letters), 4)
    findings: list[Finding] = []
    for a, b, lang, script, severity in regions[:MAX_FINDINGS]:
        idx = step_at(steps, a)
        if severity == "drift":
            score = _letters(response, a, b, script) / total_letters
        else:
            sa, sb = (steps[idx].char_start, steps[idx].char_end) if idx is not None else (a, b)
            letters = len(_ANY.findall(response, sa, sb)) + len(_LATIN_LETTER.findall(response, sa, sb)) or 1
            score = _letters(response, a, b, script) / letters
        details: dict[str, Any] = {"script": script, "language": lang, "main_language": main, "chars": b - a,
                                   "trace_share": trace_share}
        findings.append(Finding(NAME, severity, round(min(1.0, score), 4), a, b, idx, _excerpt(response, a, b),
                                details))
    return findings


def _letters(text: str, a: int, b: int, script: str) -> int:
    """Foreign letters in text[a:b]: characters of the foreign script, or all letters of a Latin region."""
    return len(_LATIN_LETTER.findall(text, a, b)) if script == "latin" else len(_ANY.findall(text, a, b))


def _regions(response: str, spans: list[list[Any]], main: str) -> list[tuple[int, int, str, str, str]]:
    """Merge spans into continuous regions and grade each: (start, end, language, script, severity)."""
    paras = paragraphs(response)
    # paragraphs written mostly in one foreign language join their region whole
    dominated: list[list[Any]] = []
    j = 0
    for pa, pb in paras:
        while j < len(spans) and spans[j][1] <= pa:
            j += 1
        inside = []
        k = j
        while k < len(spans) and spans[k][0] < pb:
            inside.append(spans[k])
            k += 1
        if not inside:
            continue
        foreign = sum(_letters(response, max(x[0], pa), min(x[1], pb), x[3]) for x in inside)
        letters = len(_ANY.findall(response, pa, pb)) + len(_LATIN_LETTER.findall(response, pa, pb))
        if letters and foreign >= 0.5 * letters:
            top = max(inside, key=lambda x: min(x[1], pb) - max(x[0], pa))
            dominated.append([pa, pb, top[2], top[3]])
    starts_dominated = {d[0] for d in dominated}
    merged: list[list[Any]] = []
    for x in sorted(spans + dominated, key=lambda x: (x[0], -x[1])):
        if merged:
            prev = merged[-1]
            gap = response[prev[1]:x[0]]
            if x[0] <= prev[1] or (prev[2] == x[2] and (len(gap) <= MERGE_GAP or not _has_prose(gap, main))):
                prev[1] = max(prev[1], x[1])
                continue
        merged.append([x[0], x[1], x[2], x[3]])
    for m in merged:
        m.append(sum(1 for d in starts_dominated if m[0] <= d < m[1]))
    last_content = _last_content_end(response, paras)
    out = []
    for a, b, lang, script, n_dominated in merged:
        foreign = _letters(response, a, b, script)
        text = response[a:b]
        if n_dominated and foreign >= 20 and (n_dominated >= 2 or b >= last_content):
            severity = "drift"
        elif script == "latin" or foreign >= 12 or any(p in text for p in _SENTENCE_PUNCT) or (
                script not in ("han", "kana") and len(text.split()) >= 4):
            severity = "sentence"
        else:
            severity = "word"
        out.append((a, b, lang, script, severity))
    return out


def _has_prose(gap: str, main: str) -> bool:
    """Does the text between two foreign spans hold a sentence of the main language (not just formulas)?"""
    if main not in _MARKERS:
        return len(_LATIN_LETTER.findall(gap)) >= 20 or bool(_ANY.search(gap))
    return _marked(gap.replace("\n", " "), main) and len(_WORD.findall(gap)) >= 3


def _last_content_end(response: str, paras: list[tuple[int, int]]) -> int:
    """End of the last paragraph that is not the final-answer block (e.g. a boxed letter)."""
    i = len(paras) - 1
    while i > 0 and not _ANY.search(response, *paras[i]) and len(_LATIN_LETTER.findall(response, *paras[i])) < 30:
        i -= 1
    return paras[i][1] if paras else len(response)


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
