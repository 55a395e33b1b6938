"""Failure clustering on synthetic, labelled failure kinds (no real traces), plus the store round trip."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from workbench.cluster import cluster_units, run_clustering
from workbench.store import connect

KINDS = {
    "repetition_loop:loop": ("So the total is {a} plus {b} equals {c}. "
                             "Wait, let me add again: {a} plus {b} equals {c}. "
                             "Adding once more {a} plus {b}.", 40.0, 0.0),
    "language_mixing:drift": ("所以 我们 需要 计算 这个 面积 {a} 然后 再 看 {b} 的 长度 因此 答案 是 {c} 。", 0.0, 0.6),
    "grounding_loss:cannot_see": ("I'm sorry, I can't see the image you provided, so I cannot tell what the figure "
                                  "shows about item {a}; please describe picture {b}.", 0.0, 0.0),
}


def synthetic_units(n_per_kind: int = 40, seed: int = 1) -> tuple[pd.DataFrame, list[str]]:
    rng = random.Random(seed)
    rows, truth = [], []
    filler = ["maybe", "then", "first", "value", "check", "think", "number", "careful"]
    for kind, (template, period, share) in KINDS.items():
        for i in range(n_per_kind):
            a, b = rng.randint(2, 99), rng.randint(2, 99)
            text = template.format(a=a, b=b, c=a + b) + " " + " ".join(rng.sample(filler, 3))
            rows.append({"run_id": "r", "sample_id": f"{kind}-{i}", "step_index": i, "kinds": [kind],
                         "score": rng.uniform(0.5, 1.0), "onset": rng.uniform(0, 1), "period": period or None,
                         "mixing_share": share or None, "text": text, "length": rng.randint(500, 5000),
                         "correct": rng.random() < 0.5})
            truth.append(kind)
    return pd.DataFrame(rows), truth


@pytest.mark.parametrize("method", ["hdbscan", "kmeans"])
def test_each_kind_lands_in_clusters_it_dominates(method: str) -> None:
    units, truth = synthetic_units()
    labels, coords, dist, _params = cluster_units(units, method=method, k=3, seed=0)
    frame = pd.DataFrame({"kind": truth, "cluster": labels})
    dominant = frame[frame.cluster >= 0].groupby("cluster")["kind"].agg(lambda s: s.value_counts().index[0])
    for kind in KINDS:
        mine = frame[frame.kind == kind]
        in_own = sum(1 for c in mine.cluster if c >= 0 and dominant[c] == kind)
        assert in_own / len(mine) >= 0.9, (kind, frame.groupby(["kind", "cluster"]).size())
    assert coords.shape == (len(units), 2) and np.isfinite(coords).all()
    assert (dist >= 0).all()


def test_labels_are_non_empty_and_distinctive() -> None:
    units, _ = synthetic_units()
    _labels, _, _, params = cluster_units(units, method="kmeans", k=3, seed=0)
    info = params["labels"]
    names = [info[c][0] for c in sorted(info)]
    term_sets = [tuple(info[c][1]) for c in sorted(info)]
    assert all(n.strip() for n in names)
    assert len(set(names)) == len(names) and len(set(term_sets)) == len(term_sets)
    # each label names the failure kind that dominates it
    assert {n.split(" — ")[1].split(" + ")[0].rsplit(" ", 1)[0] for n in names} == set(KINDS)


def test_same_seed_same_result() -> None:
    units, _ = synthetic_units()
    a = cluster_units(units, method="hdbscan", seed=3)
    b = cluster_units(units.copy(), method="hdbscan", seed=3)
    assert (a[0] == b[0]).all() and np.allclose(a[1], b[1]) and a[3]["labels"] == b[3]["labels"]


def test_store_round_trip_replaces_on_rerun(tmp_path) -> None:
    from workbench.demo import build_demo
    db = tmp_path / "w.duckdb"
    run = build_demo(db)
    first = run_clustering(db, runs=[run], method="kmeans", k=3, seed=0)
    second = run_clustering(db, runs=[run], method="kmeans", k=3, seed=0)
    with connect(db) as con:
        n_runs = con.execute("SELECT count(*) FROM cluster_runs").fetchone()[0]
        n_members = con.execute("SELECT count(*) FROM cluster_members").fetchone()[0]
        reps = con.execute("SELECT count(*) FROM cluster_members WHERE representative").fetchone()[0]
        labels = [r[0] for r in con.execute("SELECT label FROM clusters ORDER BY cluster_id").fetchall()]
    assert n_runs == 1 and n_members == len(first.units) == len(second.units)
    assert reps >= 3 and all(labels)
    assert labels == second.clusters.sort_values("cluster_id")["label"].tolist()


def test_unknown_run_is_a_usage_error(tmp_path) -> None:
    from workbench.demo import build_demo
    from workbench.errors import UsageError
    db = tmp_path / "w.duckdb"
    build_demo(db)
    with pytest.raises(UsageError, match="nope"):
        run_clustering(db, runs=["nope"])
