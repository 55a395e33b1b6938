"""A fake `vllm` for tests: the engine interface the workbench uses, with vLLM's own signatures.

Signatures follow vLLM's v1 `LLMEngine` (vllm/v1/engine/llm_engine.py: `from_engine_args(engine_args,
usage_context=..., stat_loggers=None, enable_multiprocessing=False)`, `add_request(request_id, prompt,
params, arrival_time=None, lora_request=None, tokenization_kwargs=None, trace_headers=None, priority=0,
prompt_text=None) -> str`, `step() -> list[RequestOutput]`, `abort_request(request_ids, internal=False)`,
`has_unfinished_requests()`, `get_num_unfinished_requests()`, `get_tokenizer()`), `EngineArgs` fields
(vllm/engine/arg_utils.py), `SamplingParams` fields and `RequestOutputKind` (vllm/sampling_params.py),
and `RequestOutput` / `CompletionOutput` / `Logprob` (vllm/outputs.py, vllm/logprobs.py).

Behaviour at the boundary: a prompt is a dict {"prompt": str, "multi_modal_data": {"image": PIL image or
list}} and must hold one `<|image_pad|>` placeholder per image (vLLM refuses a mismatch); at most
`max_num_seqs` sequences run at once (the rest wait, first come first served); every step gives each
running sequence one token (a deterministic function of its prompt and position); a sequence ends with
eos (id 0) or at max_tokens; outputs are cumulative, delta or final-only as `output_kind` says; an
aborted request disappears. `ENGINES` keeps every engine built in this process (tests inspect them).
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar

from vllm.sampling_params import RequestOutputKind, SamplingParams

__all__ = ["CompletionOutput", "EngineArgs", "LLMEngine", "Logprob", "RequestOutput", "SamplingParams"]
ENGINES: list[LLMEngine] = []
STEP_SECONDS = 0.0     # a test may give each step some duration, like a GPU's
EOS = 0
VOCAB = 50


@dataclass
class EngineArgs:
    model: str
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    distributed_executor_backend: str | None = None
    dtype: str = "auto"
    max_model_len: int | None = None
    limit_mm_per_prompt: dict[str, int] = field(default_factory=dict)
    seed: int | None = 0
    max_num_seqs: int | None = None
    disable_log_stats: bool = False


@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: list[dict[int, Logprob]] | None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int] | None
    prompt_logprobs: Any
    outputs: list[CompletionOutput]
    finished: bool


class FakeTokenizer:
    all_special_ids: ClassVar[list[int]] = [EOS]

    @staticmethod
    def decode_one(tid: int) -> str:
        return "" if tid == EOS else "abcdefghijklmnopqrstuvwxyz"[tid % 26] + ("" if tid % 3 else " ")


@dataclass
class _Seq:
    request_id: str
    prompt: dict[str, Any]
    params: SamplingParams
    seed: int
    prompt_ids: list[int]
    ids: list[int] = field(default_factory=list)
    sent: int = 0


class LLMEngine:
    def __init__(self, engine_args: EngineArgs) -> None:
        self.args = engine_args
        self.max_num_seqs = engine_args.max_num_seqs or 256
        self.waiting: deque[_Seq] = deque()
        self.running: list[_Seq] = []
        self.added: list[str] = []
        self.aborted: list[str] = []
        self.steps = 0
        self.max_running = 0
        self.max_unfinished = 0
        ENGINES.append(self)

    @classmethod
    def from_engine_args(cls, engine_args: EngineArgs, usage_context: Any = None, stat_loggers: Any = None,
                         enable_multiprocessing: bool = False) -> LLMEngine:
        return cls(engine_args)

    def get_tokenizer(self) -> FakeTokenizer:
        return FakeTokenizer()

    def add_request(self, request_id: str, prompt: dict[str, Any], params: SamplingParams,
                    arrival_time: float | None = None, lora_request: Any = None,
                    tokenization_kwargs: dict[str, Any] | None = None, trace_headers: Any = None,
                    priority: int = 0, prompt_text: str | None = None) -> str:
        if not isinstance(request_id, str):
            raise TypeError(f"request_id must be a string, got {type(request_id)}")
        if request_id in {s.request_id for s in [*self.waiting, *self.running]}:
            raise ValueError(f"request id {request_id} already running")
        text = prompt["prompt"]
        images = (prompt.get("multi_modal_data") or {}).get("image")
        n_images = 0 if images is None else (len(images) if isinstance(images, list) else 1)
        limit = (self.args.limit_mm_per_prompt or {}).get("image", 1)
        if text.count("<|image_pad|>") != n_images:
            raise ValueError(f"{text.count('<|image_pad|>')} image placeholders for {n_images} images")
        if n_images > limit:
            raise ValueError(f"at most {limit} images per prompt")
        for im in ([] if images is None else images if isinstance(images, list) else [images]):
            if not hasattr(im, "size"):
                raise TypeError("images must be PIL images")
        digest = hashlib.sha256(text.encode() + repr([getattr(i, "size", None) for i in
                                ([] if images is None else images if isinstance(images, list) else [images])])
                                .encode()).digest()
        seed = int.from_bytes(digest[:4], "big")
        self.waiting.append(_Seq(request_id, prompt, params, seed, prompt_ids=list(range(5 + len(text) // 4))))
        self.added.append(request_id)
        self.max_unfinished = max(self.max_unfinished, self.get_num_unfinished_requests())
        return request_id

    def abort_request(self, request_ids: list[str], internal: bool = False) -> None:
        ids = set(request_ids)
        self.aborted += sorted(ids)
        self.waiting = deque(s for s in self.waiting if s.request_id not in ids)
        self.running = [s for s in self.running if s.request_id not in ids]

    def has_unfinished_requests(self) -> bool:
        return bool(self.waiting or self.running)

    def get_num_unfinished_requests(self) -> int:
        return len(self.waiting) + len(self.running)

    def _next(self, s: _Seq) -> int:
        k = len(s.ids)
        # sequences end with eos somewhere between 8 and 40 tokens (by prompt), unless max_tokens comes first
        if k >= 8 + s.seed % 33:
            return EOS
        return 1 + (s.seed // 7 + 13 * k) % (VOCAB - 1)

    def step(self) -> list[RequestOutput]:
        if STEP_SECONDS:
            time.sleep(STEP_SECONDS)
        while self.waiting and len(self.running) < self.max_num_seqs:
            self.running.append(self.waiting.popleft())
        self.max_running = max(self.max_running, len(self.running))
        self.steps += 1
        outs = []
        for s in list(self.running):
            s.ids.append(self._next(s))
            done = s.ids[-1] == EOS or len(s.ids) >= s.params.max_tokens
            if done:
                self.running.remove(s)
            kind = s.params.output_kind
            if kind == RequestOutputKind.FINAL_ONLY and not done:
                continue
            start = s.sent if kind == RequestOutputKind.DELTA else 0
            new = s.ids[start:]
            s.sent = len(s.ids)
            outs.append(RequestOutput(
                request_id=s.request_id, prompt=s.prompt["prompt"], prompt_token_ids=s.prompt_ids,
                prompt_logprobs=None, finished=done,
                outputs=[CompletionOutput(
                    index=0, text="".join(FakeTokenizer.decode_one(t) for t in new), token_ids=new,
                    cumulative_logprob=None,
                    logprobs=[self._logprobs(t, s.params.logprobs) for t in new] if s.params.logprobs else None,
                    finish_reason=("stop" if s.ids[-1] == EOS else "length") if done else None)]))
        return outs

    @staticmethod
    def _logprobs(tid: int, k: int) -> dict[int, Logprob]:
        out = {tid: Logprob(logprob=-0.1 - (tid % 5) / 10, rank=1, decoded_token=FakeTokenizer.decode_one(tid))}
        for r in range(1, k):
            alt = (tid + r) % VOCAB
            if alt not in out:
                out[alt] = Logprob(logprob=-2.0 - r, rank=r + 1, decoded_token=FakeTokenizer.decode_one(alt))
        return out
