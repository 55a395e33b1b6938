"""Generation with transformers (default backend): Qwen2-VL family or any ImageTextToText model.

Recording without a second pass: a logits processor sees each step's distribution, keeps the
log-softmax row of the previous step to read the chosen token's log-probability, computes the
entropy, and does the sampling itself (temperature/top-k/top-p with a seeded generator), so
`generate` runs greedily on a one-hot row. Only one vocab-sized row is kept per step, so
memory stays flat over 8k-token traces. Log-probabilities/entropies are of the model's
distribution after the repetition penalty and before temperature/truncation.
"""

from __future__ import annotations

import time
from typing import Any

from workbench.errors import WorkbenchError
from workbench.models.backends.base import (Backend, CancelFn, GenerationRequest, GenerationResult, ProgressFn,
                                            Sampling, TokenRecord, chat_messages, decode_images,
                                            spans_from_texts)


def token_texts(tokenizer: Any, ids: list[int]) -> list[str]:
    """Text of each token such that their concatenation is the decoded sequence.

    A byte-level token can hold part of a UTF-8 character: such tokens get '' and the token that
    completes the character carries the whole group's text.
    """
    out: list[str] = []
    start = 0
    for i in range(len(ids)):
        text = tokenizer.decode(ids[start:i + 1], skip_special_tokens=False, clean_up_tokenization_spaces=False)
        if text.endswith("\ufffd") and i < len(ids) - 1 and i - start < 8:
            out.append("")
            continue
        out.append(text)
        start = i + 1
    return out


def build_records(tokenizer: Any, ids: list[int], logprobs: list[float | None], entropies: list[float | None],
                  alts: list[list[tuple[str, float]] | None] | None = None) -> tuple[str, list[TokenRecord]]:
    special_ids = set(tokenizer.all_special_ids)
    texts = token_texts(tokenizer, ids)
    response, spans = spans_from_texts(texts, [i in special_ids for i in ids])
    recs = [TokenRecord(token_index=k, token_id=int(t), text=texts[k], logprob=logprobs[k], entropy=entropies[k],
                        char_start=spans[k][0], char_end=spans[k][1], top_alternatives=alts[k] if alts else None)
            for k, t in enumerate(ids)]
    return response, recs


def _recorder_class():  # noqa: ANN202 - built lazily so torch stays off import paths
    import torch
    from transformers import LogitsProcessor

    class RecordingSampler(LogitsProcessor):
        def __init__(self, sampling: Sampling, device: Any, prompt_len: int) -> None:
            self.s = sampling
            self.prompt_len = prompt_len
            self.prev_logp: torch.Tensor | None = None
            self.logprobs: list[torch.Tensor] = []
            self.entropies: list[torch.Tensor] = []
            self.alts: list[tuple[torch.Tensor, torch.Tensor]] = []
            # Created on the logits' device at the first step: with a multi-GPU device_map the
            # logits live on the last GPU, not on the input device.
            self.gen: torch.Generator | None = None
            self.first_token_at: float | None = None
            self.progress: tuple[float, Any] | None = None  # (interval, callback(ids tensor))
            self._last_progress = time.monotonic()

        def take_last(self, logp_row: torch.Tensor, chosen: torch.Tensor) -> None:
            # input ids sit on the first GPU, logits on the last one under a multi-GPU device map
            self.logprobs.append(logp_row.gather(-1, chosen.view(1).to(logp_row.device)))

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            if self.prev_logp is not None:
                self.take_last(self.prev_logp, input_ids[0, -1])
                if self.first_token_at is None:
                    self.first_token_at = time.monotonic()
                if self.progress and time.monotonic() - self._last_progress >= self.progress[0]:
                    self._last_progress = time.monotonic()
                    self.progress[1](input_ids[0, self.prompt_len:])
            logits = scores[0].float()
            logp = torch.log_softmax(logits, dim=-1)
            self.prev_logp = logp
            self.entropies.append(-(logp.exp() * logp).nansum().view(1))
            if self.s.top_alternatives:
                v, i = logp.topk(self.s.top_alternatives)
                self.alts.append((v, i))
            if self.s.greedy:
                choice = logits.argmax().view(1)
            else:
                z = logits / float(self.s.temperature)
                if self.s.top_k:
                    kth = z.topk(min(self.s.top_k, z.numel())).values[-1]
                    z = z.masked_fill(z < kth, float("-inf"))
                probs = torch.softmax(z, dim=-1)
                if self.s.top_p and self.s.top_p < 1:
                    sp, si = probs.sort(descending=True)
                    drop = sp.cumsum(0) - sp > self.s.top_p
                    sp = sp.masked_fill(drop, 0)
                    probs = torch.zeros_like(probs).scatter(0, si, sp)
                if self.gen is None:
                    self.gen = torch.Generator(device=probs.device)
                    self.gen.manual_seed(self.s.seed if self.s.seed is not None else 0)
                choice = torch.multinomial(probs, 1, generator=self.gen)
            out = torch.full_like(scores, float("-inf"))
            out[0, choice] = 0.0
            return out

    return RecordingSampler


class TransformersBackend(Backend):
    """`load_model` + recorded generation. One sample at a time (traces are long, batch 1)."""
    name = "transformers"

    def __init__(self, model: str, *, gpus: list[int] | None = None, max_memory: str | None = None,
                 dtype: str = "bfloat16", progress_interval: float = 2.0, **_: Any) -> None:
        from workbench.models.loader import load_model
        self.lm = load_model(model, gpus=gpus, max_memory=max_memory, dtype=dtype)
        self.model_name = model
        self.progress_interval = progress_interval

    def _inputs(self, request: GenerationRequest) -> Any:
        images = decode_images(request)
        proc = self.lm.processor
        text = proc.apply_chat_template(chat_messages(request), add_generation_prompt=True, tokenize=False)
        inputs = proc(text=[text], images=images or None, return_tensors="pt")
        return inputs.to(self.lm.device)

    def generate(self, request: GenerationRequest, *, on_progress: ProgressFn | None = None,
                 should_cancel: CancelFn | None = None) -> GenerationResult:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList
        t0 = time.monotonic()
        inputs = self._inputs(request)
        prompt_len = int(inputs["input_ids"].shape[1])
        s = request.sampling
        rec = _recorder_class()(s, self.lm.device, prompt_len)
        tok = self.lm.tokenizer
        if on_progress:
            def emit(ids_t: Any) -> None:
                ids = ids_t.tolist()
                n = len(ids)
                lps = [float(x) for x in torch.cat(rec.logprobs[:n]).tolist()] if n else []
                ents = [float(x) for x in torch.cat(rec.entropies[:n]).tolist()] if n else []
                on_progress(build_records(tok, ids, lps, ents)[1])
            rec.progress = (self.progress_interval, emit)

        class Cancel(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kw: Any) -> Any:
                return torch.full((input_ids.shape[0],), bool(should_cancel and should_cancel()),
                                  dtype=torch.bool, device=input_ids.device)

        base = self.lm.model.generation_config
        eos = base.eos_token_id if base.eos_token_id is not None else tok.eos_token_id
        gc = GenerationConfig(max_new_tokens=s.max_new_tokens, do_sample=False, eos_token_id=eos,
                              pad_token_id=base.pad_token_id if base.pad_token_id is not None else tok.pad_token_id,
                              repetition_penalty=s.repetition_penalty or 1.0)
        try:
            with torch.inference_mode():
                seqs = self.lm.model.generate(**inputs, generation_config=gc,
                                              logits_processor=LogitsProcessorList([rec]),
                                              stopping_criteria=StoppingCriteriaList([Cancel()]) if should_cancel else None)
        except torch.cuda.OutOfMemoryError as exc:
            torch.cuda.empty_cache()
            raise WorkbenchError(f"out of GPU memory while generating sample {request.sample_id!r} "
                                 f"({prompt_len} prompt tokens): lower --max-new-tokens or add GPUs") from exc
        ids = seqs[0, prompt_len:].tolist()
        if rec.prev_logp is not None and len(rec.logprobs) < len(ids):
            rec.take_last(rec.prev_logp, seqs[0, -1])
        n = len(ids)
        lps = torch.cat(rec.logprobs[:n]).tolist() if n else []
        ents = torch.cat(rec.entropies[:n]).tolist() if n else []
        alts = None
        if s.top_alternatives:
            alts = [[(tok.decode([int(i)]), float(v)) for v, i in zip(vv.tolist(), ii.tolist())]
                    for vv, ii in rec.alts[:n]]
        response, records = build_records(tok, ids, lps, ents, alts)
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        cancelled = bool(should_cancel and should_cancel())
        finish = "eos" if ids and ids[-1] in eos_ids else ("cancelled" if cancelled else "length")
        dt = time.monotonic() - t0
        return GenerationResult(response=response, tokens=records, finish_reason=finish, prompt_tokens=prompt_len,
                                completion_tokens=n, seconds=dt,
                                first_token_seconds=(rec.first_token_at - t0) if rec.first_token_at else None)

    def close(self) -> None:
        self.lm = None  # type: ignore[assignment]
