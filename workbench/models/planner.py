"""Will this model fit on these GPUs? Planned on the meta device from the real configuration.

`plan(model, n_gpus, gpu_memory, max_new_tokens)` builds the model skeleton with accelerate's
`init_empty_weights` (no weights read), asks `infer_auto_device_map` for a placement under
per-GPU budgets that leave room for the KV cache and a runtime reserve, and reports per-GPU
weight and KV-cache memory. An impossible set-up (total weights > total memory) is refused by
arithmetic before any skeleton is built. `model` is a checkpoint folder, or `qvq-72b-preview`
(the configuration shipped in workbench/models/configs/).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.models.loader import parse_memory

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
KNOWN = {"qvq-72b-preview": CONFIG_DIR / "qvq-72b-preview.json", "qwen/qvq-72b-preview": CONFIG_DIR / "qvq-72b-preview.json"}
RUNTIME_RESERVE = 2 * 2**30      # CUDA context, activations, allocator slack per GPU
DEFAULT_PROMPT_TOKENS = 2048     # system + question + image tokens (a 1280x1280 image is ~1.6k tokens)
GiB = 2**30


@dataclass
class Plan:
    model: str
    n_gpus: int
    gpu_memory: int
    context_tokens: int
    weights_total: int
    kv_total: int
    weights_per_gpu: dict[int, int] = field(default_factory=dict)
    kv_per_gpu: dict[int, int] = field(default_factory=dict)
    layers_per_gpu: dict[int, int] = field(default_factory=dict)
    n_layers: int = 0
    fits: bool = False
    reason: str = ""
    device_map: dict[str, object] = field(default_factory=dict)

    def text(self) -> str:
        lines = [f"model {self.model}: {self.weights_total / GiB:.1f} GiB of weights (bf16), {self.n_layers} decoder layers",
                 f"context {self.context_tokens} tokens -> KV cache {self.kv_total / GiB:.1f} GiB in total",
                 f"{self.n_gpus} x {self.gpu_memory / GiB:.0f} GiB GPUs:"]
        for g in range(self.n_gpus if self.device_map else 0):
            w, kv = self.weights_per_gpu.get(g, 0), self.kv_per_gpu.get(g, 0)
            lines.append(f"  GPU {g}: {self.layers_per_gpu.get(g, 0):3d} layers, weights {w / GiB:6.1f} GiB + KV "
                         f"{kv / GiB:5.1f} GiB + reserve {RUNTIME_RESERVE / GiB:.0f} GiB = "
                         f"{(w + kv + RUNTIME_RESERVE) / GiB:6.1f} / {self.gpu_memory / GiB:.0f} GiB")
        lines.append("FITS" if self.fits else f"DOES NOT FIT: {self.reason}")
        return "\n".join(lines)


def load_config_dict(model: str) -> dict:
    key = model.lower()
    if key in KNOWN:
        return json.loads(KNOWN[key].read_text())
    from workbench.models.loader import read_config
    return read_config(model)


def _text_cfg(cfg: dict) -> dict:
    return cfg.get("text_config") or cfg


def estimate_weight_bytes(cfg: dict, bytes_per_param: int = 2) -> int:
    """Parameter bytes from the config alone (decoder + embeddings + vision tower), for the fast refusal."""
    t = _text_cfg(cfg)
    h, n, inter, vocab = t["hidden_size"], t["num_hidden_layers"], t["intermediate_size"], t["vocab_size"]
    heads, kv = t["num_attention_heads"], t.get("num_key_value_heads", t["num_attention_heads"])
    hd = h // heads
    per_layer = h * heads * hd + 2 * h * kv * hd + heads * hd * h + 3 * h * inter + 2 * h
    v = cfg.get("vision_config") or {}
    vis = 0
    if v:
        e = v.get("embed_dim", 0)
        vis = v.get("depth", 0) * (4 * e * e + 2 * e * e * v.get("mlp_ratio", 4)) + e * e * 4 + e * 4 * h
    return (n * per_layer + 2 * vocab * h + vis) * bytes_per_param


def kv_bytes_per_token(cfg: dict, bytes_per_value: int = 2) -> int:
    t = _text_cfg(cfg)
    hd = t.get("head_dim") or t["hidden_size"] // t["num_attention_heads"]
    return 2 * t["num_hidden_layers"] * t.get("num_key_value_heads", t["num_attention_heads"]) * hd * bytes_per_value


def plan(model: str, n_gpus: int, gpu_memory: str | int, max_new_tokens: int = 8192,
         prompt_tokens: int = DEFAULT_PROMPT_TOKENS) -> Plan:
    """Place the model over `n_gpus` GPUs of `gpu_memory` each; see the module docstring."""
    if n_gpus < 1:
        raise WorkbenchError("--gpus must be at least 1")
    mem = parse_memory(gpu_memory)
    cfg = load_config_dict(model)
    t = _text_cfg(cfg)
    n_layers = t["num_hidden_layers"]
    ctx = prompt_tokens + max_new_tokens
    kv_total = kv_bytes_per_token(cfg) * ctx
    p = Plan(model=model, n_gpus=n_gpus, gpu_memory=mem, context_tokens=ctx,
             weights_total=estimate_weight_bytes(cfg), kv_total=kv_total, n_layers=n_layers)
    usable = n_gpus * (mem - RUNTIME_RESERVE)
    if p.weights_total + kv_total > usable:
        p.reason = (f"needs ~{(p.weights_total + kv_total) / GiB:.0f} GiB (weights {p.weights_total / GiB:.0f} GiB + "
                    f"KV {kv_total / GiB:.1f} GiB) but {n_gpus} x {mem / GiB:.0f} GiB leaves {usable / GiB:.0f} GiB "
                    f"after a {RUNTIME_RESERVE / GiB:.0f} GiB reserve per GPU; use more or larger GPUs")
        return p
    _place(p, cfg)
    return p


def _place(p: Plan, cfg: dict) -> None:
    import torch
    from accelerate import init_empty_weights, infer_auto_device_map
    from accelerate.utils import compute_module_sizes, get_balanced_memory
    from transformers import AutoConfig
    cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
    config = AutoConfig.for_model(**cfg)
    from transformers import AutoModelForImageTextToText
    with init_empty_weights():
        model = AutoModelForImageTextToText.from_config(config, dtype=torch.bfloat16)
    sizes = compute_module_sizes(model, dtype=torch.bfloat16)
    p.weights_total = sizes[""]
    kv_layer = p.kv_total / p.n_layers
    # Budget for weights: leave each GPU room for its share of the KV cache and the reserve.
    per_gpu_kv = p.kv_total / p.n_gpus
    budget = int(p.gpu_memory - RUNTIME_RESERVE - per_gpu_kv)
    no_split = list(model._no_split_modules or [])
    import logging
    quiet = logging.getLogger("accelerate")
    level = quiet.level
    quiet.setLevel(logging.ERROR)   # "Device 0 is not available": expected, we plan for GPUs we don't have
    try:
        # The same balancing transformers applies for device_map="auto".
        balanced = get_balanced_memory(model, max_memory={g: budget for g in range(p.n_gpus)},
                                       no_split_module_classes=no_split, dtype=torch.bfloat16)
        dm = infer_auto_device_map(model, max_memory=balanced, no_split_module_classes=no_split,
                                   dtype=torch.bfloat16)
    finally:
        quiet.setLevel(level)
    p.device_map = dm
    off = sorted({str(d) for d in dm.values() if not isinstance(d, int)})
    for name, dev in dm.items():
        if isinstance(dev, int):
            p.weights_per_gpu[dev] = p.weights_per_gpu.get(dev, 0) + sizes[name]
    import re
    layer_dev: dict[int, object] = {}
    for name, dev in dm.items():
        m = re.search(r"language_model\.layers(?:\.(\d+))?$", name)
        if m and m.group(1) is not None:
            layer_dev[int(m.group(1))] = dev
        elif m:
            for i in range(p.n_layers):
                layer_dev[i] = dev
        elif name in ("", "model", "model.language_model"):
            for i in range(p.n_layers):
                layer_dev.setdefault(i, dev)
    for i, dev in layer_dev.items():
        if isinstance(dev, int):
            p.layers_per_gpu[dev] = p.layers_per_gpu.get(dev, 0) + 1
            p.kv_per_gpu[dev] = p.kv_per_gpu.get(dev, 0) + int(kv_layer)
    placed = sum(p.layers_per_gpu.values())
    over = [g for g in range(p.n_gpus)
            if p.weights_per_gpu.get(g, 0) + p.kv_per_gpu.get(g, 0) + RUNTIME_RESERVE > p.gpu_memory]
    if off or placed < p.n_layers:
        p.reason = f"{p.n_layers - placed} decoder layers / modules would go to {', '.join(off) or 'nowhere'}"
    elif over:
        p.reason = f"GPU(s) {over} over budget once the KV cache is added"
    p.fits = not p.reason


def check_fits(model: str, n_gpus: int, gpu_memory: str | int, max_new_tokens: int) -> Plan:
    """Raise WorkbenchError with the plan when the model cannot fit (used by `workbench run`)."""
    pl = plan(model, n_gpus, gpu_memory, max_new_tokens)
    if not pl.fits:
        raise WorkbenchError("the model does not fit on the chosen GPUs:\n" + pl.text())
    return pl
