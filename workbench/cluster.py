"""Failure clustering, offline: TF-IDF (words + character n-grams) of each unit's flagged span with its
context, reduced with truncated SVD; HDBSCAN by default, k-means optional; deterministic for a seed.

The features are the text only, never the detector's name or severity: clusters that merely restated
`detector:severity` (the old one-hot feature weighed as much as the whole text) told the reader nothing
new. `purity(...)` measures how far clusters still follow detector:severity (1.0 = they restate it).

Each cluster gets a readable label (its most distinctive words and two-word phrases by class-based
TF-IDF, filler words of reasoning traces and non-words left out, plus the failure kinds it mixes), size,
accuracy and the units closest to its centre as representatives (their flagged span is highlighted).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


# Words every reasoning trace uses whatever went wrong: they make labels like "like, option, think".
FILLER = {"like", "option", "options", "think", "doesn", "don", "didn", "isn", "aren", "wasn", "let", "ll", "ve",
          "re", "maybe", "wait", "hmm", "okay", "ok", "actually", "just", "really", "perhaps", "need", "know",
          "right", "say", "says", "said", "sure", "going", "make", "look", "looks", "looking", "thing", "things",
          "way", "answer", "question", "correct", "given", "problem", "step", "check", "consider", "mean", "means",
          "seems", "seem", "probably", "possible", "possibly", "alternatively", "specifically", "exactly", "good",
          "well", "yes", "no", "also", "again", "first", "second", "next", "now", "then", "thus", "therefore",
          "hence", "since", "because", "though", "although", "however", "still", "yet", "can", "could", "would",
          "should", "might", "must", "will", "shall", "use", "used", "using", "based", "thinking",
          "recall", "remember", "assume", "assuming", "suppose", "figure", "wrong", "calculate", "calculation"}


def _label_tokens(text: str) -> list[str]:
    """Words for labels: alphabetic words of 3+ letters (any script) or CJK runs; no digits, no
    punctuation, no filler."""
    import re
    words = re.findall(r"[^\W\d_]{3,}|[\u3400-\u9fff]{2,}", text.lower())
    return [w for w in words if w not in FILLER]


def split_spans(units: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(flagged span, its context) per unit; a unit without span offsets is all span."""
    spans, contexts = [], []
    has = "span_start" in units and "span_end" in units
    for i, text in enumerate(units["text"].fillna("").tolist()):
        a = units["span_start"].iloc[i] if has else None
        b = units["span_end"].iloc[i] if has else None
        if a is None or b is None or a != a or b != b:
            spans.append(text)
            contexts.append("")
        else:
            a, b = int(a), int(b)
            spans.append(text[a:b])
            contexts.append(text[:a] + " " + text[b:])
    return spans, contexts


def features(units: pd.DataFrame, seed: int) -> tuple[np.ndarray, tuple, tuple]:
    """Dense feature matrix of the units' texts, the (span, context) word vectorisers and their TF-IDF
    matrices (for labels). The flagged span (words and character n-grams) and its context (words) are
    each scaled to unit length, the context at half weight: what went wrong first, what it was about
    second. Text only: detector and severity are not features."""
    from scipy.sparse import hstack
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
    from sklearn.preprocessing import normalize
    spans, contexts = split_spans(units)
    small = len(spans) <= 20
    stop = set(ENGLISH_STOP_WORDS) | FILLER

    def word_vectoriser() -> TfidfVectorizer:
        return TfidfVectorizer(max_features=20000, min_df=1 if small else 2, ngram_range=(1, 2), sublinear_tf=True,
                               tokenizer=lambda t: [w for w in _label_tokens(t) if w not in stop], token_pattern=None,
                               lowercase=False)
    span_words, ctx_words = word_vectoriser(), word_vectoriser()
    try:
        sw = span_words.fit_transform(spans)
    except ValueError:   # every span word is a stop word or filler ("Check it again now."): characters only
        span_words, sw = None, None
    try:
        cw = ctx_words.fit_transform(contexts)
    except ValueError:   # no context words at all (units without offsets)
        ctx_words, cw = None, None
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), max_features=20000, sublinear_tf=True,
                            min_df=1 if small else 2)
    sc = chars.fit_transform(spans)
    spans_part = normalize(hstack([sw, sc]).tocsr() if sw is not None else sc)
    parts = [spans_part] + ([0.5 * normalize(cw)] if cw is not None else [])
    both = hstack(parts).tocsr()
    n_comp = max(2, min(50, both.shape[1] - 1, len(spans) - 1))
    X = normalize(TruncatedSVD(n_components=n_comp, random_state=seed).fit_transform(both))
    return X, (span_words, ctx_words), (sw, cw)


def _top_terms(vectoriser: Any, matrix: Any, idx: np.ndarray, n: int) -> list[str]:
    """A cluster's most distinctive terms (class-based TF-IDF, weighted by how many of its units use
    them); a word inside an already chosen phrase is not repeated."""
    if vectoriser is None or matrix is None:
        return []
    vocab = np.array(vectoriser.get_feature_names_out())
    overall = np.asarray(matrix.mean(axis=0)).ravel() + 1e-9
    mean = np.asarray(matrix[idx].mean(axis=0)).ravel()
    share = np.asarray((matrix[idx] > 0).mean(axis=0)).ravel()
    distinct = mean * np.log(1 + mean / overall) * np.sqrt(share)
    terms: list[str] = []
    # stable: equal scores keep vocabulary order (the default sort orders ties by numpy version and CPU)
    for i in np.argsort(-distinct, kind="stable"):
        if len(terms) >= n or mean[i] <= 0:
            break
        t = str(vocab[i])
        if not any(t in u or u in t for u in terms):
            terms.append(t)
    return terms


def label_clusters(labels: np.ndarray, words: tuple[Any, Any], wm: tuple[Any, Any], units: pd.DataFrame,
                   n_terms: int = 3) -> dict[int, tuple]:
    """Label = the flagged spans' most distinctive words, "about:" the context's, and the failure kinds
    the cluster mixes (with their shares)."""
    (span_words, ctx_words), (sw, cw) = words, wm
    out = {}
    for c in sorted(set(labels)):
        idx = np.where(labels == c)[0]
        span_terms = _top_terms(span_words, sw, idx, n_terms)
        ctx_terms = [t for t in _top_terms(ctx_words, cw, idx, 2 + n_terms) if t not in span_terms][:2]
        mix = pd.Series([k for ks in units.iloc[idx]["kinds"] for k in ks]).value_counts(normalize=True)
        kinds = " + ".join(f"{k} {v:.0%}" for k, v in mix.items() if v >= 0.2) or str(mix.index[0])
        name = "; ".join(span_terms) if span_terms else "(no distinctive words)"
        if ctx_terms:
            name += " (about: " + ", ".join(ctx_terms) + ")"
        if c == -1:
            name = "unclustered: " + name
        out[int(c)] = (f"{name} — {kinds}", span_terms + ctx_terms, {k: round(float(v), 3) for k, v in mix.items()})
    return out


def purity(cluster_ids: Sequence[Any], kinds: Sequence[str]) -> float:
    """Share of units whose (first) detector:severity is their cluster's most common one: 1.0 means the
    clusters only restate detector:severity; a detector-blind grouping of k equally common kinds
    would score about 1/k."""
    frame = pd.DataFrame({"c": list(cluster_ids), "k": [sorted(k)[0] if len(k) else "" for k in kinds]})
    if frame.empty:
        return float("nan")
    return float(frame.groupby("c")["k"].agg(lambda s: s.value_counts().iloc[0]).sum() / len(frame))


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
    return out, len(noise)


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
    params["purity_detector_severity"] = round(purity(labels, units["kinds"]), 3)
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


def _store(db: str | Path | None, result: ClusterResult, unit: str, method: str, runs: list[str]) -> None:
    with connect(db) as con:
        store_clusters.write_clustering(con, result.cluster_run_id, unit, method, runs, result.params,
                                        result.units, result.clusters)
