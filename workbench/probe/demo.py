"""Probe the synthetic demo run with a tiny random Qwen2-VL, so the probe views have something to
show on a fresh install. The maps and curves of a random model demonstrate the views and mean
nothing about any real model: the probe rows name the model `tiny-random-qwen2-vl (demo)`."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from workbench.config import probe_dir

DEMO_MODEL_NAME = "tiny-random-qwen2-vl (demo)"


def can_probe() -> bool:
    """True when the model extra (torch + transformers) is installed."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))


def probe_demo(db: str | Path | None, run_id: str = "demo-synthetic", *, model_dir: str | Path | None = None,
               log: Callable[[str], None] = lambda m: None) -> int:
    """Build (once) the tiny model and probe every sample of the demo run; returns how many."""
    from workbench.models.loader import load_model
    from workbench.models.tiny import build_tiny_model
    from workbench.probe.run import ProbeOptions, probe_samples
    folder = Path(model_dir or probe_dir(db) / "_tiny-demo-model")
    if not (folder / "config.json").exists():
        build_tiny_model(folder, layers=4, heads=4, kv_heads=2, hidden=64, seed=7)
    lm = load_model(folder, dtype="float32")
    opts = ProbeOptions(model=DEMO_MODEL_NAME, db=str(db) if db else None, run=run_id, layers="all", head_max=True)
    return probe_samples(opts, lm=lm, log=log).probed
