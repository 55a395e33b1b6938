"""The accuracy targets of issue 3 on our labelled real traces + seeded injections (bench/detectors.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

pytestmark = pytest.mark.realdata


def test_detectors_meet_the_targets(dev_jsonl):
    import detectors
    import eval_set
    rows = {json.loads(line)["id"]: json.loads(line) for line in dev_jsonl.open(encoding="utf-8")}
    pairs: dict[str, list[tuple[bool, bool]]] = {}
    for lab in (json.loads(line) for line in (ROOT / "bench" / "labels" / "natural.jsonl").open()):
        r = rows[lab["id"]]
        pred, _ = detectors.predict(lab["detector"], r["response"], r["question"], bool(r["n_images_in_prompt"]))
        pairs.setdefault(lab["detector"], []).append((pred, bool(lab["label"])))
    onsets = []
    for case in eval_set.build(seed=0):
        for det, lab in case.labels.items():
            pred, found = detectors.predict(det, case.text, case.question, case.has_image)
            pairs.setdefault(det, []).append((pred, bool(lab)))
            if det == "repetition_loop" and lab and found:
                onsets.append(abs(min(f.char_start for f in found) - case.onset))
    targets = {"language_mixing": 0.95, "repetition_loop": 0.95, "grounding_loss": 0.9}
    for det, target in targets.items():
        precision, recall, _, _ = detectors.score(pairs[det])
        assert precision >= target and recall >= target, (det, precision, recall)
    assert onsets and all(o <= 200 for o in onsets)
