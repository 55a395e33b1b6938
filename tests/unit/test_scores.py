"""`workbench score` on a real store: accuracy per benchmark and subset, where grades came from, truncation's
cost, and QVQ's own benchmarks beside the model card. Records are written here in the generic import shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.analysis.pipeline import analyze_store
from workbench.cli import main
from workbench.store import connect
from workbench.store.scores import MODEL_CARD, card_entry, grade_origin, model_card, scores

MC_Q = "Which one?\n\nA. red\nB. green\nC. blue\nD. grey\n"
LONG = "I compare the colours in the picture one by one and weigh each option against the legend.\n\n" * 12
DONE = LONG + "So the answer is B.\n\n**Final Answer**\n\n\\[ \\boxed{B} \\]"
CUT = LONG + "Next I check whether the legend maps green to (0.3, "


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path: Path, tmp_db: Path) -> Path:
    # MMMU run: graded by the source (correct) for some samples, by the workbench for the rest
    mmmu = [{"id": f"m{i}", "question": MC_Q, "response": DONE if i % 4 else CUT, "answer": "B",
             "benchmark": "MMMU (validation)", "subset": "Art" if i < 6 else "Math",
             **({"correct": i % 4 != 0} if i < 4 else {})} for i in range(10)]
    # MathVista run: no source grades at all; one sample without ground truth
    vista = [{"id": f"v{i}", "question": "How many?", "response": f"There are {3 if i < 3 else 4} apples.",
              "answer": "3" if i < 5 else None, "benchmark": "MathVista"} for i in range(6)]
    # MMMU-Pro is not MMMU
    pro = [{"id": "p0", "question": MC_Q, "response": "B", "answer": "B", "benchmark": "MMMU-Pro"}]
    for name, rows in (("mmmu", mmmu), ("vista", vista), ("pro", pro)):
        assert main(["import", str(_write(tmp_path / f"{name}.jsonl", rows)), "--db", str(tmp_db),
                     "--run", name]) == 0
    analyze_store(tmp_db, progress=False, workers=1)
    return tmp_db


def test_scores_per_benchmark_and_subset(store: Path):
    with connect(store) as con:
        rows = scores(con)
    total = {(r["run_id"], r["benchmark"]): r for r in rows if r["is_total"]}
    m = total[("mmmu", "MMMU (validation)")]
    assert (m["samples"], m["graded"], m["by_source"], m["by_workbench"]) == (10, 10, 4, 6)
    assert m["grades_from"] == "mixed (4 source / 6 workbench)"
    assert m["truncated"] == 3 and m["acc_complete"] == 1.0 and m["acc_truncated"] == 0.0
    assert m["accuracy"] == pytest.approx(0.7) and m["truncation_cost"] == pytest.approx(0.3)
    assert m["agreement"] == 1.0 and m["both_graded"] == 4
    subsets = {r["subset"]: r for r in rows if r["run_id"] == "mmmu" and not r["is_total"]}
    assert set(subsets) == {"Art", "Math"} and subsets["Math"]["samples"] == 4
    v = total[("vista", "MathVista")]
    assert (v["graded"], v["accuracy"], v["grades_from"]) == (5, pytest.approx(0.6), "workbench")


def test_model_card_table(store: Path):
    with connect(store) as con:
        card = model_card(scores(con))
    by = {c["benchmark"]: c for c in card}
    assert [c["benchmark"] for c in card] == [e.benchmark for e in MODEL_CARD]
    assert by["MMMU"]["run_id"] == "mmmu" and by["MMMU"]["model_card"] == 70.3
    assert by["MMMU"]["accuracy"] == pytest.approx(70.0) and by["MMMU"]["gap"] == pytest.approx(-0.3)
    assert by["MMMU"]["truncation_cost"] == pytest.approx(30.0) and by["MMMU"]["truncated_share"] == 0.3
    assert by["MathVista"]["accuracy"] == pytest.approx(60.0) and by["MathVista"]["grades_from"] == "workbench"
    assert by["MathVision"]["run_id"] is None and by["OlympiadBench"]["run_id"] is None


def test_score_command_prints_both_tables(store: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["score", "--db", str(store), "--subsets"]) == 0
    out = capsys.readouterr().out
    assert "mixed (4 source / 6 workbench)" in out and "Math" in out and "(no run imported)" in out
    assert "70.3" in out and "-0.3" in out and "+30.0" in out
    assert main(["score", "--db", str(store), "--run", "vista", "--format", "json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {x["run_id"] for x in lines if x["table"] == "scores"} == {"vista"}
    assert main(["score", "--db", str(store), "--run", "nope"]) == 2


def test_benchmark_names_and_grade_origin():
    assert card_entry("MMMU (validation)").benchmark == "MMMU" and card_entry("mmmu_val").benchmark == "MMMU"
    assert card_entry("MMMU-Pro") is None and card_entry("MMMU_Pro_10c") is None
    assert card_entry("MathVista_MINI").benchmark == "MathVista"
    assert card_entry("MathVision").benchmark == "MathVision" and card_entry("MATH-V").benchmark == "MathVision"
    assert card_entry("OlympiadBench").benchmark == "OlympiadBench" and card_entry("MathVerse") is None
    assert grade_origin(3, 0) == "source" and grade_origin(0, 2) == "workbench" and grade_origin(0, 0) == "ungraded"
