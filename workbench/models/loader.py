"""Load a vision-language checkpoint (folder or hub id) for generation or probing.

`load_model(path_or_id, gpus=[0,1,2,3], max_memory="75GiB", dtype="bfloat16")` returns a
`LoadedModel` (model, processor, tokenizer, device). Qwen2-VL-family configs load with
`Qwen2VLForConditionalGeneration`, anything else with `AutoModelForImageTextToText`. Weights are
spread over the chosen GPUs with accelerate's device_map and a per-GPU budget; on a machine
without CUDA the same call loads on CPU. The processor is the stock `AutoProcessor` when it
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

QWEN2VL_TYPES = {"qwen2_vl", "qwen2_5_vl"}


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
    except Exception as exc:  # noqa: BLE001 - hub/offline errors vary
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
    from workbench.models.tiny import image_only_processor
    from transformers import Qwen2VLImageProcessorPil
    tok = AutoTokenizer.from_pretrained(path)
    return image_only_processor(tok, Qwen2VLImageProcessorPil.from_pretrained(path))


def device_map_args(gpus: list[int] | None, max_memory: str | int | None) -> dict:
    """from_pretrained kwargs placing the model on the chosen GPUs (or CPU without CUDA)."""
    import torch
    if torch.cuda.is_available():
        ids = gpus if gpus else list(range(torch.cuda.device_count()))
        budget = parse_memory(max_memory)
        mm = {g: (budget or torch.cuda.get_device_properties(g).total_memory) for g in ids}
        return {"device_map": "auto", "max_memory": mm}
    if gpus:
        raise WorkbenchError(f"GPUs {gpus} were requested but CUDA is not available on this machine "
                             "(drop --gpus to run on CPU)")
    return {"device_map": "cpu"}


def load_model(path_or_id: str | os.PathLike, *, gpus: list[int] | None = None,
               max_memory: str | int | None = None, dtype: str = "bfloat16",
               attn_implementation: str | None = None) -> LoadedModel:
    """Load model + processor. Raises WorkbenchError for a missing path or an OOM while loading."""
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
        model = cls.from_pretrained(path, dtype=torch_dtype, attn_implementation=attn,
                                    **device_map_args(gpus, max_memory)).eval()
    except torch.cuda.OutOfMemoryError as exc:
        raise WorkbenchError(f"out of GPU memory while loading {path}: lower --max-memory per GPU, add GPUs "
                             f"or check `workbench plan` ({exc})") from exc
    processor = load_processor(path)
    device = str(model.get_input_embeddings().weight.device)
    return LoadedModel(model=model, processor=processor, tokenizer=processor.tokenizer, path=path,
                       device=device, attn_implementation=attn, model_type=model_type)
