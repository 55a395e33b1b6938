"""vLLM backend (optional extra `vllm`, CUDA machines): tensor parallel over the chosen GPUs for
throughput, same records (logprobs and top alternatives from vLLM; entropy is NULL because vLLM
returns only the top-k). The request building and output parsing are pure functions, tested
without vLLM installed; constructing the backend without vLLM gives a clear error.
"""

from __future__ import annotations

import os
import time
from typing import Any

from workbench.errors import WorkbenchError
from workbench.models.backends.base import (Backend, CancelFn, GenerationRequest, GenerationResult, ProgressFn,
                                            Sampling, TokenRecord, decode_images, spans_from_texts)

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
        kw["top_k"] = s.top_k if s.top_k else -1
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


def parse_vllm_output(out: Any, special_ids: set[int], top_alternatives: int = 0) -> tuple[str, list[TokenRecord], str, int, int]:
    """(response, tokens, finish, prompt_tokens, completion_tokens) from a vllm RequestOutput."""
    comp = out.outputs[0]
    ids = list(comp.token_ids)
    lps = comp.logprobs or [None] * len(ids)
    texts, logprobs, alts = [], [], []
    for tid, step in zip(ids, lps):
        chosen = step.get(tid) if step else None
        texts.append((chosen.decoded_token if chosen is not None else None) or "")
        logprobs.append(float(chosen.logprob) if chosen is not None else None)
        alts.append(sorted(((lp.decoded_token or "", float(lp.logprob)) for lp in step.values()),
                           key=lambda a: -a[1])[:top_alternatives] if step and top_alternatives else None)
    _, spans = spans_from_texts(texts, [i in special_ids for i in ids])
    toks = [TokenRecord(token_index=k, token_id=int(t), text=texts[k], logprob=logprobs[k], entropy=None,
                        char_start=spans[k][0], char_end=spans[k][1], top_alternatives=alts[k])
            for k, t in enumerate(ids)]
    finish = {"stop": "eos", "length": "length"}.get(comp.finish_reason or "", comp.finish_reason or "unknown")
    return comp.text, toks, finish, len(out.prompt_token_ids or []), len(ids)


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(self, model: str, *, gpus: list[int] | None = None, dtype: str = "bfloat16",
                 max_model_len: int = 32768, **_: Any) -> None:
        if gpus:
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
        try:
            from vllm import LLM  # type: ignore[import-not-found]
        except ImportError as exc:
            raise WorkbenchError(VLLM_MISSING) from exc
        self.model_name = model
        self.llm = LLM(model=model, tensor_parallel_size=len(gpus) if gpus else 1, dtype=dtype,
                       max_model_len=max_model_len, limit_mm_per_prompt={"image": 4})
        tok = self.llm.get_tokenizer()
        self.special_ids = set(getattr(tok, "all_special_ids", []))

    def generate(self, request: GenerationRequest, *, on_progress: ProgressFn | None = None,
                 should_cancel: CancelFn | None = None) -> GenerationResult:
        from vllm import SamplingParams  # type: ignore[import-not-found]
        t0 = time.monotonic()
        outs = self.llm.generate([build_vllm_request(request)], SamplingParams(**sampling_kwargs(request.sampling)),
                                 use_tqdm=False)
        text, toks, finish, prompt, n = parse_vllm_output(outs[0], self.special_ids, request.sampling.top_alternatives)
        return GenerationResult(response="".join(t.text for t in toks if t.char_end > t.char_start) or text,
                                tokens=toks, finish_reason=finish, prompt_tokens=prompt, completion_tokens=n,
                                seconds=time.monotonic() - t0)
