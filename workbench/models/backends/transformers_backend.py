"""Generation with transformers (default backend): Qwen2-VL family or any ImageTextToText model.

`--batch-size B` sequences decode together with continuous batching (decoding.BatchDecoder):
each request is prefilled alone and joins the batch with left padding, stops on its own (eos or
its max_new_tokens), is reported the moment it finishes, and its slot is refilled from the queue
in the same step. Recording needs no second pass: each step's distribution gives the chosen
token's log-probability, the entropy and the top alternatives, moved to the CPU as a few floats
per row, so memory stays flat over 8k-token traces. Log-probabilities/entropies are of the
model's distribution after the repetition penalty and before temperature/truncation.
"""

from __future__ import annotations

import time
from typing import Any

from workbench.errors import WorkbenchError
from workbench.models.backends.base import (
    Backend,
    Event,
    GenerationRequest,
    GenerationResult,
    TokenRecord,
    chat_messages,
    decode_images,
    spans_from_texts,
)


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


class TransformersBackend(Backend):
    """`load_model` + the batch decoder. `batch_size` sequences at once (1 = one at a time)."""
    name = "transformers"

    def __init__(self, model: str, *, gpus: list[int] | None = None, max_memory: str | None = None,
                 dtype: str = "bfloat16", progress_interval: float = 2.0, batch_size: int = 1,
                 max_new_tokens: int = 8192, **_: Any) -> None:
        from workbench.models.loader import load_model
        self.lm = load_model(model, gpus=gpus, max_memory=max_memory, dtype=dtype, batch_size=batch_size,
                             max_new_tokens=max_new_tokens)
        self.model_name = model
        self.progress_interval = progress_interval
        self.capacity = max(1, int(batch_size))
        from workbench.models.backends.decoding import BatchDecoder
        suppress = getattr(self.lm.model.generation_config, "suppress_tokens", None)
        self.decoder = BatchDecoder(self.lm.model, self.lm.device, self.eos_ids(), self.capacity, suppress)

    def eos_ids(self) -> set[int]:
        base = self.lm.model.generation_config
        eos = base.eos_token_id if base.eos_token_id is not None else self.lm.tokenizer.eos_token_id
        return set(eos if isinstance(eos, list) else [eos])

    def _inputs(self, request: GenerationRequest) -> Any:
        images = decode_images(request)
        proc = self.lm.processor
        text = proc.apply_chat_template(chat_messages(request), add_generation_prompt=True, tokenize=False)
        inputs = proc(text=[text], images=images or None, return_tensors="pt")
        return inputs.to(self.lm.device)

    def in_flight(self) -> int:
        return len(self._queue) + len(self.decoder.rows)

    def step(self) -> list[Event]:
        """Admit queued requests into free slots, then decode one token for the whole batch."""
        import torch
        events: list[Event] = []
        finished = []
        with torch.inference_mode():
            while self._queue and self.decoder.free > 0:
                req = self._queue.popleft()
                try:
                    inputs = self._inputs(req)
                    done = self.decoder.add(req, inputs)
                except WorkbenchError as exc:
                    events.append(Event(req.sample_id, "failed", error=str(exc)))
                    continue
                except torch.cuda.OutOfMemoryError:
                    torch.cuda.empty_cache()
                    events.append(Event(req.sample_id, "failed", error=(
                        f"out of GPU memory on the prompt of sample {req.sample_id!r}: lower --batch-size or "
                        "--max-new-tokens, or add GPUs (see `workbench plan`)")))
                    continue
                if done:
                    finished.append(done)
            try:
                finished += self.decoder.step()
            except torch.cuda.OutOfMemoryError:
                rows = self.decoder.reset()
                torch.cuda.empty_cache()
                events += [Event(r.request.sample_id, "failed", error=(
                    f"out of GPU memory while decoding a batch of {len(rows)}: lower --batch-size or "
                    "--max-new-tokens, or add GPUs (see `workbench plan`)")) for r in rows]
        events += [Event(f.row.request.sample_id, "done", result=self._result(f.row, f.reason)) for f in finished]
        now = time.monotonic()
        for row in self.decoder.rows:
            if now - row.last_progress >= self.progress_interval:
                row.last_progress = now
                events.append(Event(row.request.sample_id, "progress", n_tokens=len(row.ids),
                                    text=self.lm.tokenizer.decode(row.ids, skip_special_tokens=True)))
        return events

    def cancel(self) -> list[Event]:
        return self._drop_queue() + [Event(f.row.request.sample_id, "done", result=self._result(f.row, f.reason))
                                     for f in self.decoder.cancel()]

    def _result(self, row: Any, reason: str) -> GenerationResult:
        tok = self.lm.tokenizer
        alts = None
        if row.sampling.top_alternatives:
            alts = [[(tok.decode([int(i)]), float(v)) for i, v in step] for step in row.alts]
        response, records = build_records(tok, row.ids, row.logprobs, row.entropies, alts)
        end = time.monotonic()
        return GenerationResult(response=response, tokens=records, finish_reason=reason, prompt_tokens=row.prompt_len,
                                completion_tokens=len(row.ids), seconds=end - row.started,
                                first_token_seconds=(row.first_token_at - row.started) if row.first_token_at else None)

    def close(self) -> None:
        self.decoder.reset()
        self.lm = None  # type: ignore[assignment]
