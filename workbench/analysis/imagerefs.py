"""References to the image in a trace: the one word list, matched on word boundaries.

Used by `steps` (per-step `image_ref_count`, `perception` roles) and by `grounding_loss` (the
nouns a "cannot see the image" statement may use). A reference is one of REF_NOUNS, singular or
plural, as a whole word, case-insensitive: "the image shows", "in the figure", "Figures 2 and 3",
"<image 1>". Not references: words that merely contain one ("imagine", "photosynthesis", "photon",
"demographic", "paragraph", "graphene", "figured"), and "figure out" / "figures out".

STATEMENT_NOUNS adds nouns that name what the model was given only inside a statement about not
having it ("I don't have the circuit diagram", "the map isn't provided"); they are not counted as
references on their own ("map", "table", "circuit" are ordinary words in most traces).
"""

from __future__ import annotations

REF_NOUNS = ("image", "figure", "diagram", "picture", "photo", "photograph", "graph", "chart", "plot",
             "illustration", "drawing", "screenshot", "schematic")
STATEMENT_NOUNS = (*REF_NOUNS, "map", "visual", "pedigree", "graphic", "circuit", "scan", "x-ray", "ecg", "sheet music",
                   "attachment", "photo attachment")
_NOT_AFTER = {"figure": (" out", "s out")}  # "figure out" is not the figure


def _noun_alternation(nouns: tuple[str, ...]) -> str:
    return "(?:" + "|".join(sorted((n.replace(" ", r"\s+").replace("-", r"-?") for n in nouns),
                                   key=len, reverse=True)) + ")s?"


#: regex fragment (no groups) for a noun of a cannot-see statement, plural allowed; compile with re.I
STATEMENT_NOUN_PATTERN = _noun_alternation(STATEMENT_NOUNS)
#: regex fragment for a reference noun (REF_NOUNS), plural allowed; compile with re.I
REF_NOUN_PATTERN = _noun_alternation(REF_NOUNS)


def _is_word_end(low: str, j: int) -> bool:
    if j >= len(low) or not low[j].isalpha():
        return True
    return low[j] == "s" and (j + 1 >= len(low) or not low[j + 1].isalpha())


def positions(text: str) -> list[int]:
    """Sorted offsets of image references in `text` (one C-speed substring scan per noun)."""
    low = text.lower()
    out: list[int] = []
    for w in REF_NOUNS:
        i = low.find(w)
        while i >= 0:
            j = i + len(w)
            if (i == 0 or not low[i - 1].isalpha()) and _is_word_end(low, j) and \
                    not any(low.startswith(x, j) for x in _NOT_AFTER.get(w, ())):
                out.append(i)
            i = low.find(w, j)
    out.sort()
    return out


def count(text: str) -> int:
    """Number of image references in `text` ("Imagine the image" counts 1)."""
    return len(positions(text))
