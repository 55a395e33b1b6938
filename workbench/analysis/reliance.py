"""Grounding-loss detector, model tiers: the trace stops relying on the image.

Input: per-step curves from the probe (`probe_steps`): the attention lift on the image (tier
`attention`: the share of attention on image tokens divided by the share uniform attention would
give, so the share's natural dilution as the trace grows and more text keys compete is not read as
forgetting) and visual dependence, the mean per-token log-probability gain from the image (tier
`visual_dependence`). Pure: numbers in, findings out.

Rule, per tier: the *early level* is the token-weighted mean of the curve over the steps that
cover the first `early_share` (20%) of the trace's tokens. A finding is a *sustained* drop: a
run of consecutive later steps, each below `fraction` x early level, that together hold at least
`sustain_share` (15%) of the trace's tokens and at least `min_steps` steps. Onset = the first
step of the first such run. Traces whose early level is itself negligible (the trace never
relied on the image: dependence < 0.05 nats/token) are not flagged: there is nothing to lose.
Score = 1 - run level / early level. Severity: high when the run reaches the end of the trace and
score >= 0.75, medium when it reaches the end, else low (it recovered).

The fractions are defaults chosen on the shape of the curves, not calibrated on labelled QVQ
traces (no GPU to probe them here); `detect(..., fraction=...)` and `workbench probe
--fraction-attention/--fraction-dependence` change them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.analysis.grounding import NAME as GROUNDING_NAME
from workbench.records import Finding

NAME = GROUNDING_NAME   # the model tiers are tiers of the grounding_loss detector (its registry entry lists them)
VERSION = "grounding-model-1"
TIERS = {"attention": ("image_attention_lift", 0.5, 0.0),
         "visual_dependence": ("visual_dependence", 0.35, 0.05)}


def early_level(values: np.ndarray, weights: np.ndarray, early_share: float = 0.2) -> tuple[float, int]:
    """Token-weighted mean over the steps covering the first `early_share` of tokens, and how
    many steps that is (at least one)."""
    total = weights.sum()
    cum = np.cumsum(weights)
    n_early = int(np.searchsorted(cum, early_share * total, side="left")) + 1
    n_early = min(max(n_early, 1), len(values))
    w = weights[:n_early]
    return float((values[:n_early] * w).sum() / max(w.sum(), 1)), n_early


def detect(steps: Sequence[dict], tier: str, *, fraction: float | None = None, early_share: float = 0.2,
           sustain_share: float = 0.15, min_steps: int = 2) -> list[Finding]:
    """steps: dicts with step_index, token_start, token_end, char_start, char_end and the tier's
    column. Steps without tokens or without a value are skipped."""
    col, default_fraction, floor = TIERS[tier]
    frac = default_fraction if fraction is None else fraction
    rows = [s for s in steps if s.get(col) is not None and not np.isnan(s[col])
            and s["token_end"] > s["token_start"]]
    if len(rows) < min_steps + 1:
        return []
    rows.sort(key=lambda s: s["step_index"])
    v = np.array([float(s[col]) for s in rows])
    w = np.array([float(s["token_end"] - s["token_start"]) for s in rows])
    early, n_early = early_level(v, w, early_share)
    if early < floor:
        return []
    thr = frac * early
    total = w.sum()
    i = n_early
    while i < len(rows):
        if v[i] >= thr:
            i += 1
            continue
        j = i
        while j < len(rows) and v[j] < thr:
            j += 1
        run_w = w[i:j].sum()
        if j - i >= min_steps and run_w >= sustain_share * total:
            level = float((v[i:j] * w[i:j]).sum() / run_w)
            score = float(np.clip(1 - level / early, 0, 1))
            to_end = j == len(rows)
            severity = "high" if to_end and score >= 0.75 else ("medium" if to_end else "low")
            first, last = rows[i], rows[j - 1]
            what = "attention on the image" if tier == "attention" else "visual dependence"
            return [Finding(
                detector=NAME, severity=severity, score=round(score, 4), char_start=int(first["char_start"]),
                char_end=int(last["char_end"]), step_index=int(first["step_index"]), tier=tier,
                evidence=(f"{what} falls to {level:.3g} from an early level of {early:.3g} "
                          f"(below {frac:.0%} of it) from step {first['step_index']} "
                          + ("to the end of the trace" if to_end else f"to step {last['step_index']}")),
                details={"rule": f"model:{tier}", "early_level": round(early, 6), "threshold": round(thr, 6),
                         "run_level": round(level, 6), "onset_step": int(first["step_index"]),
                         "onset_token": int(first["token_start"]), "end_step": int(last["step_index"]),
                         "run_tokens": int(run_w), "ran_to_end": to_end,
                         "relative_onset": round(float(first["token_start"]) / max(float(rows[-1]["token_end"]), 1), 4),
                         "fraction": frac})]
        i = j
    return []


def detect_all(steps: Sequence[dict], **kw: float) -> list[Finding]:
    """Both model tiers (visual dependence first: the stronger evidence)."""
    out: list[Finding] = []
    for tier in ("visual_dependence", "attention"):
        out += detect(steps, tier, fraction=kw.get(f"fraction_{tier}"))
    return out
