"""Attention to image tokens from forward hooks, without full attention matrices.

A forward hook (with kwargs) on each chosen decoder layer's attention module
(`model.model.language_model.layers[i].self_attn`) receives the layer's normed hidden states and
rotary embeddings. It recomputes queries (only for the generated tokens) and keys with the
module's own projections and rotary function, takes the softmax over all keys in fp32 for one
chunk of queries at a time under the causal mask, and keeps only the image-token columns,
averaged over heads (and the max over heads when asked). The model itself keeps its fast sdpa or
flash kernels; the extra memory is O(heads x chunk x T) transient plus O(T_generated x image
tokens) per layer kept, never T x T. Results move to CPU as each layer finishes, so the same code
runs on a model spread over several GPUs by accelerate's device map.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


def decoder_layers(model: Any) -> Any:
    """The language model's decoder layers of a Qwen2-VL-family model (transformers 5.x layout)."""
    for path in ("model.language_model.layers", "language_model.layers", "model.layers"):
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
            return obj
        except AttributeError:
            continue
    raise TypeError(f"{type(model).__name__}: cannot find the language model's decoder layers")


@dataclass
class LayerCapture:
    mean: list[torch.Tensor] = field(default_factory=list)   # chunks of (queries, image tokens), head mean
    max: list[torch.Tensor] = field(default_factory=list)    # same, max over heads (when asked)
    share_max: list[torch.Tensor] = field(default_factory=list)  # (queries,): largest per-head image share


class ImageAttentionCapture:
    """Context manager: hooks on `layers`, capturing attention of queries >= query_start to the
    key positions `image_positions`. After the forward pass, `result()` gives per layer
    (n_queries, n_image) tensors (fp32, CPU)."""

    def __init__(self, model: Any, layers: list[int], image_positions: torch.Tensor, query_start: int,
                 *, chunk: int = 256, head_max: bool = False, out_dtype: torch.dtype = torch.float32) -> None:
        self.model = model
        self.layers = list(layers)
        self.image_positions = image_positions.long().cpu()
        self.query_start = int(query_start)
        self.chunk = int(chunk)
        self.head_max = head_max
        self.out_dtype = out_dtype
        self.captured: dict[int, LayerCapture] = {}
        self._handles: list[Any] = []

    def __enter__(self) -> ImageAttentionCapture:
        mods = decoder_layers(self.model)
        for li in self.layers:
            if not 0 <= li < len(mods):
                raise ValueError(f"layer {li} does not exist (the model has {len(mods)} decoder layers)")
            attn = mods[li].self_attn
            self._handles.append(attn.register_forward_hook(self._hook(li), with_kwargs=True))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _hook(self, li: int) -> Callable[[Any, tuple, dict, Any], None]:
        def hook(module: Any, args: tuple, kwargs: dict, output: Any) -> None:
            hs = kwargs.get("hidden_states", args[0] if args else None)
            cos, sin = kwargs["position_embeddings"]
            self.captured[li] = self._compute(module, hs, cos, sin)
        return hook

    @torch.no_grad()
    def _compute(self, attn: Any, hs: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> LayerCapture:
        rope = sys.modules[type(attn).__module__].apply_rotary_pos_emb
        bsz, T, _ = hs.shape
        if bsz != 1:
            raise ValueError("the probe runs one trace at a time (batch size 1)")
        hd = attn.head_dim
        n_rep = attn.num_key_value_groups
        qs = self.query_start
        k = attn.k_proj(hs).view(1, T, -1, hd).transpose(1, 2)                      # (1, kvh, T, hd)
        _, k = rope(k, k, cos, sin)
        q = attn.q_proj(hs[:, qs:]).view(1, T - qs, -1, hd).transpose(1, 2)         # (1, H, Q, hd)
        q, _ = rope(q, q, cos[:, qs:], sin[:, qs:])
        kvh = k.shape[1]
        # group queries by their KV head: (kvh, n_rep, Q, hd) against (kvh, T, hd)
        q = q[0].view(kvh, n_rep, T - qs, hd).float()
        k = k[0].float()
        img = self.image_positions.to(hs.device)
        key_pos = torch.arange(T, device=hs.device)
        cap = LayerCapture()
        for c0 in range(0, T - qs, self.chunk):
            c1 = min(T - qs, c0 + self.chunk)
            scores = torch.einsum("grqd,gkd->grqk", q[:, :, c0:c1], k) * attn.scaling      # (kvh, rep, C, T)
            qpos = torch.arange(qs + c0, qs + c1, device=hs.device)
            scores.masked_fill_(key_pos[None, :] > qpos[:, None], float("-inf"))
            probs = torch.softmax(scores, dim=-1)[..., img]                                  # (kvh, rep, C, I)
            probs = probs.reshape(-1, c1 - c0, img.numel())                                 # (H, C, I)
            cap.mean.append(probs.mean(0).to("cpu", self.out_dtype))
            if self.head_max:
                cap.max.append(probs.amax(0).to("cpu", self.out_dtype))
                cap.share_max.append(probs.sum(-1).amax(0).to("cpu", self.out_dtype))
            del scores, probs
        return cap

    def result(self) -> dict[int, dict[str, torch.Tensor]]:
        missing = [li for li in self.layers if li not in self.captured]
        if missing:
            raise RuntimeError(f"attention hooks did not fire for layers {missing}")
        out = {}
        for li in self.layers:
            c = self.captured[li]
            out[li] = {"mean": torch.cat(c.mean)}
            if c.max:
                out[li]["max"] = torch.cat(c.max)
                out[li]["share_max"] = torch.cat(c.share_max)
        return out
