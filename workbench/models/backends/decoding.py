"""Continuous batching for the transformers backend: up to `batch_size` sequences decode together,
each admitted, stopped and recorded on its own.

- Admission: a new request is prefilled alone (batch 1, no padding, so its prompt is processed
  exactly as a batch-1 run would), its first token chosen, and its KV cache joined to the batch's
  with left padding (the attention mask hides the padding).
- Decoding: one forward pass per step for all rows; each row has its own position (Qwen2-VL's
  M-RoPE: text position + the row's rope delta from its images), its own sampling parameters and
  seeded generator, its own repetition-penalty history and its own stop condition.
- A row that stops (eos, its max_new_tokens, or cancel) leaves the batch at once: its KV rows are
  dropped and padding columns no row needs any more are trimmed; the slot is free for the next
  request in the same step.

What is recorded per token matches batch 1 exactly in definition: the log-probability and the
entropy of the model's distribution after the repetition penalty and before temperature and
truncation, and the top alternatives of that distribution. Greedy rows take the argmax; sampled
rows draw with their own generator seeded with the request's seed, so a sampled trace does not
depend on which other rows share its batch. torch is imported by the caller (this module is only
imported where models run).
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from workbench.models.backends.base import GenerationRequest, Sampling


@dataclass
class Row:
    """One sequence in the batch and everything recorded for it so far."""
    request: GenerationRequest
    prompt_len: int
    started: float
    ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    entropies: list[float] = field(default_factory=list)
    alts: list[list[tuple[int, float]]] = field(default_factory=list)
    first_token_at: float | None = None
    last_progress: float = 0.0
    generator: torch.Generator | None = None

    @property
    def sampling(self) -> Sampling:
        return self.request.sampling


@dataclass
class Finished:
    row: Row
    reason: str          # "eos" | "length" | "cancelled"


def _kv(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-layer (keys, values), each [batch, kv_heads, seq, head_dim]. transformers >= 4.56 keeps them
    in `cache.layers`; older releases in `key_cache` / `value_cache` lists."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    return list(zip(cache.key_cache, cache.value_cache))


def _set_kv(cache: Any, kvs: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    if hasattr(cache, "layers"):
        for layer, (k, v) in zip(cache.layers, kvs):
            layer.keys, layer.values = k, v
    else:
        cache.key_cache = [k for k, _ in kvs]
        cache.value_cache = [v for _, v in kvs]


def _pad_left(t: torch.Tensor, n: int, dim_from_end: int) -> torch.Tensor:
    """Left-pad `t` with n zeros along the dimension `dim_from_end` from the end (1 = last)."""
    if n == 0:
        return t
    pad = [0, 0] * (dim_from_end - 1) + [n, 0]
    return F.pad(t, pad)


class BatchDecoder:
    """The batch: rows, their joint KV cache and attention mask. `add` admits one prefilled request,
    `step` decodes one token for every row and returns the rows that finished."""

    def __init__(self, model: Any, device: Any, eos_ids: set[int], batch_size: int = 1,
                 suppress: list[int] | None = None) -> None:
        self.model, self.device, self.eos_ids = model, device, eos_ids
        self.suppress = list(suppress) if suppress else None   # generation_config.suppress_tokens: never chosen
        self.batch_size = max(1, int(batch_size))
        params = inspect.signature(model.forward).parameters
        self.cache_kw = "cache" if "cache" in params else "past_key_values"
        self.keep_kw = next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in params), None)
        inner = getattr(model, "model", None)
        self.mrope = inner is not None and hasattr(inner, "get_rope_index")
        self.rows: list[Row] = []
        self.cache: Any = None
        self.mask: torch.Tensor | None = None        # [B, T] 1 = real token, 0 = left padding
        self.pos: torch.Tensor | None = None         # [B] position of each row's next input token
        self.last: torch.Tensor | None = None        # [B] last chosen token (next input)
        self.seen: torch.Tensor | None = None        # [B, V] tokens seen (repetition penalty)

    # ------------------------------------------------------------------ admission

    @property
    def free(self) -> int:
        return self.batch_size - len(self.rows)

    def add(self, request: GenerationRequest, inputs: Any) -> Finished | None:
        """Prefill `inputs` (the processor's batch-1 tensors) and join the batch. Returns the row when
        it already finished with its first token (eos, or max_new_tokens = 1)."""
        started = time.monotonic()
        kw = dict(inputs)
        kw["use_cache"] = True
        if self.keep_kw:
            kw[self.keep_kw] = 1
        out = self.model(**kw)
        cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
        prompt_ids = inputs["input_ids"]
        prompt_len = int(prompt_ids.shape[1])
        delta = 0
        if self.mrope and inputs.get("image_grid_thw") is not None:
            # set by this prefill's M-RoPE index: max position + 1 - prompt length
            delta = int(self.model.model.rope_deltas.reshape(-1)[0])
        row = Row(request=request, prompt_len=prompt_len, started=started, last_progress=started)
        seen = None
        penalty = request.sampling.repetition_penalty
        if (penalty and penalty != 1.0) or self.seen is not None:
            vocab = out.logits.shape[-1]
            seen = torch.zeros(1, vocab, dtype=torch.bool, device=out.logits.device)
            seen[0, prompt_ids[0].to(seen.device)] = True
        logits = out.logits[:, -1, :].float()
        tok = self._choose([row], logits, seen)[0]
        row.first_token_at = time.monotonic()
        self._join(row, cache, prompt_len, prompt_len + delta, tok, seen)
        done = self._stop_check(len(self.rows) - 1)
        if done:
            self._drop(list(range(len(self.rows) - 1)))
        return done

    def _join(self, row: Row, cache: Any, length: int, pos: int, tok: int, seen: torch.Tensor | None) -> None:
        dev = self.device
        one_mask = torch.ones(1, length, dtype=torch.long, device=dev)
        if self.cache is None:
            self.cache, self.mask = cache, one_mask
            self.pos = torch.tensor([pos], device=dev)
            self.last = torch.tensor([tok], device=dev)
            self.seen = seen
        else:
            t_old = self.mask.shape[1]
            t_new = max(t_old, length)
            joined = []
            for (k, v), (k1, v1) in zip(_kv(self.cache), _kv(cache)):
                joined.append((torch.cat([_pad_left(k, t_new - t_old, 2), _pad_left(k1, t_new - length, 2)]),
                               torch.cat([_pad_left(v, t_new - t_old, 2), _pad_left(v1, t_new - length, 2)])))
            _set_kv(self.cache, joined)
            self.mask = torch.cat([_pad_left(self.mask, t_new - t_old, 1), _pad_left(one_mask, t_new - length, 1)])
            self.pos = torch.cat([self.pos, torch.tensor([pos], device=dev)])
            self.last = torch.cat([self.last, torch.tensor([tok], device=dev)])
            if self.seen is not None or seen is not None:
                vocab = (self.seen if self.seen is not None else seen).shape[1]
                old = self.seen if self.seen is not None else torch.zeros(len(self.rows), vocab, dtype=torch.bool,
                                                                         device=seen.device)
                new = seen if seen is not None else torch.zeros(1, vocab, dtype=torch.bool, device=old.device)
                self.seen = torch.cat([old, new.to(old.device)])
        self.rows.append(row)

    # ------------------------------------------------------------------ decoding

    def step(self) -> list[Finished]:
        """One token for every row; rows that stop leave the batch. Returns them."""
        if not self.rows:
            return []
        b = len(self.rows)
        mask = torch.cat([self.mask, torch.ones(b, 1, dtype=self.mask.dtype, device=self.mask.device)], dim=1)
        pos = self.pos.view(1, b, 1).expand(3, b, 1) if self.mrope else self.pos.view(b, 1)
        kw = {"input_ids": self.last.view(b, 1), "attention_mask": mask, "position_ids": pos,
              self.cache_kw: self.cache, "use_cache": True}
        out = self.model(**kw)
        self.mask = mask
        self.pos = self.pos + 1
        toks = self._choose(self.rows, out.logits[:, -1, :].float(), self.seen)
        self.last = torch.tensor(toks, device=self.last.device)
        done = [f for i in range(b) if (f := self._stop_check(i)) is not None]
        if done:
            self._drop([i for i, r in enumerate(self.rows) if all(r is not f.row for f in done)])
        return done

    def _stop_check(self, i: int) -> Finished | None:
        row = self.rows[i]
        if row.ids and row.ids[-1] in self.eos_ids:
            return Finished(row, "eos")
        if len(row.ids) >= row.sampling.max_new_tokens:
            return Finished(row, "length")
        return None

    def cancel(self) -> list[Finished]:
        """Every row stops now ('cancelled', its tokens so far kept)."""
        out = [Finished(r, "cancelled") for r in self.rows]
        self._drop([])
        return out

    def reset(self) -> list[Row]:
        """Drop the whole batch (after an error in a step); returns the rows that were in it."""
        rows = self.rows
        self._drop([])
        return rows

    def _drop(self, keep: list[int]) -> None:
        if not keep:
            self.rows, self.cache, self.mask, self.pos, self.last, self.seen = [], None, None, None, None, None
            return
        if len(keep) == len(self.rows):
            return
        idx = torch.tensor(keep, device=self.mask.device)
        self.rows = [self.rows[i] for i in keep]
        self.mask = self.mask.index_select(0, idx)
        # padding columns that no remaining row needs: trim them from the cache and the mask
        lead = int(self.mask.argmax(dim=1).min())
        kvs = []
        for k, v in _kv(self.cache):
            i = idx.to(k.device)
            kvs.append((k.index_select(0, i)[:, :, lead:], v.index_select(0, i)[:, :, lead:]))
        _set_kv(self.cache, kvs)
        self.mask = self.mask[:, lead:]
        self.pos = self.pos.index_select(0, idx.to(self.pos.device))
        self.last = self.last.index_select(0, idx.to(self.last.device))
        if self.seen is not None:
            self.seen = self.seen.index_select(0, idx.to(self.seen.device))

    # ------------------------------------------------------------------ choosing and recording

    def _choose(self, rows: list[Row], logits: torch.Tensor, seen: torch.Tensor | None) -> list[int]:
        """Suppress, penalise, record (logprob, entropy, alternatives) and pick the next token of each row."""
        scores = logits
        if self.suppress:
            scores[:, self.suppress] = float("-inf")
        if seen is not None:
            pen = torch.tensor([r.sampling.repetition_penalty or 1.0 for r in rows], dtype=scores.dtype,
                               device=scores.device).view(-1, 1)
            scores = torch.where(seen, torch.where(scores < 0, scores * pen, scores / pen), scores)
        logp = torch.log_softmax(scores, dim=-1)
        ent = -(logp.exp() * logp).nansum(dim=-1)
        chosen = scores.argmax(dim=-1)
        for i, r in enumerate(rows):
            if not r.sampling.greedy:
                chosen[i] = self._sample(r, scores[i])
        lp = logp.gather(1, chosen.view(-1, 1)).view(-1)
        k = max(r.sampling.top_alternatives for r in rows)
        alt_v = alt_i = None
        if k:
            v, ix = logp.topk(min(k, logp.shape[-1]), dim=-1)
            alt_v, alt_i = v.tolist(), ix.tolist()
        if seen is not None:   # the batch's own mask (kept on the logits' device): updated in place
            seen.scatter_(1, chosen.view(-1, 1), True)
        toks, lps, ents = chosen.tolist(), lp.tolist(), ent.tolist()
        for i, r in enumerate(rows):
            r.ids.append(int(toks[i]))
            r.logprobs.append(float(lps[i]))
            r.entropies.append(float(ents[i]))
            if alt_v is not None and r.sampling.top_alternatives:
                n = r.sampling.top_alternatives
                r.alts.append(list(zip(alt_i[i][:n], alt_v[i][:n])))
        return [int(t) for t in toks]

    @staticmethod
    def _sample(row: Row, logits: torch.Tensor) -> torch.Tensor:
        """Temperature, top-k, top-p, then a draw from the row's own seeded generator."""
        s = row.sampling
        z = logits / float(s.temperature)
        if s.top_k:
            kth = z.topk(min(s.top_k, z.numel())).values[-1]
            z = z.masked_fill(z < kth, float("-inf"))
        probs = torch.softmax(z, dim=-1)
        if s.top_p and s.top_p < 1:
            sp, si = probs.sort(descending=True)
            drop = sp.cumsum(0) - sp > s.top_p
            sp = sp.masked_fill(drop, 0)
            probs = torch.zeros_like(probs).scatter(0, si, sp)
        if row.generator is None:
            row.generator = torch.Generator(device=probs.device)
            row.generator.manual_seed(s.seed if s.seed is not None else 0)
        return torch.multinomial(probs, 1, generator=row.generator)[0]
