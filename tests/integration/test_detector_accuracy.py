"""Accuracy targets of issue 15 (bench/detectors.py scores the same way and prints the figures).

The synthetic part runs everywhere: without ../shared the injections go into host traces made of
the project's own sentences (bench/eval_set.own_traces). The real-trace part needs ../shared.
Loops are scored as the holdout scores them: any finding counts for recall, only `loop` / `runaway`
findings count as alarms on negatives."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

TARGETS = {"language_mixing": 0.97, "repetition_loop": 0.97, "grounding_loss": 0.95}


def _check(pairs: dict[str, list[tuple[bool, bool, bool]]]) -> None:
    import detectors
    for det, target in TARGETS.items():
        precision, recall, pos, neg = detectors.score(pairs[det])
        assert pos and neg and precision >= target and recall >= target, (det, precision, recall, pos, neg)


def _synthetic(path: Path | None) -> None:
    import detectors
    import eval_set
    pairs: dict[str, list] = {}
    onsets = []
    for case in eval_set.build(seed=0, path=path):
        for det, lab in case.labels.items():
            found = detectors.findings(det, case.text, case.question, case.has_image)
            hit, alarm = detectors.outcome(det, found)
            pairs.setdefault(det, []).append((hit, alarm, bool(lab)))
            if det == "repetition_loop" and lab and found:
                onsets.append(abs(min(f.char_start for f in found) - case.onset))
            if det == "grounding_loss" and not case.has_image:
                assert not found
    _check(pairs)
    assert onsets and max(onsets) <= 200


def test_synthetic_targets_on_the_projects_own_host_traces():
    _synthetic(None)


def test_cannot_see_paraphrase_set():
    import detectors
    pairs = [(bool(detectors.findings("grounding_loss", c["text"], "", True)), bool(c["label"]))
             for c in (json.loads(line) for line in (ROOT / "bench" / "labels" / "cannot_see.jsonl").open())]
    precision, recall, _, _ = detectors.score(pairs)
    assert precision >= 0.95 and recall >= 0.95


@pytest.mark.realdata
def test_targets_on_real_traces_and_injections_into_them(dev_jsonl):
    import detectors
    rows = {json.loads(line)["id"]: json.loads(line) for line in dev_jsonl.open(encoding="utf-8")}
    pairs: dict[str, list] = {}
    for lab in (json.loads(line) for line in (ROOT / "bench" / "labels" / "natural.jsonl").open()):
        r = rows[lab["id"]]
        found = detectors.findings(lab["detector"], r["response"], r["question"], bool(r["n_images_in_prompt"]))
        hit, alarm = detectors.outcome(lab["detector"], found)
        pairs.setdefault(lab["detector"], []).append((hit, alarm, bool(lab["label"])))
    _check(pairs)
    _synthetic(dev_jsonl)


@pytest.mark.realdata
def test_no_grounding_findings_or_perception_roles_without_an_image(dev_jsonl):
    from workbench.analysis import grounding
    from workbench.analysis.steps import segment
    for line in dev_jsonl.open(encoding="utf-8"):
        r = json.loads(line)
        if r["n_images_in_prompt"]:
            continue
        steps = segment(r["response"], has_image=False)
        assert all(s.role != "perception" and s.image_ref_count == 0 for s in steps)
        assert grounding.detect(r["response"], question=r["question"], steps=steps, has_image=False) == []
