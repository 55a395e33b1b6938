"""Sentence-level language identifiers compared on our own labelled sentences and on real English.

    .venv/bin/python bench/langid.py [N_REAL]

- labelled: bench/labels/latin_sentences.jsonl (sentences written by this project: French, Spanish,
  German, Portuguese, Italian reasoning sentences, and English hard negatives with loanwords, names,
  Latin phrases and formulas). "foreign" = not English; a foreign sentence counts as found only
  when its language is named right.
- real English: N_REAL (default 5,000) Latin-script sentences of >= 3 words drawn (seed 0) from the
  dev traces in ../shared; every one called foreign is a false alarm on real text (QVQ writes
  English; the rare real foreign sentence is counted against the tool too, so this is an upper bound).
- speed: MB/s over the real sentences, one call per sentence (what the detector does).
Each tool is restricted to the same candidate languages where it allows it.
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"
LABELS = ROOT / "bench" / "labels" / "latin_sentences.jsonl"
LANGS = ["en", "fr", "es", "de", "pt", "it", "nl"]
_SENT = re.compile(r"[^.!?\n]+[.!?]?")


def langdetect_tool() -> Callable[[str], tuple[str, float]]:
    from langdetect import DetectorFactory, detect_langs
    DetectorFactory.seed = 0

    def f(s: str) -> tuple[str, float]:
        try:
            top = detect_langs(s)[0]
        except Exception:  # noqa: BLE001 - langdetect raises on text without letters; count it as a miss
            return "en", 0.0
        return top.lang, top.prob
    return f


def lingua_tool(low_accuracy: bool) -> Callable[[str], tuple[str, float]]:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
    langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in LANGS]
    b = LanguageDetectorBuilder.from_languages(*langs)
    if low_accuracy:
        b = b.with_low_accuracy_mode()
    det = b.build()

    def f(s: str) -> tuple[str, float]:
        conf = det.compute_language_confidence_values(s)
        if not conf:
            return "en", 0.0
        top = conf[0]
        return top.language.iso_code_639_1.name.lower(), top.value
    return f


def py3langid_tool() -> Callable[[str], tuple[str, float]]:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier
    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(LANGS)

    def f(s: str) -> tuple[str, float]:
        lang, p = ident.classify(s)
        return lang, float(p)
    return f


def real_sentences(n: int) -> list[str]:
    rng = random.Random(0)
    rows = [json.loads(line) for line in DEV.open(encoding="utf-8")]
    rng.shuffle(rows)
    out: list[str] = []
    for r in rows:
        for m in _SENT.finditer(r["response"]):
            s = m.group(0).strip()
            latin_only = not re.search(r"[\u0370-\u03ff\u0400-\uffff]", s)
            if len(s.split()) >= 3 and re.search(r"[A-Za-z]{3}", s) and latin_only:
                out.append(s)
        if len(out) >= 3 * n:
            break
    rng.shuffle(out)
    return out[:n]


def main() -> int:
    n_real = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    labelled = [json.loads(line) for line in LABELS.open(encoding="utf-8")]
    real = real_sentences(n_real) if DEV.exists() else []
    tools = {"langdetect 1.0.9": langdetect_tool, "lingua (high accuracy)": lambda: lingua_tool(False),
             "lingua (low accuracy)": lambda: lingua_tool(True), "py3langid": py3langid_tool}
    print(f"{len(labelled)} labelled sentences ({sum(x['lang'] != 'en' for x in labelled)} foreign), "
          f"{len(real)} real English sentences")
    print(f"{'tool':24} {'thr':>4} {'precision':>9} {'recall':>7} {'fp real':>8} {'MB/s':>6}")
    for name, make in tools.items():
        try:
            tool = make()
        except ImportError as e:
            print(f"{name:24} not installed ({e})")
            continue
        lab = [(x, tool(x["text"])) for x in labelled]
        t = time.perf_counter()
        real_out = [tool(s) for s in real]
        sec = time.perf_counter() - t
        mb = sum(len(s.encode()) for s in real) / 1e6
        for thr in (0.5, 0.7, 0.9):
            tp = sum(1 for x, (lang, p) in lab if x["lang"] != "en" and lang == x["lang"] and p >= thr)
            fp = sum(1 for x, (lang, p) in lab if x["lang"] == "en" and lang != "en" and p >= thr)
            pos = sum(1 for x in labelled if x["lang"] != "en")
            fp_real = sum(1 for lang, p in real_out if lang != "en" and p >= thr)
            prec = tp / (tp + fp) if tp + fp else 1.0
            print(f"{name:24} {thr:4.1f} {prec:9.3f} {tp / pos:7.3f} {fp_real / max(1, len(real)):8.4f} "
                  f"{mb / sec if sec else 0:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
