"""Pure pieces of issue 16 / issue 14 item 2: the one safe renderer, display ids, URL state, probe folders."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from workbench import urls
from workbench.ui import safe
from workbench.ui.state import filter_from_context
from workbench.ui.tables import display_id, shared_prefixes

HOSTILE = ["![x](http://192.0.2.1/p.png)", "<img src=x onerror=alert(1)>", "[a](javascript:alert(1))",
           "<http://192.0.2.1/>", "# heading", "| a | b |", "*em* **strong** `code`", ":red[x] :material/search:",
           "$x^2$", "&lt;script&gt;", "\\!\\[", "1. item", "> quote", "---"]


def _render_text(md: str) -> str:
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    assert not re.search(r"<(?!/?p>)", html.strip()), html       # nothing but one paragraph
    import html as h
    return h.unescape(re.sub(r"</?p>", "", html).strip())


@pytest.mark.parametrize("text", HOSTILE)
def test_md_text_renders_as_exactly_its_text(text):
    assert _render_text(safe.md_text(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.printable + "，。所以", min_size=1, max_size=40))
def test_md_text_round_trips_any_one_line_text(text):
    one_line = " ".join(text.split())
    if one_line:
        assert _render_text(safe.md_text(text)) == one_line


def test_render_markdown_keeps_formatting_and_drops_html_links_images():
    out = safe.render_markdown("**bold** and $\\frac{a}{b}$\n\n" + " ".join(HOSTILE)
                               + " $\\href{http://192.0.2.1}{y}$ $\\text{<script>alert(1)</script>}$")
    assert "<strong>bold</strong>" in out and 'class="wb-frac"' in out
    assert "<img" not in out and "<script" not in out and "href" not in out and "<a " not in out
    assert "[image: x]" in out and "onerror" in out          # shown as text
    assert "192.0.2.1" not in re.sub(r">[^<]*<", "><", out)    # no attribute holds the address


def test_plotly_text_is_escaped():
    assert safe.plotly_text("<a href='http://x'>x</a>") == "&lt;a href=&#x27;http://x&#x27;&gt;x&lt;/a&gt;"


def test_display_ids_drop_shared_prefixes_and_keep_the_end():
    ids = [f"harness/inference_QVQ-72B-Preview_cot/mmlu/all/subject_{i}abcdef" for i in range(10)]
    ids += ["other/one", "harness/inference_QVQ-72B-Preview_cot/MMMU_local/Art/validation_Art_3"]
    prefixes = shared_prefixes(ids)
    assert display_id(ids[0], prefixes) == "…subject_0abcdef"
    assert display_id("other/one", prefixes) == "other/one"
    long = display_id("x" * 30 + "_the_end_12", [])
    assert len(long) <= 40 and long.endswith("the_end_12")


def test_trace_links_carry_the_list_and_encode_ids():
    path = urls.trace_path("r", "x+y&z#1", 3, context={"det": ["a", "b"], "q": ["cannot see"], "page": ["2"]})
    assert path == "trace?run=r&sample=x%2By%26z%231&step=3&l_det=a&l_det=b&l_q=cannot+see"
    from urllib.parse import parse_qs
    assert parse_qs(path.split("?", 1)[1])["sample"] == ["x+y&z#1"]


def test_list_context_parses_back_into_a_filter():
    class Params(dict):
        def get_all(self, k):
            return self.get(k, [])
    ctx = urls.list_context(Params({"l_det": ["repetition_loop"], "l_answer": ["wrong"], "l_sort": ["copies"],
                                    "l_desc": ["true"], "l_tag": ["x"], "l_runs": ["nope"]}))
    f = filter_from_context(ctx, ["r1", "r2"])
    assert f.detectors == ["repetition_loop"] and f.correct == "wrong" and f.sort == "copies" and f.descending
    assert f.tags == ["x"] and f.runs == ["r1", "r2"]       # an unknown run is dropped
    assert filter_from_context({}, ["r1", "r2"], ["r2"]).flagged     # no list: the run's flagged samples


def test_probe_maps_live_beside_their_store(tmp_path, monkeypatch):
    from workbench.config import probe_dir
    monkeypatch.delenv("WORKBENCH_PROBE_DIR", raising=False)
    assert probe_dir(tmp_path / "a.duckdb") == tmp_path / "a.duckdb.probes"
    assert probe_dir(tmp_path / "b.duckdb") != probe_dir(tmp_path / "a.duckdb")
    monkeypatch.setenv("WORKBENCH_PROBE_DIR", str(tmp_path / "maps"))
    assert probe_dir(tmp_path / "a.duckdb") == tmp_path / "maps"
