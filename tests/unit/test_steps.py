"""Property: steps tile the response's non-whitespace text exactly, in order, whatever the input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.analysis.base import ROLES
from workbench.analysis.steps import segment

_PIECES = st.sampled_from([
    "Wait, ", "Alternatively, ", "So the answer is 4. ", "Looking at the image, ", "\n\n", "\n", "  ",
    "Hmm. ", "x = 3 + 4 = 7. ", "数学 ", "שלום ", "😀", "**Final Answer**\n\n\\[ \\boxed{B} \\]", "\t",
    "Let me try another approach. ", "The figure shows a cube. " * 40,
])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=30)), max_size=60))
def test_steps_tile_the_non_whitespace_text(pieces: list[str]) -> None:
    text = "".join(pieces)
    steps = segment(text)
    covered = [False] * len(text)
    last_end = 0
    for i, s in enumerate(steps):
        assert s.index == i
        assert last_end <= s.char_start < s.char_end <= len(text)
        assert text[s.char_start:s.char_end].strip()        # no empty step
        assert s.image_ref_count >= 0 and s.role in ROLES
        for k in range(s.char_start, s.char_end):
            covered[k] = True
        last_end = s.char_end
    assert all(covered[k] for k, c in enumerate(text) if not c.isspace())
