"""Data is text: helpers that put store/URL content into Streamlit elements that render Markdown.

Prefer elements that never interpret their text (st.text, st.code, dataframes, st.html with
html.escape). Where Markdown is unavoidable (labels of links, captions), `md_text` escapes every
character Markdown (and Streamlit's LaTeX and emoji shortcodes) could interpret, so a trace that
contains `![x](http://host/p.png)` or `<img>` shows those characters instead of fetching anything.
"""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")


def md_text(value: object) -> str:
    """`value` as Markdown source that renders as exactly its text (one line: newlines become spaces)."""
    text = "" if value is None else str(value)
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))
