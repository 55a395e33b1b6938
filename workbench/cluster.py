"""Failure clustering, offline: TF-IDF (words + character n-grams) of the flagged text, reduced with
truncated SVD, plus detector features; HDBSCAN by default, k-means optional; deterministic for a seed.

Each cluster gets a readable label (its most distinctive terms by class-based TF-IDF plus its dominant
failure kinds), size, accuracy and the units closest to its centre as representatives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.errors import UsageError, WorkbenchError
from workbench.store import clusters as store_clusters
from workbench.store import connect
from workbench.store.runs import resolve_runs, run_ids

@dataclass
class ClusterResult:
    cluster_run_id: str
    units: pd.DataFrame                     # one row per unit with cluster, x, y, distance, representative
    clusters: pd.DataFrame                  # one row per cluster
    params: dict = field(default_factory=dict)


def features(units: pd.DataFrame, seed: int) -> tuple[np.ndarray, object, np.ndarray]:
    """Dense feature matrix, the word vectoriser and its TF-IDF matrix (for labels)."""
    from scipy.sparse import hstack
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize
    texts = units["text"].fillna("").tolist()
    words = TfidfVectorizer(max_features=20000, min_df=2 if len(texts) > 20 else 1, stop_words="english",
                            token_pattern=r"(?u)\b\w\w+\b|[^\x00-\x7f]")
    wm = words.fit_transform(texts)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), max_features=20000,
                            min_df=2 if len(texts) > 20 else 1)
    cm = chars.fit_transform(texts)
    both = hstack([wm, cm]).tocsr()
    n_comp = max(2, min(50, both.shape[1] - 1, len(texts) - 1))
    reduced = normalize(TruncatedSVD(n_components=n_comp, random_state=seed).fit_transform(both))
    kinds = sorted({k for ks in units["kinds"] for k in ks})
    onehot = np.array([[1.0 if k in ks else 0.0 for k in kinds] for ks in units["kinds"]])
    numeric = units[["score", "onset", "period", "mixing_share", "length"]].astype(float).fillna(0.0).to_numpy()
    numeric[:, 2] = np.log1p(numeric[:, 2])  # period and length on log scales
    numeric[:, 4] = np.log1p(numeric[:, 4])
    std = numeric.std(axis=0)
    numeric = (numeric - numeric.mean(axis=0)) / np.where(std > 0, std, 1)
    # True/False/NA, in whatever dtype DuckDB gave (an all-NULL column is a nullable boolean): +1/-1/0
    correct = np.array([0.0 if pd.isna(v) else (1.0 if v else -1.0) for v in units["correct"].astype(object)])[:, None]
    # the failure kind weighs as much as the whole text embedding (unit norm): clusters are about failures
    X = np.hstack([reduced, 2.0 * onehot, 0.15 * numeric, 0.1 * correct])
    return X, words, wm


def label_clusters(labels: np.ndarray, words, wm, units: pd.DataFrame, n_terms: int = 4) -> dict[int, tuple]:
    """Class-based TF-IDF terms + dominant failure kinds per cluster."""
    vocab = np.array(words.get_feature_names_out())
    overall = np.asarray(wm.mean(axis=0)).ravel() + 1e-9
    out = {}
    for c in sorted(set(labels)):
        idx = np.where(labels == c)[0]
        mean = np.asarray(wm[idx].mean(axis=0)).ravel()
        distinct = mean * np.log(1 + mean / overall)
        # stable: equal scores keep vocabulary order (the default sort orders ties by numpy version and CPU)
        terms = [str(vocab[i]) for i in np.argsort(-distinct, kind="stable")[:n_terms] if mean[i] > 0]
        mix = pd.Series([k for ks in units.iloc[idx]["kinds"] for k in ks]).value_counts(normalize=True)
        dominant = [k for k, v in mix.items() if v >= 0.3][:2] or list(mix.index[:1])
        name = ", ".join(terms) if terms else "(no distinctive terms)"
        if c == -1:
            name = "unclustered: " + name
        out[int(c)] = (f"{name} — {' + '.join(dominant)}", terms, {k: round(float(v), 3) for k, v in mix.items()})
    return out


def _assign_noise(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Attach HDBSCAN's noise points to the nearest cluster centre (as topic tools do for outliers), so
    every failure is in some cluster; their larger `distance` keeps them out of the representatives."""
    clusters = sorted(c for c in set(labels) if c != -1)
    noise = np.where(labels == -1)[0]
    if not clusters or not len(noise):
        return labels, 0
    centres = np.stack([X[labels == c].mean(axis=0) for c in clusters])
    nearest = np.argmin(np.linalg.norm(X[noise][:, None, :] - centres[None, :, :], axis=2), axis=1)
    out = labels.copy()
    out[noise] = np.array(clusters)[nearest]
    return out, int(len(noise))


def cluster_units(units: pd.DataFrame, *, method: str = "hdbscan", k: int | None = None, seed: int = 0,
                  min_cluster_size: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Cluster labels, 2-D map coordinates and distances to the cluster centre."""
    from sklearn.cluster import HDBSCAN, KMeans
    from sklearn.decomposition import PCA
    X, words, wm = features(units, seed)
    params: dict = {"seed": seed, "n_features": int(X.shape[1])}
    if method == "kmeans":
        k = k or max(2, min(20, int(np.sqrt(len(units) / 2))))
        model = KMeans(n_clusters=min(k, len(units)), n_init=10, random_state=seed).fit(X)
        labels = model.labels_
        params["k"] = k
    elif method == "hdbscan":
        mcs = min_cluster_size or max(2 if len(units) < 30 else 5, min(len(units) // 50, 100))
        labels = HDBSCAN(min_cluster_size=mcs, min_samples=max(2, mcs // 2), copy=True).fit_predict(X)
        params["min_cluster_size"] = mcs
        labels, params["noise_reassigned"] = _assign_noise(X, labels)
    else:
        raise UsageError(f"unknown method {method!r}: hdbscan or kmeans")
    coords = PCA(n_components=2, random_state=seed).fit_transform(X) if len(units) > 2 else np.zeros((len(units), 2))
    dist = np.zeros(len(units))
    for c in set(labels):
        idx = np.where(labels == c)[0]
        centre = X[idx].mean(axis=0)
        dist[idx] = np.linalg.norm(X[idx] - centre, axis=1)
    params["labels"] = label_clusters(labels, words, wm, units)
    return labels, coords, dist, params


def run_clustering(db: str | os.PathLike | None, *, runs: list[str] | None = None, unit: str = "step",
                   method: str = "hdbscan", k: int | None = None, seed: int = 0) -> ClusterResult:
    if unit not in store_clusters.UNITS_SQL:
        raise UsageError(f"--unit must be step or sample, not {unit!r}")
    with connect(db) as con:
        runs = resolve_runs(con, runs) or run_ids(con)
        units = store_clusters.units(con, unit, runs)
    if len(units) < 3:
        raise WorkbenchError(f"only {len(units)} flagged {unit}s in {', '.join(runs)}: run `workbench analyze` "
                             "first, or cluster more runs")
    units = units.sort_values(["run_id", "sample_id", "step_index"], na_position="first").reset_index(drop=True)
    labels, coords, dist, params = cluster_units(units, method=method, k=k, seed=seed)
    label_info = params.pop("labels")
    units["cluster_id"] = labels.astype(int)
    units["x"], units["y"], units["distance"] = coords[:, 0], coords[:, 1], dist
    units["representative"] = False
    for c in set(labels):
        if c == -1:
            continue
        idx = units.index[units["cluster_id"] == c]
        units.loc[units.loc[idx, "distance"].nsmallest(5).index, "representative"] = True
    rows = []
    for c, (name, terms, mix) in sorted(label_info.items()):
        members = units[units["cluster_id"] == c]
        # `correct` is True/False/None (object dtype): count, never average, the graded ones
        graded = [bool(v) for v in members["correct"].astype(object) if not pd.isna(v)]
        rows.append({"cluster_id": c, "label": name, "terms": terms, "size": len(members),
                     "accuracy": sum(graded) / len(graded) if graded else None, "failure_mix": mix})
    clusters = pd.DataFrame(rows)
    cluster_run_id = f"{unit}:{method}:{'+'.join(sorted(runs))}"
    result = ClusterResult(cluster_run_id, units, clusters, params)
    _store(db, result, unit, method, runs)
    return result


def _store(db, result: ClusterResult, unit: str, method: str, runs: list[str]) -> None:
    with connect(db) as con:
        store_clusters.write_clustering(con, result.cluster_run_id, unit, method, runs, result.params,
                                        result.units, result.clusters)
