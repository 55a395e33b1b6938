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
  autolinks stay text; `$..$`, `$$..$$`, `\\(..\\)`, `\\[..\\]` are parsed by latex2mathml and drawn as
  plain HTML (italic letters, sup/sub, stacked fractions, roots) rebuilt element by element from a
  whitelist, nothing from the formula in an attribute, so a
  `\\href` or `\\text{<script>}` in a formula shows as text. (Streamlit's HTML sanitiser drops MathML,
  and KaTeX would need its script in the page.) No JavaScript, no fonts or stylesheets from anywhere.
Pure functions: no Streamlit, no I/O.
"""

from __future__ import annotations

import html
import re
import string
from typing import Any
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


def _math_html(node: ElementTree.Element) -> str:
    """latex2mathml's MathML tree as plain HTML (spans, sup, sub; classes styled by MATH_CSS), element by
    element from a whitelist: Streamlit's HTML sanitiser drops MathML, and nothing from the formula
    becomes an attribute (no href, no src, no style)."""
    tag = node.tag.split("}")[-1]
    if tag not in _MATHML_TAGS:
        raise ValueError(f"MathML element {tag!r} not allowed")
    kids = list(node)
    inner = html_text(node.text or "") + "".join(_math_html(c) + html_text(c.tail or "") for c in kids)
    part = [_math_html(c) for c in kids]
    if tag == "mi" and node.attrib.get("mathvariant") != "normal" and len(node.text or "") == 1:
        return f'<i>{inner}</i>'
    if tag in ("msup", "mover") and len(part) == 2:
        return f"{part[0]}<sup>{part[1]}</sup>"
    if tag in ("msub", "munder") and len(part) == 2:
        return f"{part[0]}<sub>{part[1]}</sub>"
    if tag in ("msubsup", "munderover") and len(part) == 3:
        return f"{part[0]}<sub>{part[1]}</sub><sup>{part[2]}</sup>"
    if tag == "mfrac" and len(part) == 2:
        return f'<span class="wb-frac"><span>{part[0]}</span><span>{part[1]}</span></span>'
    if tag == "msqrt":
        return f'√<span class="wb-sqrt">{inner}</span>'
    if tag == "mroot" and len(part) == 2:
        return f'<sup>{part[1]}</sup>√<span class="wb-sqrt">{part[0]}</span>'
    if tag == "mtr":
        return f'<span class="wb-mtr">{inner}</span>'
    if tag == "mtd":
        return f'<span class="wb-mtd">{inner}</span>'
    if tag == "mtable":
        return f'<span class="wb-mtable">{inner}</span>'
    if tag == "mo":
        return f" {inner} " if (node.text or "") in "=+<>≤≥≠±×÷→" and node.text else inner
    if tag == "mspace":
        return " "
    if tag == "annotation":
        return ""
    return inner


MATH_CSS = ("<style>.wb-math{font-family:'Latin Modern Math','STIX Two Math','Cambria Math',serif;"
            "white-space:nowrap}.wb-math.wb-display{display:block;text-align:center;margin:.3rem 0}"
            ".wb-frac{display:inline-flex;flex-direction:column;vertical-align:middle;text-align:center;"
            "font-size:90%;margin:0 .1em}.wb-frac>span:first-child{border-bottom:1px solid currentColor}"
            ".wb-sqrt{border-top:1px solid currentColor;padding-top:1px}.wb-mtable{display:inline-table;"
            "vertical-align:middle}.wb-mtr{display:table-row}.wb-mtd{display:table-cell;padding:0 .4em}</style>")


def latex_html(latex: str, display: bool = False) -> str:
    """A formula as HTML (see `_math_html`); the escaped source in <code> when it cannot be converted."""
    try:
        from latex2mathml.converter import convert
        tree = ElementTree.fromstring(convert(latex, display="block" if display else "inline"))
        return f'<span class="wb-math{" wb-display" if display else ""}">{_math_html(tree)}</span>'
    except Exception:  # noqa: BLE001 - anything odd (unsupported macro, raw markup): show the source as text
        return f'<code class="wb-latex">{html_text(latex)}</code>'


def _markdown() -> object:
    from markdown_it import MarkdownIt
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    rules = md.renderer.rules
    rules["link_open"] = lambda *a, **k: '<span class="wb-link">'
    rules["link_close"] = lambda *a, **k: "</span>"

    def image(tokens: Any, idx: int, options: Any, env: Any) -> str:  # markdown-it's renderer signature
        alt = "".join(t.content for t in (tokens[idx].children or [])) or tokens[idx].content
        return f'<span class="wb-img">[image: {html_text(alt)}]</span>'
    rules["image"] = image
    md.disable("autolink")
    return md


_MD = None


def render_markdown(text: str, css: bool = True) -> str:
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
    out = re.sub(f"{_MARK}(\\d+){_END}", lambda m: formulas[int(m.group(1))], out)
    return (MATH_CSS + out) if formulas and css else out
