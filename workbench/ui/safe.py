"""Data is text: the one safe renderer for store, file and URL content (app pages and reports).

Three ways data reaches a page or a report, and nothing else:
- `md_text(value)`: Markdown *source* that renders as exactly `value` (one line). Every ASCII
  punctuation character is backslash-escaped (CommonMark allows escaping any of them), so no
  link, image, HTML tag, heading, table cell, emphasis, Streamlit colour directive, emoji/icon
  shortcode or `$` math can start inside it. For Streamlit elements that render Markdown
  (titles, captions, st.info/warning/error, metric values, widget labels, link labels) and for
  the Markdown report.
- `html_text(value)`: HTML-escaped text (for st.html and the HTML report).
- `render_markdown(text)`: trace text rendered as Markdown + LaTeX, as an HTML fragment, where we
  choose to (the trace view's "Render Markdown and LaTeX" switch). CommonMark by markdown-it-py
  with raw HTML off; links become their text (no href), images become "[image: alt]" text,
  autolinks stay text; `$..$`, `$$..$$`, `\\(..\\)`, `\\[..\\]` become MathML (latex2mathml), rebuilt
  element by element from a whitelist of MathML tags and attributes (no href, no src, no style),
  so a `\\href` or `\\text{<script>}` in a formula shows as text. No JavaScript, no fonts or
  stylesheets from anywhere: MathML is drawn by the browser itself.
Pure functions: no Streamlit, no I/O.
"""

from __future__ import annotations

import html
import re
import string
from xml.etree import ElementTree

_PUNCT = re.compile("([" + re.escape(string.punctuation) + "])")


def md_escape(text: str) -> str:
    """Backslash before every ASCII punctuation character of one line of text (spacing kept)."""
    return _PUNCT.sub(r"\\\1", text.replace("\r", " "))


def md_text(value: object) -> str:
    """`value` as Markdown source that renders as exactly its text (one line: whitespace runs,
    newlines included, become one space)."""
    text = "" if value is None else str(value)
    return md_escape(" ".join(text.split()))


def md_lines(value: object) -> list[str]:
    """`value` as Markdown source lines (newlines kept, each line escaped like `md_text`)."""
    text = "" if value is None else str(value)
    return [md_text(line) for line in text.splitlines()] or [""]


def html_text(value: object) -> str:
    """HTML-escaped text (quotes included, safe in attributes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def plotly_text(value: object) -> str:
    """Text for Plotly labels, legends and hovers: Plotly reads a subset of HTML there (<a href>, <b>,
    <br>), so data is HTML-escaped (Plotly shows the entities as the characters)."""
    return html_text(value)


# --- Markdown + LaTeX -> safe HTML -------------------------------------------------------------
_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$\w])\$(?!\s)([^$\n]{1,400}?)(?<!\s)\$(?![\w$])",
                   re.S)
_MATHML_TAGS = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "mfrac", "msqrt", "mroot", "msub",
                "msup", "msubsup", "munder", "mover", "munderover", "mtable", "mtr", "mtd", "mstyle",
                "mpadded", "mphantom", "menclose", "semantics", "annotation", "mmultiscripts", "mprescripts",
                "none", "merror", "mfenced"}
_MATHML_ATTRS = {"display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "accent",
                 "accentunder", "columnalign", "rowalign", "columnspacing", "rowspacing", "displaystyle",
                 "scriptlevel", "notation", "width", "height", "depth", "linethickness", "minsize", "maxsize",
                 "movablelimits", "form", "largeop", "symmetric", "open", "close", "separators", "columnlines",
                 "rowlines", "frame", "encoding"}
_SAFE_ATTR_VALUE = re.compile(r"^[\w .%#+-]{0,40}$")
_MARK = "\ue000"   # private-use characters: placeholders for formulas while Markdown is rendered
_END = "\ue001"


def _clean_mathml(node: ElementTree.Element) -> str:
    tag = node.tag.split("}")[-1]
    if tag not in _MATHML_TAGS:
        raise ValueError(f"MathML element {tag!r} not allowed")
    attrs = "".join(f' {k}="{html_text(v)}"' for k, v in sorted(node.attrib.items())
                    if k in _MATHML_ATTRS and _SAFE_ATTR_VALUE.match(v))
    inner = html_text(node.text or "") + "".join(_clean_mathml(c) + html_text(c.tail or "") for c in node)
    return f"<{tag}{attrs}>{inner}</{tag}>"


def latex_html(latex: str, display: bool = False) -> str:
    """A formula as whitelisted MathML; the escaped source in <code> when it cannot be converted."""
    try:
        from latex2mathml.converter import convert
        tree = ElementTree.fromstring(convert(latex, display="block" if display else "inline"))
        return _clean_mathml(tree).replace("<math", '<math xmlns="http://www.w3.org/1998/Math/MathML"', 1)
    except Exception:  # anything odd (unsupported macro, raw markup): show the source as text
        return f'<code class="wb-latex">{html_text(latex)}</code>'


def _markdown() -> object:
    from markdown_it import MarkdownIt
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    rules = md.renderer.rules
    rules["link_open"] = lambda *a, **k: '<span class="wb-link">'
    rules["link_close"] = lambda *a, **k: "</span>"

    def image(tokens, idx, options, env):  # noqa: ANN001 - markdown-it's renderer signature
        alt = "".join(t.content for t in (tokens[idx].children or [])) or tokens[idx].content
        return f'<span class="wb-img">[image: {html_text(alt)}]</span>'
    rules["image"] = image
    md.disable("autolink")
    return md


_MD = None


def render_markdown(text: str) -> str:
    """Trace text rendered as Markdown and LaTeX: a safe HTML fragment (see the module docstring)."""
    global _MD
    if _MD is None:
        _MD = _markdown()
    formulas: list[str] = []

    def stash(m: re.Match) -> str:
        display = m.group(1) is not None or m.group(2) is not None
        latex = next(g for g in m.groups() if g is not None)
        formulas.append(latex_html(latex.strip(), display))
        return f"{_MARK}{len(formulas) - 1}{_END}"

    source = _MATH.sub(stash, (text or "").replace(_MARK, "").replace(_END, ""))
    out = _MD.render(source)
    return re.sub(f"{_MARK}(\\d+){_END}", lambda m: formulas[int(m.group(1))], out)
