"""Failure clustering on a labelled mix of synthetic failure kinds (real detectors, real store)."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from workbench.analysis.pipeline import analyze_store
from workbench.cli import main
from workbench.cluster import run_clustering
from workbench.ingest import import_paths
from workbench.store import connect

TOPICS = ["the reaction rate of the enzyme", "the tension in the rope", "the price elasticity of demand",
          "the area of the triangle", "the voltage across the resistor", "the probability of two heads",
          "the density of the city", "the speed of the train", "the boiling point of water", "the interest owed"]
ZH = ["明显", "因此", "可能", "需要", "反而", "其实", "比较", "重要", "影响", "大约"]


def make_traces(rng: random.Random, n: int = 30) -> list[dict]:
    rows = []
    for i in range(n):
        t = rng.choice(TOPICS)
        filler = f"Let me think about {t} carefully. First I write down what is known about {t}.\n\n"
        w1, w2 = rng.sample(ZH, 2)
        rows.append({"id": f"mix{i}", "kind": "mix", "question": f"What is {t}?", "correct": rng.random() < 0.7,
                     "response": filler + f"The value of {t} is{w1} larger than expected, and{w2} the result "
                                          f"follows.\n\nSo the answer is B."})
        sentence = f"So {t} equals {rng.randint(2, 99)} units, which I computed from the given data. "
        rows.append({"id": f"loop{i}", "kind": "loop", "question": f"What is {t}?", "correct": False,
                     "response": filler + sentence * rng.randint(6, 20) + sentence[:20]})
        rows.append({"id": f"see{i}", "kind": "see", "question": f"What does the figure show about {t}?<image 1>",
                     "correct": rng.random() < 0.4, "image": "nope.png",
                     "response": filler + rng.choice(["Unfortunately, I can't see the actual image, but I will "
                                                      "reason from the description.",
                                                      "Since I don't have the figure, I'll assume a typical setup.",
                                                      "There's a diagram, but since I can't see it, I'll guess."])
                     + f"\n\nBased on typical values of {t}, the answer is C."})
    return rows


@pytest.fixture(scope="module")
def mixed_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    rows = make_traces(random.Random(1))
    path = tmp / "mix.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    db = tmp / "store.duckdb"
    import_paths([path], db, progress=False)
    analyze_store(db, progress=False, workers=1)
    return db, {r["id"]: r["kind"] for r in rows}


def purity_by_kind(units, kinds) -> dict[str, float]:
    units = units.assign(kind=units["sample_id"].map(kinds))
    majority = units.groupby("cluster_id")["kind"].agg(lambda s: Counter(s).most_common(1)[0][0])
    units["in_own"] = [c != -1 and majority[c] == k for c, k in zip(units["cluster_id"], units["kind"])]
    return units.groupby("kind")["in_own"].mean().to_dict()


@pytest.mark.parametrize("method, k", [("kmeans", 3), ("hdbscan", None)])
def test_each_failure_kind_lands_in_clusters_it_dominates(mixed_store, method, k):
    db, kinds = mixed_store
    res = run_clustering(db, unit="sample", method=method, k=k, seed=0)
    purity = purity_by_kind(res.units, kinds)
    assert set(purity) == {"mix", "loop", "see"}
    assert all(v >= 0.9 for v in purity.values()), purity
    labels = res.clusters.loc[res.clusters["cluster_id"] >= 0, "label"].tolist()
    assert all(labels) and len(set(labels)) == len(labels)  # non-empty and distinct
    for _, c in res.clusters.iterrows():
        if c["cluster_id"] >= 0:
            assert c["terms"] and 0 <= (c["accuracy"] if c["accuracy"] is not None else 0) <= 1


def test_same_seed_same_result_and_rerun_replaces(mixed_store):
    db, _ = mixed_store
    a = run_clustering(db, unit="sample", method="kmeans", k=3, seed=7)
    b = run_clustering(db, unit="sample", method="kmeans", k=3, seed=7)
    assert a.units["cluster_id"].tolist() == b.units["cluster_id"].tolist()
    assert a.clusters["label"].tolist() == b.clusters["label"].tolist()
    with connect(db) as con:
        assert con.execute("SELECT count(*) FROM cluster_runs WHERE cluster_run_id = ?",
                           [a.cluster_run_id]).fetchone() == (1,)
        n_units = con.execute("SELECT count(*) FROM cluster_members WHERE cluster_run_id = ?",
                              [a.cluster_run_id]).fetchone()[0]
        reps = con.execute("SELECT cluster_id, count(*) FROM cluster_members WHERE cluster_run_id = ? "
                           "AND representative GROUP BY 1", [a.cluster_run_id]).fetchall()
    assert n_units == len(a.units) and all(1 <= n <= 5 for _, n in reps)


def test_cluster_cli(mixed_store, capsys):
    db, _ = mixed_store
    assert main(["cluster", "--db", str(db), "--unit", "step", "--method", "kmeans", "--k", "3"]) == 0
    out = capsys.readouterr().out
    assert "clusters" in out and "units" in out
