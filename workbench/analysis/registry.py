"""The detector registry: the one place that knows which detectors exist and how they look.

Each detector module declares `SPEC = DetectorSpec(...)` (name, version, label, colour, severities
with their colours, tiers, the `details` measurements worth a column) next to its pure
`detect()`. This module lists those modules (one line per detector) and everything else reads
the specs from here: the analysis pipeline (what to run, which version), the store's queries
(which detectors to count, which need an image in the denominator), exports (one count column per
detector, measurement columns), pages (filters, colours), reports and charts.

Adding a detector = one module with `SPEC` and `detect()`, and one line in `MODULES`.
Tests may `register()` a spec at run time (a toy detector) and `unregister()` it after.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib import import_module
from typing import Any

# One line per detector: the module that declares its SPEC and detect().
MODULES: tuple[str, ...] = (
    "workbench.analysis.language",
    "workbench.analysis.repetition",
    "workbench.analysis.grounding",
    "workbench.analysis.answer_mismatch",
)

_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Severity:
    """One severity of a detector: its name (stored in `flags.severity`), label and colour."""
    name: str
    label: str
    colour: str
    description: str = ""


@dataclass(frozen=True)
class Measure:
    """A number a detector keeps in `flags.details` that is worth a sortable column
    (e.g. a loop's copies): `details[key]`, shown as `label`."""
    key: str
    label: str
    kind: str = "int"          # int | float | share | bool


@dataclass(frozen=True)
class DetectorSpec:
    """Everything the rest of the workbench needs to know about one detector.

    `detect` is the pure function the pipeline calls for the text tier:
    `detect(response, *, question, steps, has_image, **needs) -> list[Finding]`, where `needs`
    names extra sample fields it wants (e.g. "final_answer"). A spec with `detect=None` only
    receives findings written by another writer (e.g. the probe's model tiers).
    """
    name: str
    version: str
    label: str
    colour: str
    severities: tuple[Severity, ...]
    description: str = ""
    tiers: tuple[str, ...] = ("text",)
    requires_image: bool = False          # rates are over samples with an image
    measures: tuple[Measure, ...] = ()
    needs: tuple[str, ...] = ()
    default: bool = True                  # run by `workbench analyze` without --detectors
    css_class: str = ""                   # highlight class in the trace view (wb-<name> by default)
    collapse: bool = False                # findings with `period_chars`/`copies` details fold to their first copy
    detect: Callable[..., list] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Names become SQL column aliases and CSS classes: keep them plain identifiers.
        for n in [self.name, *(v.name for v in self.severities), *(m.key for m in self.measures)]:
            if not _IDENT.match(n):
                raise ValueError(f"detector {self.name!r}: {n!r} is not a plain identifier ([a-z][a-z0-9_]*)")

    @property
    def severity_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.severities)

    @property
    def mark_class(self) -> str:
        return self.css_class or "wb-" + self.name.replace("_", "-")


_EXTRA: dict[str, DetectorSpec] = {}
_LOADED: dict[str, DetectorSpec] | None = None


def _load() -> dict[str, DetectorSpec]:
    global _LOADED
    if _LOADED is None:
        specs: dict[str, DetectorSpec] = {}
        for mod in MODULES:
            spec = import_module(mod).SPEC
            if spec.name in specs:
                raise RuntimeError(f"two detector modules declare the name {spec.name!r}")
            specs[spec.name] = spec
        _LOADED = specs
    return _LOADED


def specs() -> list[DetectorSpec]:
    """Every registered detector, in registry order."""
    return list(_load().values()) + list(_EXTRA.values())


def names() -> list[str]:
    return [s.name for s in specs()]


def default_names() -> list[str]:
    return [s.name for s in specs() if s.default]


def get(name: str) -> DetectorSpec:
    for s in specs():
        if s.name == name:
            return s
    from workbench.errors import UsageError
    raise UsageError(f"unknown detector {name!r}; known: {', '.join(names())}")


def colours() -> dict[str, str]:
    return {s.name: s.colour for s in specs()}


def labels() -> dict[str, str]:
    return {s.name: s.label for s in specs()}


def all_severities() -> list[str]:
    """Every severity name of every detector, in registry order, without duplicates."""
    out: list[str] = []
    for s in specs():
        out += [v for v in s.severity_names if v not in out]
    return out


def severity_colours() -> dict[str, str]:
    out: dict[str, str] = {}
    for s in specs():
        for v in s.severities:
            out.setdefault(v.name, v.colour)
    return out


def image_detectors() -> list[str]:
    """Detectors whose rate is over samples with an image."""
    return [s.name for s in specs() if s.requires_image]


def measures() -> list[tuple[str, Measure]]:
    """(detector, measure) for every measurement column, in registry order."""
    return [(s.name, m) for s in specs() for m in s.measures]


def register(spec: DetectorSpec) -> None:
    """Add a detector at run time (tests, plug-ins)."""
    if spec.name in _load() or spec.name in _EXTRA:
        raise ValueError(f"a detector named {spec.name!r} is registered already")
    _EXTRA[spec.name] = spec


def unregister(name: str) -> None:
    _EXTRA.pop(name, None)


@contextmanager
def overridden(name: str, **changes: Any) -> Iterator[DetectorSpec]:
    """Temporarily replace fields of a registered spec (tests: a new version, a failing detect)."""
    table = _EXTRA if name in _EXTRA else _load()
    old = table[name]
    table[name] = replace(old, **changes)
    try:
        yield table[name]
    finally:
        table[name] = old


def versions() -> dict[str, str]:
    return {s.name: s.version for s in specs()}


def iter_detect(names_: list[str]) -> Iterator[tuple[DetectorSpec, Callable[..., list]]]:
    """(spec, detect) for the named detectors that have a text-tier detect function."""
    for n in names_:
        spec = get(n)
        if spec.detect is not None:
            yield spec, spec.detect


def describe() -> list[dict[str, Any]]:
    """A plain description of every detector (for `workbench detectors` and the README)."""
    return [{"name": s.name, "version": s.version, "label": s.label, "colour": s.colour,
             "severities": [v.name for v in s.severities], "tiers": list(s.tiers),
             "requires_image": s.requires_image, "default": s.default,
             "measures": [m.key for m in s.measures]} for s in specs()]
