"""Load a vision-language checkpoint (folder or hub id) for generation or probing.

`load_model(path_or_id, gpus=[0,1,2,3], max_memory="75GiB", dtype="bfloat16")` returns a
`LoadedModel` (model, processor, tokenizer, device). Qwen2-VL-family configs load with
`Qwen2VLForConditionalGeneration`, anything else with `AutoModelForImageTextToText`. Weights are
spread over the chosen GPUs with the device map `workbench plan` computes (planner.plan: room kept
on every GPU for the KV cache of the run's batch at its context length and a runtime reserve; a
set-up that cannot fit is refused with the plan before any weight is read); on a machine without
CUDA the same call loads on CPU. The processor is the stock `AutoProcessor` when it
works (GPU machines with torchvision), else an image-only Qwen2-VL processor (no torchvision).
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError


@dataclass
class LoadedModel:
    model: Any
    processor: Any
    tokenizer: Any
    path: str
    device: str          # device of the input embeddings ("cuda:0", "cpu")
    attn_implementation: str
    model_type: str


def parse_memory(text: str | int | None) -> int | None:
    """'75GiB' / '80GB' / '512MiB' / bytes -> bytes (None stays None)."""
    if text is None or isinstance(text, int):
        return text
    t = str(text).strip().upper().replace(" ", "")
    units = {"TIB": 2**40, "GIB": 2**30, "MIB": 2**20, "KIB": 2**10, "TB": 10**12, "GB": 10**9,
             "MB": 10**6, "KB": 10**3, "B": 1}
    for unit, mult in units.items():
        if t.endswith(unit):
            try:
                return int(float(t[: -len(unit)]) * mult)
            except ValueError:
                break
    try:
        return int(t)
    except ValueError:
        raise WorkbenchError(f"cannot read memory size {text!r}: use e.g. 75GiB, 80GB or 24GiB") from None


def best_attention(cuda: bool) -> str:
    """flash_attention_2 when the kernel is importable on a GPU, else PyTorch sdpa."""
    if cuda and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def read_config(path_or_id: str) -> dict:
    p = Path(path_or_id).expanduser()
    if p.is_dir():
        cfg = p / "config.json"
        if not cfg.exists():
            raise WorkbenchError(f"model folder {p} has no config.json: is it a Hugging Face checkpoint?")
        return json.loads(cfg.read_text())
    # Hub ids look like "org/name" (names may contain dots: Qwen2.5-VL-7B); anything else is a path.
    if path_or_id.startswith((".", "/", "~")) or path_or_id.count("/") != 1:
        raise WorkbenchError(f"model path {path_or_id} does not exist")
    from transformers import AutoConfig
    try:
        return AutoConfig.from_pretrained(path_or_id).to_dict()
    except Exception as exc:  # hub/offline errors vary
        raise WorkbenchError(f"model {path_or_id!r} is neither a local folder nor a reachable hub id: {exc}") from exc


def load_processor(path: str) -> Any:
    """Stock AutoProcessor when it yields a real multimodal processor, else the image-only one."""
    from transformers import AutoProcessor, AutoTokenizer
    try:
        proc = AutoProcessor.from_pretrained(path)
        if hasattr(proc, "image_processor") and hasattr(proc, "tokenizer"):
            return proc
    except Exception:  # noqa: BLE001 - without torchvision the stock Qwen2-VL processor fails
        pass
    from transformers import Qwen2VLImageProcessorPil

    from workbench.models.tiny import image_only_processor
    tok = AutoTokenizer.from_pretrained(path)
    return image_only_processor(tok, Qwen2VLImageProcessorPil.from_pretrained(path))


def planned_device_map(path: str, gpu_ids: list[int], gpu_memory: int, *, max_new_tokens: int = 8192,
                       prompt_tokens: int | None = None, batch_size: int = 1, dtype: str = "bfloat16") -> dict:
    """The planner's device map for these GPUs, with its GPU numbers mapped to `gpu_ids`."""
    from workbench.models.planner import DEFAULT_PROMPT_TOKENS, plan
    pl = plan(path, len(gpu_ids), gpu_memory, max_new_tokens, prompt_tokens or DEFAULT_PROMPT_TOKENS,
              batch_size=batch_size, dtype=dtype)
    if not pl.fits:
        raise WorkbenchError("the model does not fit on the chosen GPUs:\n" + pl.text())
    return {name: (gpu_ids[d] if isinstance(d, int) else d) for name, d in pl.device_map.items()}


def device_map_args(path: str, gpus: list[int] | None, max_memory: str | int | None, *,
                    cuda: dict[int, int] | None, max_new_tokens: int = 8192, batch_size: int = 1,
                    dtype: str = "bfloat16") -> dict:
    """from_pretrained kwargs placing the model. `cuda`: {GPU id: total bytes} of the visible GPUs
    (None without CUDA). On GPUs: the planned device map under `max_memory` per GPU (default: the
    smallest chosen GPU's memory); without CUDA: the CPU."""
    if cuda:
        ids = list(gpus) if gpus else sorted(cuda)
        unknown = [g for g in ids if g not in cuda]
        if unknown:
            raise WorkbenchError(f"GPU(s) {unknown} requested but this machine shows GPUs {sorted(cuda)}")
        budget = parse_memory(max_memory) or min(cuda[g] for g in ids)
        return {"device_map": planned_device_map(path, ids, budget, max_new_tokens=max_new_tokens,
                                                 batch_size=batch_size, dtype=dtype)}
    if gpus:
        raise WorkbenchError(f"GPUs {gpus} were requested but CUDA is not available on this machine "
                             "(drop --gpus to run on CPU)")
    return {"device_map": "cpu"}


def visible_gpus() -> dict[int, int] | None:
    """{GPU id: total bytes} of the CUDA devices this process sees, or None without CUDA."""
    import torch
    if not torch.cuda.is_available():
        return None
    return {i: torch.cuda.get_device_properties(i).total_memory for i in range(torch.cuda.device_count())}


def load_model(path_or_id: str | os.PathLike, *, gpus: list[int] | None = None,
               max_memory: str | int | None = None, dtype: str = "bfloat16",
               attn_implementation: str | None = None, batch_size: int = 1,
               max_new_tokens: int = 8192, device_map: dict | None = None) -> LoadedModel:
    """Load model + processor. `max_memory`: memory per GPU the run may use (weights, the KV cache of
    `batch_size` sequences of up to `max_new_tokens` new tokens, reserve). Raises WorkbenchError for a
    missing path, a set-up that cannot fit, or an OOM while loading. `device_map`: a placement made
    elsewhere (e.g. a plan computed for other GPUs), used as given."""
    import torch
    from transformers import AutoModelForImageTextToText, Qwen2VLForConditionalGeneration
    path = str(Path(path_or_id).expanduser()) if Path(path_or_id).expanduser().exists() else str(path_or_id)
    config = read_config(path)
    model_type = config.get("model_type", "")
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise WorkbenchError(f"unknown dtype {dtype!r}: use bfloat16, float16 or float32")
    cuda = torch.cuda.is_available()
    attn = attn_implementation or best_attention(cuda)
    cls = Qwen2VLForConditionalGeneration if model_type == "qwen2_vl" else AutoModelForImageTextToText
    try:
        placement = {"device_map": device_map} if device_map is not None else device_map_args(
            path, gpus, max_memory, cuda=visible_gpus(), max_new_tokens=max_new_tokens, batch_size=batch_size,
            dtype=dtype)
        model = cls.from_pretrained(path, dtype=torch_dtype, attn_implementation=attn, **placement).eval()
    except torch.cuda.OutOfMemoryError as exc:
        raise WorkbenchError(f"out of GPU memory while loading {path}: lower --max-memory per GPU, add GPUs "
                             f"or check `workbench plan` ({exc})") from exc
    processor = load_processor(path)
    device = str(model.get_input_embeddings().weight.device)
    return LoadedModel(model=model, processor=processor, tokenizer=processor.tokenizer, path=path,
                       device=device, attn_implementation=attn, model_type=model_type)
