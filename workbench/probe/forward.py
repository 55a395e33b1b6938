"""One teacher-forced pass over a stored trace (never regenerating text), with attention capture.

`probe_arrays(lm, question, images, response_ids, ...)` builds the same prompt the runner uses
(chat template, images as vision pads), appends the trace's token ids, and runs the model once
with the image (hooks capture attention to the image tokens) and once without it (visual
dependence). Log-probabilities are computed from the last hidden states through `lm_head` in
chunks, so the T x vocab logits matrix (5 GB for 8k tokens of QVQ's 152k vocabulary) never exists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from workbench.models.backends.base import GenerationRequest, chat_messages
from workbench.probe.capture import ImageAttentionCapture, decoder_layers
from workbench.probe.grid import ImageGrid, grids_from_thw


@dataclass
class ProbeArrays:
    """Per generated token (n = len(response_ids)); layers in `layers` order."""
    layers: list[int]
    grids: list[ImageGrid]
    prompt_tokens: int
    attn_mean: np.ndarray                 # (n_layers, n, n_image_tokens) float32, head mean
    attn_max: np.ndarray | None           # same, head max (None unless asked)
    share_max: np.ndarray | None          # (n_layers, n): largest share on the image among the heads
    logprob_image: np.ndarray             # (n,) log p(token | image, prefix)
    logprob_no_image: np.ndarray | None   # (n,) without the image (None when skipped)
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def image_share(self) -> np.ndarray:
        """(n_layers, n): share of each token's attention that lands on image tokens (head mean)."""
        return self.attn_mean.sum(-1)

    @property
    def visual_dependence(self) -> np.ndarray | None:
        if self.logprob_no_image is None:
            return None
        return self.logprob_image - self.logprob_no_image


def prompt_inputs(lm: Any, question: str, images: list[Any], system_prompt: str | None,
                  response_ids: list[int]) -> tuple[dict[str, torch.Tensor], int]:
    """Processor inputs for prompt + trace tokens (teacher forcing) and the prompt length."""
    req = GenerationRequest(sample_id="", question=question, images=[b""] * len(images), system_prompt=system_prompt)
    proc = lm.processor
    text = proc.apply_chat_template(chat_messages(req), add_generation_prompt=True, tokenize=False)
    inputs = dict(proc(text=[text], images=images or None, return_tensors="pt"))
    prompt_len = int(inputs["input_ids"].shape[1])
    resp = torch.tensor([response_ids], dtype=inputs["input_ids"].dtype)
    inputs["input_ids"] = torch.cat([inputs["input_ids"], resp], dim=1)
    inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
    if "mm_token_type_ids" in inputs:   # teacher-forced tokens are text: extend with zeros
        mm = inputs["mm_token_type_ids"]
        inputs["mm_token_type_ids"] = torch.cat([mm, torch.zeros((1, len(response_ids)), dtype=mm.dtype)], dim=1)
    return inputs, prompt_len


def token_logprobs(model: Any, hidden: torch.Tensor, ids: torch.Tensor, prompt_len: int,
                   chunk: int = 512) -> np.ndarray:
    """log p(ids[t] | ids[<t]) for t >= prompt_len, lm_head applied in chunks."""
    head = model.get_output_embeddings()
    dev = head.weight.device
    h = hidden[0, prompt_len - 1:-1]
    target = ids[0, prompt_len:]
    out = []
    for c0 in range(0, h.shape[0], chunk):
        logits = head(h[c0:c0 + chunk].to(dev)).float()
        lp = torch.log_softmax(logits, dim=-1)
        out.append(lp.gather(-1, target[c0:c0 + chunk].to(dev).view(-1, 1)).view(-1).cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, np.float32)


def _forward_hidden(lm: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    dev = lm.device
    batch = {k: v.to(dev) for k, v in inputs.items()}
    return lm.model.model(**batch, use_cache=False).last_hidden_state


@torch.inference_mode()
def probe_arrays(lm: Any, question: str, images: list[Any], response_ids: list[int], *,
                 layers: list[int], system_prompt: str | None = None, chunk: int = 256, head_max: bool = False,
                 dependence: str = "drop_image") -> ProbeArrays:
    """Attention capture + visual dependence for one trace.

    dependence: "drop_image" (second pass without the image), "same_input" (second pass on the
    very same input: a sanity check, visual dependence must be exactly 0) or "none".
    """
    t0 = time.monotonic()
    if not images:
        raise ValueError("the probe needs the sample's image")
    if not response_ids:
        raise ValueError("the trace has no tokens to probe")
    n_layers = len(decoder_layers(lm.model))
    bad = [li for li in layers if not 0 <= li < n_layers]
    if bad:
        raise ValueError(f"layers {bad} do not exist (the model has {n_layers} decoder layers)")
    inputs, prompt_len = prompt_inputs(lm, question, images, system_prompt, response_ids)
    image_token = lm.model.config.image_token_id
    img_pos = (inputs["input_ids"][0] == image_token).nonzero().view(-1)
    grids = grids_from_thw(inputs["image_grid_thw"], [im.size for im in images])
    if img_pos.numel() != sum(g.n_tokens for g in grids):
        raise RuntimeError(f"{img_pos.numel()} image tokens in the prompt but the grid says "
                           f"{sum(g.n_tokens for g in grids)}")
    with ImageAttentionCapture(lm.model, layers, img_pos, prompt_len, chunk=chunk, head_max=head_max) as cap:
        hidden = _forward_hidden(lm, inputs)
    lp_img = token_logprobs(lm.model, hidden, inputs["input_ids"], prompt_len)
    del hidden
    got = cap.result()
    attn_mean = torch.stack([got[li]["mean"] for li in layers]).numpy()
    attn_max = torch.stack([got[li]["max"] for li in layers]).numpy() if head_max else None
    share_max = torch.stack([got[li]["share_max"] for li in layers]).numpy() if head_max else None
    lp_no = None
    if dependence == "same_input":
        lp_no = token_logprobs(lm.model, _forward_hidden(lm, inputs), inputs["input_ids"], prompt_len)
    elif dependence == "drop_image":
        inputs2, prompt_len2 = prompt_inputs(lm, question, [], system_prompt, response_ids)
        lp_no = token_logprobs(lm.model, _forward_hidden(lm, inputs2), inputs2["input_ids"], prompt_len2)
    elif dependence != "none":
        raise ValueError(f"dependence must be drop_image, same_input or none, not {dependence!r}")
    return ProbeArrays(layers=list(layers), grids=grids, prompt_tokens=prompt_len, attn_mean=attn_mean,
                       attn_max=attn_max, share_max=share_max, logprob_image=lp_img, logprob_no_image=lp_no,
                       seconds=time.monotonic() - t0)
