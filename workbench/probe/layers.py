"""Which decoder layers to probe (pure)."""

from __future__ import annotations

import re


def default_layers(n_layers: int, k: int = 8) -> list[int]:
    """A spread of k layers from early to last (all layers when there are at most k)."""
    if n_layers <= k:
        return list(range(n_layers))
    return sorted({round(i * (n_layers - 1) / (k - 1)) for i in range(k)})


def _index(text: str, n_layers: int) -> int:
    i = int(text)
    if not -n_layers <= i < n_layers:
        raise IndexError(f"layer {i} does not exist (the model has {n_layers} decoder layers: 0..{n_layers - 1})")
    return i % n_layers


def parse_layers(spec: str | None, n_layers: int) -> list[int]:
    """'spread' (default), 'all', '0,10,20', '40-79'; negative numbers count from the end (-1 = last)."""
    if not spec or spec == "spread":
        return default_layers(n_layers)
    if spec == "all":
        return list(range(n_layers))
    out: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        m = re.fullmatch(r"(-?\d+)\s*-\s*(-?\d+)", part)
        try:
            if m:
                lo, hi = _index(m.group(1), n_layers), _index(m.group(2), n_layers)
                if lo > hi:
                    raise ValueError(f"--layers: empty range {part!r}")
                out.update(range(lo, hi + 1))
            else:
                out.add(_index(part, n_layers))
        except IndexError as exc:
            raise ValueError(f"--layers: {exc}") from None
        except ValueError as exc:
            if "--layers" in str(exc):
                raise
            raise ValueError(f"--layers: cannot read {part!r} "
                             "(use e.g. 'spread', 'all', '0,10,20' or '40-79')") from None
    return sorted(out)
