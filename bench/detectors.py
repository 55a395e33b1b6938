"""Detector accuracy: precision and recall at trace level on labelled real and synthetic cases.

    .venv/bin/python bench/detectors.py

- natural: real QVQ traces from ../shared labelled by hand (bench/labels/natural.jsonl: ids and
  labels only). Positives were partly sampled from what the detector flags and negatives from
  what it does not, plus independent candidate pools (every trace containing a non-Latin script;
  truncated traces; image traces whose text matches looser "not see / not have" phrases).
- synthetic: bench/eval_set.py, seeded injections into real traces (exact labels and onsets).
For grounding_loss the measured rule is "cannot see the image" (severity cannot_see).
Also prints the naive baselines of ../shared/docs/failure-modes.md on the same cases.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from workbench.analysis import grounding, language, repetition  # noqa: E402
from workbench.analysis.steps import segment  # noqa: E402

DEV = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"
LABELS = ROOT / "bench" / "labels" / "natural.jsonl"
CJK = re.compile(r"[\u3400-\u9fff]")


def predict(detector: str, text: str, question: str, has_image: bool) -> tuple[bool, list]:
    steps = segment(text)
    if detector == "language_mixing":
        f = language.detect(text, question=question, steps=steps)
    elif detector == "repetition_loop":
        f = repetition.detect(text, steps=steps)
    else:
        f = [x for x in grounding.detect(text, steps=steps, has_image=has_image) if x.severity == "cannot_see"]
    return bool(f), f


def baseline(detector: str, text: str) -> bool:
    if detector == "language_mixing":
        return bool(CJK.search(text))
    if detector == "repetition_loop":  # serving-engine tail check: the last unit repeated 4 times at the end
        tail = text.rstrip()[-4000:]
        for n in range(16, 400):
            unit = tail[-n:]
            if len(unit) == n and tail.endswith(unit * 4):
                return True
        return False
    return False


def four_gram_rate(text: str) -> bool:
    words = text.split()
    grams = [tuple(words[i:i + 4]) for i in range(len(words) - 3)]
    return bool(grams) and 1 - len(set(grams)) / len(grams) >= 0.3


def score(pairs: list[tuple[bool, bool]]) -> tuple[float, float, int, int]:
    tp = sum(p and g for p, g in pairs)
    fp = sum(p and not g for p, g in pairs)
    fn = sum(g and not p for p, g in pairs)
    prec = tp / (tp + fp) if tp + fp else 1.0
    rec = tp / (tp + fn) if tp + fn else 1.0
    return prec, rec, sum(g for _, g in pairs), sum(not g for _, g in pairs)


def main() -> int:
    if not DEV.exists():
        print(f"skipped: {DEV} not found (the real traces live in ../shared)")
        return 0
    import eval_set
    rows = {json.loads(line)["id"]: json.loads(line) for line in DEV.open(encoding="utf-8")}
    labels = [json.loads(line) for line in LABELS.open(encoding="utf-8")]
    start = time.perf_counter()
    results: dict[str, dict[str, list]] = {}
    failures: list[str] = []
    for lab in labels:
        r = rows.get(lab["id"])
        if r is None:
            continue
        pred, _ = predict(lab["detector"], r["response"], r["question"], bool(r["n_images_in_prompt"]))
        results.setdefault(lab["detector"], {}).setdefault("natural", []).append((pred, bool(lab["label"])))
        results[lab["detector"]].setdefault("baseline", []).append((baseline(lab["detector"], r["response"]),
                                                                      bool(lab["label"])))
        if pred != bool(lab["label"]):
            failures.append(f"natural {lab['detector']} {lab['id'][-30:]}: predicted {pred}, labelled {lab['label']}")
    onsets = []
    for case in eval_set.build(seed=0):
        for det, lab in case.labels.items():
            pred, found = predict(det, case.text, case.question, case.has_image)
            results.setdefault(det, {}).setdefault("synthetic", []).append((pred, bool(lab)))
            results[det].setdefault("baseline", []).append((baseline(det, case.text), bool(lab)))
            if det == "repetition_loop":
                results[det].setdefault("4-gram rate >= 0.3", []).append((four_gram_rate(case.text), bool(lab)))
            if pred != bool(lab):
                failures.append(f"synthetic {det} {case.case_id}: predicted {pred}, labelled {lab}")
            if det == "repetition_loop" and lab and found:
                onsets.append(abs(min(f.char_start for f in found) - case.onset))
    elapsed = time.perf_counter() - start
    names = {"language_mixing": ("any CJK character", "language_mixing"),
             "repetition_loop": ("tail check, 4 copies", "repetition_loop"),
             "grounding_loss": ("(none)", "grounding_loss: cannot-see rule")}
    print(f"{'detector':34} {'set':20} {'precision':>9} {'recall':>7} {'pos':>5} {'neg':>5}")
    for det, sets in results.items():
        for name in ("natural", "synthetic"):
            if name in sets:
                p, r, pos, neg = score(sets[name])
                print(f"{names[det][1]:34} {name:20} {p:9.3f} {r:7.3f} {pos:5d} {neg:5d}")
        p, r, pos, neg = score(sets["natural"] + sets["synthetic"])
        print(f"{names[det][1]:34} {'all':20} {p:9.3f} {r:7.3f} {pos:5d} {neg:5d}")
        for name in ("baseline", "4-gram rate >= 0.3"):
            if name in sets and det != "grounding_loss":
                p, r, pos, neg = score(sets[name])
                label = names[det][0] if name == "baseline" else name
                print(f"{'  baseline: ' + label:34} {'all':20} {p:9.3f} {r:7.3f} {pos:5d} {neg:5d}")
    if onsets:
        within = sum(o <= 200 for o in onsets) / len(onsets)
        print(f"loop onset error: median {statistics.median(onsets):.0f} chars, max {max(onsets)}, "
              f"{within:.1%} within 200 chars ({len(onsets)} detected synthetic loops)")
    print(f"({elapsed:.1f} s)")
    if failures:
        print(f"\n{len(failures)} misclassified cases:")
        for f in failures[:40]:
            print("  " + f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
