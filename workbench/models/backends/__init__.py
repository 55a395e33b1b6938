"""Generation backends by name. Adding one: a module with a Backend subclass + one line here."""

from __future__ import annotations

import importlib
from typing import Any

from workbench.errors import UsageError
from workbench.models.backends.base import Backend

BACKENDS = {
    "transformers": "workbench.models.backends.transformers_backend:TransformersBackend",
    "openai": "workbench.models.backends.openai_backend:OpenAIBackend",
    "vllm": "workbench.models.backends.vllm_backend:VLLMBackend",
}


def make_backend(name: str, model: str, **options: Any) -> Backend:
    if name not in BACKENDS:
        raise UsageError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)(model, **options)
