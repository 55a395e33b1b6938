"""Detector accuracy: precision and recall at trace level on labelled real and synthetic cases.

    .venv/bin/python bench/detectors.py [--kinds] [--failures N]

- natural: real QVQ traces from ../shared labelled by reading (bench/labels/natural.jsonl: ids and
  labels only). Candidate pools are described in the README (section "Measured accuracy").
- synthetic: bench/eval_set.py, seeded injections into real traces (exact labels and onsets); without
  ../shared, into host traces made of the project's own sentences.
- paraphrases: bench/labels/cannot_see.jsonl, the project's own "cannot see the image" paraphrases and
  near misses, each scored as a one-sentence trace with an image.
- decline: bench/labels/decline.jsonl, `decline` findings (and near misses) of the dev set read and
  judged; the precision of the rule is the share of its findings on these traces labelled plausible.

Loops are scored as the holdout scores them: a trace counts as flagged for recall when it has any
finding, but as a false alarm only when it has a `loop` or `runaway` finding (a trace flagged only as
`cycle` on a negative is no false alarm). For grounding_loss the measured rule is "cannot see the
image" (severity cannot_see). Also prints the naive baselines of ../shared/docs/failure-modes.md.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from workbench.analysis import grounding, language, repetition  # noqa: E402
from workbench.analysis.steps import segment  # noqa: E402

DEV = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"
LABELS = ROOT / "bench" / "labels"
CJK = re.compile(r"[\u3400-\u9fff]")
STRONG = {"repetition_loop": {"loop", "runaway"}}


def _segment(text: str, has_image: bool) -> list:
    try:
        return segment(text, has_image=has_image)
    except TypeError:  # segment() before it took has_image
        return segment(text)


def findings(detector: str, text: str, question: str, has_image: bool) -> list:
    steps = _segment(text, has_image)
    module = {"language_mixing": language, "repetition_loop": repetition, "grounding_loss": grounding}[detector]
    found = module.detect(text, question=question, steps=steps, has_image=has_image)
    if detector == "grounding_loss":
        found = [f for f in found if f.severity == "cannot_see"]
    return found


def predict(detector: str, text: str, question: str, has_image: bool) -> tuple[bool, list]:
    """(flagged, findings); flagged = any finding of the measured rule."""
    found = findings(detector, text, question, has_image)
    return bool(found), found


def outcome(detector: str, found: list) -> tuple[bool, bool]:
    """(counts for recall, counts as an alarm for precision)."""
    strong = STRONG.get(detector)
    alarm = bool(found) if strong is None else any(f.severity in strong for f in found)
    return bool(found), alarm


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


def score(pairs: list[tuple]) -> tuple[float, float, int, int]:
    """pairs of (predicted, gold) or (hit, alarm, gold): precision, recall, positives, negatives."""
    norm = [(p[0], p[0], p[1]) if len(p) == 2 else p for p in pairs]
    tp = sum(h and g for h, a, g in norm)
    fp = sum(a and not g for h, a, g in norm)
    fn = sum(g and not h for h, a, g in norm)
    prec = tp / (tp + fp) if tp + fp else 1.0
    rec = tp / (tp + fn) if tp + fn else 1.0
    return prec, rec, sum(g for *_, g in norm), sum(not g for *_, g in norm)


def decline_precision(rows: dict[str, dict]) -> tuple[int, int, int, int]:
    """(findings on labelled traces, of them plausible, plausible incl. cannot-see duplicates, labelled)."""
    labels = [json.loads(line) for line in (LABELS / "decline.jsonl").open(encoding="utf-8")]
    n = good = good_dup = 0
    for lab in labels:
        r = rows.get(lab["id"])
        if r is None:
            continue
        steps = _segment(r["response"], True)
        found = grounding.detect(r["response"], question=r["question"], steps=steps, has_image=True,
                                 **({"decline": True} if hasattr(grounding, "DECLINE_DEFAULT") else {}))
        if any(f.severity == "decline" for f in found):
            n += 1
            good += lab["label"]
            good_dup += lab["label"] or lab["reason"] == "dup"
    return n, good, good_dup, len(labels)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kinds", action="store_true", help="recall / false alarms per synthetic kind")
    ap.add_argument("--failures", type=int, default=40)
    args = ap.parse_args()
    import eval_set
    have_dev = DEV.exists()
    rows = {json.loads(line)["id"]: json.loads(line) for line in DEV.open(encoding="utf-8")} if have_dev else {}
    start = time.perf_counter()
    results: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    kinds: dict[str, list] = defaultdict(list)
    failures: list[str] = []
    for lab in (json.loads(line) for line in (LABELS / "natural.jsonl").open(encoding="utf-8")):
        r = rows.get(lab["id"])
        if r is None:
            continue
        det, gold = lab["detector"], bool(lab["label"])
        hit, alarm = outcome(det, findings(det, r["response"], r["question"], bool(r["n_images_in_prompt"])))
        results[det]["natural"].append((hit, alarm, gold))
        results[det]["baseline"].append((baseline(det, r["response"]), gold))
        if (hit if gold else alarm) != gold:
            failures.append(f"natural {det} {lab['id'][-34:]}: flagged {hit} (alarm {alarm}), labelled {int(gold)}")
    onsets = []
    for case in eval_set.build(seed=0, path=DEV if have_dev else None):
        for det, lab in case.labels.items():
            found = findings(det, case.text, case.question, case.has_image)
            hit, alarm = outcome(det, found)
            gold = bool(lab)
            results[det]["synthetic"].append((hit, alarm, gold))
            results[det]["baseline"].append((baseline(det, case.text), gold))
            kinds[f"{det}: {case.kind}"].append((hit, alarm, gold))
            if det == "repetition_loop":
                results[det]["4-gram rate >= 0.3"].append((four_gram_rate(case.text), gold))
            if (hit if gold else alarm) != gold:
                failures.append(f"synthetic {det} {case.case_id}: flagged {hit} (alarm {alarm}), labelled {lab}")
            if det == "repetition_loop" and gold and found:
                onsets.append(abs(min(f.char_start for f in found) - case.onset))
    for lab in (json.loads(line) for line in (LABELS / "cannot_see.jsonl").open(encoding="utf-8")):
        hit = bool(findings("grounding_loss", lab["text"], "", True))
        results["grounding_loss"]["paraphrases"].append((hit, bool(lab["label"])))
        kinds[f"grounding_loss paraphrases: {lab['family']}"].append((hit, hit, bool(lab["label"])))
        if hit != bool(lab["label"]):
            failures.append(f"paraphrase ({lab['family']}): flagged {hit}, labelled {lab['label']}: {lab['text']}")
    elapsed = time.perf_counter() - start
    names = {"language_mixing": ("any CJK character", "language_mixing"),
             "repetition_loop": ("tail check, 4 copies", "repetition_loop (loop/runaway)"),
             "grounding_loss": ("(none)", "grounding_loss: cannot_see")}
    if not have_dev:
        print(f"note: {DEV} not found: synthetic cases use the project's own host traces; no real-trace sets")
    print(f"{'detector':34} {'set':20} {'precision':>9} {'recall':>7} {'pos':>5} {'neg':>5}")
    for det in ("language_mixing", "repetition_loop", "grounding_loss"):
        sets = results[det]
        for name in ("natural", "synthetic", "paraphrases"):
            if sets.get(name):
                p, r, pos, neg = score(sets[name])
                print(f"{names[det][1]:34} {name:20} {p:9.3f} {r:7.3f} {pos:5d} {neg:5d}")
        p, r, pos, neg = score(sets["natural"] + sets["synthetic"])
        print(f"{names[det][1]:34} {'natural + synthetic':20} {p:9.3f} {r:7.3f} {pos:5d} {neg:5d}")
        for name in ("baseline", "4-gram rate >= 0.3"):
            if sets.get(name) and det != "grounding_loss":
                p, r, pos, neg = score(sets[name])
                label = names[det][0] if name == "baseline" else name
                print(f"{'  baseline: ' + label:34} {'all':20} {p:9.3f} {r:7.3f} {pos:5d} {neg:5d}")
    if onsets:
        within = sum(o <= 200 for o in onsets) / len(onsets)
        print(f"loop onset error: median {statistics.median(onsets):.0f} chars, max {max(onsets)}, "
              f"{within:.1%} within 200 chars ({len(onsets)} detected synthetic loops)")
    if have_dev:
        n, good, good_dup, labelled = decline_precision(rows)
        print(f"grounding_loss decline: {n} findings on {labelled} read traces, {good} plausible "
              f"(precision {good / n if n else float('nan'):.2f}; {good_dup / n if n else float('nan'):.2f} "
              f"counting cannot-see duplicates as right)")
    if args.kinds:
        print("\nper synthetic kind: flagged / alarms / n")
        for k, pairs in sorted(kinds.items()):
            print(f"  {k:60} {sum(h for h, _, _ in pairs):4d} {sum(a for _, a, _ in pairs):4d} {len(pairs):4d}"
                  f"  ({'positives' if pairs[0][2] else 'negatives'})")
    print(f"({elapsed:.1f} s)")
    if failures:
        print(f"\n{len(failures)} misclassified cases:")
        for f in failures[:args.failures]:
            print("  " + f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
