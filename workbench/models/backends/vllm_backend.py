"""vLLM backend (optional extra `vllm`, CUDA machines): vLLM's engine at full throughput.

The runner keeps a window of requests in flight (`window` = 2 x max_num_seqs); each is added to
vLLM's `LLMEngine` (`add_request`) and the engine is stepped (`step`), so vLLM's continuous
batching schedules them all; outputs come back as deltas (`RequestOutputKind.DELTA`) and are
accumulated per request, a finished request is reported at once (the runner commits it) and a
running one reports its partial text every `progress_interval` seconds. Cancel aborts the
requests in flight (`abort_request`) and keeps what they generated. Tensor parallel
(`--tensor-parallel`, default: all GPUs of the replica), pipeline parallel (`--pipeline-parallel`)
and multi-node through vLLM's Ray executor (`--distributed-executor ray`) are vLLM's own
(`EngineArgs`). Same records as the other backends (logprobs and top alternatives from vLLM;
entropy is NULL because vLLM returns only the top-k). Request building, windowing and output
accumulation are tested against the engine's interface (tests/fake_engines/vllm); constructing
the backend without vLLM gives a clear error.
"""

from __future__ import annotations

import os
import time
from typing import Any

from workbench.errors import InputError, WorkbenchError
from workbench.models.backends.base import (
    Backend,
    Event,
    GenerationRequest,
    GenerationResult,
    Sampling,
    TokenRecord,
    decode_images,
    spans_from_texts,
)

VLLM_MISSING = ("the vllm backend needs vLLM, which is not installed here: on a CUDA machine run "
                "`pip install -e '.[models,vllm]'`, or use --backend transformers or --backend openai "
                "against a running `vllm serve`")


def qwen2vl_prompt(request: GenerationRequest) -> str:
    """Qwen2-VL chat prompt with one vision placeholder per image (what vLLM expects)."""
    parts = []
    if request.system_prompt:
        parts.append(f"<|im_start|>system\n{request.system_prompt}<|im_end|>\n")
    pads = "<|vision_start|><|image_pad|><|vision_end|>" * len(request.images)
    parts.append(f"<|im_start|>user\n{pads}{request.question}<|im_end|>\n<|im_start|>assistant\n")
    return "".join(parts)


def sampling_kwargs(s: Sampling) -> dict[str, Any]:
    """vllm.SamplingParams(**kwargs) for our sampling options."""
    kw: dict[str, Any] = {"max_tokens": s.max_new_tokens, "temperature": 0.0 if s.greedy else float(s.temperature),
                          "logprobs": max(1, s.top_alternatives), "seed": s.seed}
    if not s.greedy:
        kw["top_p"] = s.top_p if s.top_p is not None else 1.0
        if s.top_k:   # unset = vLLM's default (no top-k)
            kw["top_k"] = s.top_k
    if s.repetition_penalty:
        kw["repetition_penalty"] = s.repetition_penalty
    return kw


def build_vllm_request(request: GenerationRequest) -> dict[str, Any]:
    """The prompt dict for `LLM.generate` (images decoded with PIL; corrupt ones -> InputError)."""
    images = decode_images(request)
    req: dict[str, Any] = {"prompt": qwen2vl_prompt(request)}
    if images:
        req["multi_modal_data"] = {"image": images if len(images) > 1 else images[0]}
    return req


class Accumulated:
    """One request's output so far, from vLLM's delta outputs."""

    def __init__(self, request: GenerationRequest) -> None:
        self.request = request
        self.started = time.monotonic()
        self.first_token_at: float | None = None
        self.ids: list[int] = []
        self.logprobs: list[Any] = []     # per token: {token id: Logprob(logprob, rank, decoded_token)} or None
        self.text = ""
        self.prompt_tokens = 0
        self.finish_reason: str | None = None
        self.last_progress = self.started

    def add(self, out: Any) -> None:
        comp = out.outputs[0]
        new = list(comp.token_ids)
        if new and self.first_token_at is None:
            self.first_token_at = time.monotonic()
        self.ids += new
        self.logprobs += list(comp.logprobs) if comp.logprobs is not None else [None] * len(new)
        self.text += comp.text or ""
        self.prompt_tokens = max(self.prompt_tokens, len(out.prompt_token_ids or []))
        if out.finished:
            self.finish_reason = comp.finish_reason

    def result(self, special_ids: set[int], finish: str | None = None) -> GenerationResult:
        k = self.request.sampling.top_alternatives
        texts, lps, alts = [], [], []
        for tid, step in zip(self.ids, self.logprobs):
            chosen = step.get(tid) if step else None
            texts.append((chosen.decoded_token if chosen is not None else None) or "")
            lps.append(float(chosen.logprob) if chosen is not None else None)
            alts.append(sorted(((lp.decoded_token or "", float(lp.logprob)) for lp in step.values()),
                               key=lambda a: -a[1])[:k] if step and k else None)
        _, spans = spans_from_texts(texts, [i in special_ids for i in self.ids])
        toks = [TokenRecord(token_index=i, token_id=int(t), text=texts[i], logprob=lps[i], entropy=None,
                            char_start=spans[i][0], char_end=spans[i][1], top_alternatives=alts[i])
                for i, t in enumerate(self.ids)]
        reason = finish or {"stop": "eos", "length": "length"}.get(self.finish_reason or "",
                                                                  self.finish_reason or "unknown")
        response = "".join(t.text for t in toks if t.char_end > t.char_start) or self.text
        return GenerationResult(response=response, tokens=toks, finish_reason=reason, prompt_tokens=self.prompt_tokens,
                                completion_tokens=len(self.ids), seconds=time.monotonic() - self.started,
                                first_token_seconds=(self.first_token_at - self.started) if self.first_token_at
                                else None)


def parse_vllm_output(out: Any, special_ids: set[int],
                      top_alternatives: int = 0) -> tuple[str, list[TokenRecord], str, int, int]:
    """(response, tokens, finish, prompt_tokens, completion_tokens) from one complete vllm RequestOutput."""
    acc = Accumulated(GenerationRequest("", "", sampling=Sampling(top_alternatives=top_alternatives)))
    acc.add(out)
    acc.finish_reason = out.outputs[0].finish_reason
    res = acc.result(special_ids)
    return out.outputs[0].text, res.tokens, res.finish_reason, res.prompt_tokens or 0, res.completion_tokens


def engine_args(model: str, *, gpus: list[int] | None, dtype: str, max_model_len: int, batch_size: int | None,
                tensor_parallel: int | None, pipeline_parallel: int, distributed_executor: str | None,
                seed: int = 0) -> dict[str, Any]:
    """vllm.EngineArgs(**kwargs): tensor x pipeline parallel over the replica's GPUs (or a Ray cluster)."""
    pp = max(1, pipeline_parallel or 1)
    tp = tensor_parallel or max(1, (len(gpus) if gpus else 1) // pp)
    kw: dict[str, Any] = {"model": model, "tensor_parallel_size": tp, "pipeline_parallel_size": pp, "dtype": dtype,
                          "max_model_len": max_model_len, "limit_mm_per_prompt": {"image": 4}, "seed": seed,
                          "disable_log_stats": True}
    if batch_size and batch_size > 1:
        kw["max_num_seqs"] = batch_size
    if distributed_executor:
        kw["distributed_executor_backend"] = distributed_executor
    return kw


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(self, model: str, *, gpus: list[int] | None = None, dtype: str = "bfloat16",
                 max_model_len: int = 32768, batch_size: int = 1, tensor_parallel: int | None = None,
                 pipeline_parallel: int = 1, distributed_executor: str | None = None, progress_interval: float = 2.0,
                 **_: Any) -> None:
        if gpus:   # --gpus are indices among the visible devices, as torch numbers them
            visible = [v for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(visible[g] if g < len(visible) else str(g) for g in gpus)
        try:
            import vllm  # type: ignore[import-not-found]
            from vllm.sampling_params import RequestOutputKind  # type: ignore[import-not-found]
        except ImportError as exc:
            raise WorkbenchError(VLLM_MISSING) from exc
        if distributed_executor == "ray":
            try:
                import ray  # type: ignore[import-not-found]  # noqa: F401
            except ImportError as exc:
                raise WorkbenchError("--distributed-executor ray needs Ray: `pip install 'ray[default]'` on every "
                                     "node, then `ray start` (see README, Running the model)") from exc
        self._vllm, self._delta = vllm, RequestOutputKind.DELTA
        self.model_name = model
        args = engine_args(model, gpus=gpus, dtype=dtype, max_model_len=max_model_len, batch_size=batch_size,
                           tensor_parallel=tensor_parallel, pipeline_parallel=pipeline_parallel,
                           distributed_executor=distributed_executor)
        self.engine = vllm.LLMEngine.from_engine_args(vllm.EngineArgs(**args))
        self.special_ids = set(getattr(self.engine.get_tokenizer(), "all_special_ids", []))
        # vLLM schedules up to max_num_seqs at once; twice that in flight keeps its queue fed
        self.capacity = batch_size if batch_size and batch_size > 1 else 256
        self.window = 2 * self.capacity
        self.progress_interval = progress_interval
        self._live: dict[str, Accumulated] = {}
        self._failed: list[Event] = []
        self._n = 0

    def submit(self, request: GenerationRequest) -> None:
        try:
            prompt = build_vllm_request(request)
        except InputError as exc:
            self._failed.append(Event(request.sample_id, "failed", error=str(exc)))
            return
        params = self._vllm.SamplingParams(**sampling_kwargs(request.sampling), output_kind=self._delta)
        self._n += 1
        rid = f"{request.sample_id}#{self._n}"   # unique even when a sample is submitted twice
        self.engine.add_request(rid, prompt, params)
        self._live[rid] = Accumulated(request)

    def in_flight(self) -> int:
        return len(self._live) + len(self._failed)

    def step(self) -> list[Event]:
        events, self._failed = self._failed, []
        if not self._live:
            return events
        for out in self.engine.step():
            acc = self._live.get(out.request_id)
            if acc is None:
                continue
            acc.add(out)
            if out.finished:
                del self._live[out.request_id]
                events.append(Event(acc.request.sample_id, "done", result=acc.result(self.special_ids)))
        now = time.monotonic()
        for acc in self._live.values():
            if acc.ids and now - acc.last_progress >= self.progress_interval:
                acc.last_progress = now
                events.append(Event(acc.request.sample_id, "progress", text=acc.text, n_tokens=len(acc.ids)))
        return events

    def cancel(self) -> list[Event]:
        """Abort everything in flight: what generated tokens ends 'cancelled', what had not started is dropped."""
        events, self._failed = self._failed, []
        if self._live:
            self.engine.abort_request(list(self._live))
        for acc in self._live.values():
            events.append(Event(acc.request.sample_id, "done", result=acc.result(self.special_ids, finish="cancelled"))
                          if acc.ids else Event(acc.request.sample_id, "dropped"))
        self._live = {}
        return events
