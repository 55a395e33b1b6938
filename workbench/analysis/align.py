"""Align the steps of two traces by similarity (monotone, gaps allowed) and diff aligned steps."""

from __future__ import annotations

import difflib
import html
import re

GAP = -0.2          # score of leaving a step unmatched
MIN_MATCH = 0.3     # below this similarity two steps are not paired
BAND = 0.25         # long traces: only steps within 25% of each other's relative position are compared
BAND_FROM = 10_000  # ... once n x m pairs exceed this (short traces compare every pair)

_WORD = re.compile(r"\S+|\s+")


def similarity(a: str, b: str) -> float:
    m = difflib.SequenceMatcher(None, a.lower().split(), b.lower().split(), autojunk=False)
    return m.ratio()


def align(a: list[str], b: list[str]) -> list[tuple[int | None, int | None, float]]:
    """Needleman-Wunsch over steps: (i, j, similarity) pairs, None for a gap."""
    n, m = len(a), len(b)
    # |i/n - j/m| <= BAND, written without division; steps outside the band are never paired
    band = BAND * n * m if n * m > BAND_FROM else float("inf")
    sim = [[similarity(x, y) if abs(i * m - j * n) <= band else 0.0 for j, y in enumerate(b)]
           for i, x in enumerate(a)]
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    back = [[""] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        score[i][0], back[i][0] = score[i - 1][0] + GAP, "up"
    for j in range(1, m + 1):
        score[0][j], back[0][j] = score[0][j - 1] + GAP, "left"
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            s = sim[i - 1][j - 1]
            options = [(score[i - 1][j] + GAP, "up"), (score[i][j - 1] + GAP, "left")]
            if s >= MIN_MATCH:
                options.append((score[i - 1][j - 1] + s, "diag"))
            score[i][j], back[i][j] = max(options)
    out: list[tuple[int | None, int | None, float]] = []
    i, j = n, m
    while i > 0 or j > 0:
        move = back[i][j]
        if move == "diag":
            out.append((i - 1, j - 1, sim[i - 1][j - 1]))
            i, j = i - 1, j - 1
        elif move == "up":
            out.append((i - 1, None, 0.0))
            i -= 1
        else:
            out.append((None, j - 1, 0.0))
            j -= 1
    return out[::-1]


def diff_html(a: str, b: str) -> tuple[str, str]:
    """Word-level diff of two texts as escaped HTML: removed words in <del>, added in <ins>."""
    wa, wb = _WORD.findall(a), _WORD.findall(b)
    left, right = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        x, y = html.escape("".join(wa[i1:i2])), html.escape("".join(wb[j1:j2]))
        if op == "equal":
            left.append(x)
            right.append(y)
        else:
            if x:
                left.append(f'<del class="wb-del">{x}</del>')
            if y:
                right.append(f'<ins class="wb-ins">{y}</ins>')
    return "".join(left), "".join(right)
