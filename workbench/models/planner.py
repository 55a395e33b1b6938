"""Will this model fit on these GPUs, and how many sequences at once? Planned on the meta device.

`plan(model, n_gpus, gpu_memory, max_new_tokens, batch_size=B)` builds the model skeleton with
accelerate's `init_empty_weights` (no weights read), asks `infer_auto_device_map` for a placement
under per-GPU budgets that leave room for the KV cache of B sequences at the planned context and a
runtime reserve, and reports per-GPU weight and KV-cache memory, plus the largest batch whose KV
cache fits beside the placed weights. The loader places the weights with exactly this device map
(`loader.planned_device_map`), so what `workbench plan` prints is what `workbench run` does.
`suggest()` compares group sizes for data-parallel replicas. An impossible set-up (total weights
> total memory) is refused by arithmetic before any skeleton is built. `model` is a checkpoint
folder, or `qvq-72b-preview` (the configuration shipped in workbench/models/configs/).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.models.loader import parse_memory

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
KNOWN = {"qvq-72b-preview": CONFIG_DIR / "qvq-72b-preview.json",
         "qwen/qvq-72b-preview": CONFIG_DIR / "qvq-72b-preview.json"}
RUNTIME_RESERVE = 2 * 2**30      # CUDA context, activations, allocator slack per GPU
DEFAULT_PROMPT_TOKENS = 2048     # system + question + image tokens (a 1280x1280 image is ~1.6k tokens)
USEFUL_BATCH = 8                 # suggest() prefers the smallest GPU group that decodes at least this many
GiB = 2**30
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}


@dataclass
class Plan:
    """A placement of one model copy over `n_gpus` GPUs with KV room for `batch_size` sequences."""
    model: str
    n_gpus: int
    gpu_memory: int
    context_tokens: int
    weights_total: int
    kv_total: int                    # KV cache of ONE sequence at the planned context
    batch_size: int = 1
    dtype: str = "bfloat16"
    weights_per_gpu: dict[int, int] = field(default_factory=dict)
    kv_per_gpu: dict[int, int] = field(default_factory=dict)     # for batch_size sequences
    layers_per_gpu: dict[int, int] = field(default_factory=dict)
    n_layers: int = 0
    fits: bool = False
    reason: str = ""
    max_batch: int = 0               # largest batch whose KV cache fits beside the placed weights
    device_map: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        lines = [f"model {self.model}: {self.weights_total / GiB:.1f} GiB of weights ({self.dtype}), "
                 f"{self.n_layers} decoder layers",
                 f"context {self.context_tokens} tokens -> KV cache {self.kv_total / GiB:.2f} GiB per sequence, "
                 f"{self.kv_total * self.batch_size / GiB:.1f} GiB for a batch of {self.batch_size}",
                 f"{self.n_gpus} x {self.gpu_memory / GiB:.0f} GiB GPUs:"]
        for g in range(self.n_gpus if self.device_map else 0):
            w, kv = self.weights_per_gpu.get(g, 0), self.kv_per_gpu.get(g, 0)
            lines.append(f"  GPU {g}: {self.layers_per_gpu.get(g, 0):3d} layers, weights {w / GiB:6.1f} GiB + KV "
                         f"{kv / GiB:5.1f} GiB + reserve {RUNTIME_RESERVE / GiB:.0f} GiB = "
                         f"{(w + kv + RUNTIME_RESERVE) / GiB:6.1f} / {self.gpu_memory / GiB:.0f} GiB")
        if self.device_map:
            lines.append(f"largest batch per copy of the model: {self.max_batch} sequences of {self.context_tokens} "
                         "tokens (transformers --batch-size, vLLM max_num_seqs)")
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
         prompt_tokens: int = DEFAULT_PROMPT_TOKENS, *, batch_size: int = 1, dtype: str = "bfloat16") -> Plan:
    """Place the model over `n_gpus` GPUs of `gpu_memory` each; see the module docstring."""
    if n_gpus < 1:
        raise WorkbenchError("--gpus must be at least 1")
    if batch_size < 1:
        raise WorkbenchError("--batch-size must be at least 1")
    if dtype not in DTYPE_BYTES:
        raise WorkbenchError(f"unknown dtype {dtype!r}: use bfloat16, float16 or float32")
    mem = parse_memory(gpu_memory)
    cfg = load_config_dict(model)
    nbytes = DTYPE_BYTES[dtype]
    ctx = prompt_tokens + max_new_tokens
    p = Plan(model=model, n_gpus=n_gpus, gpu_memory=mem, context_tokens=ctx, batch_size=batch_size, dtype=dtype,
             weights_total=estimate_weight_bytes(cfg, nbytes), kv_total=kv_bytes_per_token(cfg, nbytes) * ctx,
             n_layers=_text_cfg(cfg)["num_hidden_layers"])
    usable = n_gpus * (mem - RUNTIME_RESERVE)
    need = p.weights_total + p.kv_total * batch_size
    if need > usable:
        p.reason = (f"needs ~{need / GiB:.0f} GiB (weights {p.weights_total / GiB:.0f} GiB + KV "
                    f"{p.kv_total * batch_size / GiB:.1f} GiB for {batch_size} sequence(s)) but {n_gpus} x "
                    f"{mem / GiB:.0f} GiB leaves {usable / GiB:.0f} GiB after a "
                    f"{RUNTIME_RESERVE / GiB:.0f} GiB reserve per GPU; use more or larger GPUs"
                    + (", or a smaller batch" if batch_size > 1 else ""))
        return p
    _place(p, json.dumps(cfg, sort_keys=True))
    return p


@lru_cache(maxsize=4)
def _skeleton(cfg_json: str, dtype: str) -> tuple[Any, dict[str, int], list[str]]:
    """The model on the meta device (no weights), its module sizes and its no-split classes."""
    import torch
    from accelerate import init_empty_weights
    from accelerate.utils import compute_module_sizes
    from transformers import AutoConfig, AutoModelForImageTextToText
    cfg = {k: v for k, v in json.loads(cfg_json).items() if not k.startswith("_")}
    config = AutoConfig.for_model(**cfg)
    tdtype = getattr(torch, dtype)
    with init_empty_weights():
        model = AutoModelForImageTextToText.from_config(config, dtype=tdtype)
    return model, compute_module_sizes(model, dtype=tdtype), list(model._no_split_modules or [])


def _place(p: Plan, cfg_json: str) -> None:
    import logging

    import torch
    from accelerate import infer_auto_device_map
    from accelerate.utils import get_balanced_memory
    model, sizes, no_split = _skeleton(cfg_json, p.dtype)
    tdtype = getattr(torch, p.dtype)
    p.weights_total = sizes[""]
    kv_layer = p.kv_total / p.n_layers              # one sequence, one layer
    # Budget for weights: leave each GPU room for its share of the batch's KV cache and the reserve.
    budget = int(p.gpu_memory - RUNTIME_RESERVE - p.kv_total * p.batch_size / p.n_gpus)
    quiet = logging.getLogger("accelerate")
    level = quiet.level
    quiet.setLevel(logging.ERROR)   # "Device 0 is not available": expected, we plan for GPUs we don't have
    try:
        # The same balancing transformers applies for device_map="auto".
        balanced = get_balanced_memory(model, max_memory={g: budget for g in range(p.n_gpus)},
                                       no_split_module_classes=no_split, dtype=tdtype)
        dm = infer_auto_device_map(model, max_memory=balanced, no_split_module_classes=no_split, dtype=tdtype)
    finally:
        quiet.setLevel(level)
    p.device_map = dict(dm)
    off = sorted({str(d) for d in dm.values() if not isinstance(d, int)})
    for name, dev in dm.items():
        if isinstance(dev, int):
            p.weights_per_gpu[dev] = p.weights_per_gpu.get(dev, 0) + sizes[name]
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
    for dev in layer_dev.values():
        if isinstance(dev, int):
            p.layers_per_gpu[dev] = p.layers_per_gpu.get(dev, 0) + 1
    for g, n in p.layers_per_gpu.items():
        p.kv_per_gpu[g] = int(kv_layer * n * p.batch_size)
    placed = sum(p.layers_per_gpu.values())
    over = [g for g in range(p.n_gpus)
            if p.weights_per_gpu.get(g, 0) + p.kv_per_gpu.get(g, 0) + RUNTIME_RESERVE > p.gpu_memory]
    if off or placed < p.n_layers:
        p.reason = f"{p.n_layers - placed} decoder layers / modules would go to {', '.join(off) or 'nowhere'}"
    elif over:
        p.reason = f"GPU(s) {over} over budget once the KV cache is added"
    # the largest batch: every GPU must hold the KV cache of its own layers for every sequence
    rooms = [(p.gpu_memory - RUNTIME_RESERVE - p.weights_per_gpu.get(g, 0)) // max(1, int(kv_layer * n))
             for g, n in p.layers_per_gpu.items() if n]
    p.max_batch = max(0, int(min(rooms))) if rooms and not off else 0
    p.fits = not p.reason


@dataclass
class Option:
    gpus_per_replica: int
    replicas: int
    max_batch: int          # per replica
    fits: bool
    tensor_parallel_ok: bool = True   # vLLM's tensor parallel needs the group size to divide the attention heads

    @property
    def concurrent(self) -> int:
        return self.replicas * self.max_batch


def suggest(model: str, n_gpus: int, gpu_memory: str | int, max_new_tokens: int = 8192,
            prompt_tokens: int = DEFAULT_PROMPT_TOKENS, *,
            dtype: str = "bfloat16") -> tuple[list[Option], Option | None]:
    """Every way to split `n_gpus` into equal replica groups, and the suggested one: the smallest
    group whose copy of the model decodes at least USEFUL_BATCH sequences at once (more replicas =
    more GPUs computing at the same time; a transformers device map runs its GPUs one after the
    other), else the group with the most concurrent sequences."""
    heads = _text_cfg(load_config_dict(model))["num_attention_heads"]
    opts = []
    for g in range(1, n_gpus + 1):
        if n_gpus % g:
            continue
        pl = plan(model, g, gpu_memory, max_new_tokens, prompt_tokens, dtype=dtype)
        opts.append(Option(g, n_gpus // g, pl.max_batch if pl.fits else 0, pl.fits, heads % g == 0))
    ok = [o for o in opts if o.fits and o.max_batch >= 1]
    useful = [o for o in ok if o.max_batch >= USEFUL_BATCH]
    best = useful[0] if useful else (max(ok, key=lambda o: o.concurrent) if ok else None)
    return opts, best


def suggestion_text(opts: list[Option], best: Option | None) -> str:
    lines = ["GPUs per replica | replicas | largest batch per replica | sequences at once"]
    for o in opts:
        lines.append(f"{o.gpus_per_replica:16d} | {o.replicas:8d} | "
                     f"{(str(o.max_batch) if o.fits else 'does not fit'):>25} | {o.concurrent if o.fits else 0:>17}")
    if best is None:
        lines.append("no split of these GPUs holds the model")
    else:
        vllm = (f"--replicas {best.replicas} --tensor-parallel {best.gpus_per_replica} (vllm)"
                if best.tensor_parallel_ok else "vllm: tensor parallel must divide the attention heads; use "
                "--pipeline-parallel for the rest")
        lines.append(f"suggested: --replicas {best.replicas} --batch-size {best.max_batch} (transformers); {vllm}")
    return "\n".join(lines)
