"""The trace renderer: escaping, highlight offsets, loop collapsing."""

from __future__ import annotations

import json

from workbench.analysis import language, repetition
from workbench.analysis.steps import segment
from workbench.viz.trace_html import render_trace


def steps_of(text):
    return [{"step_index": s.index, "char_start": s.char_start, "char_end": s.char_end, "role": s.role}
            for s in segment(text)]


def flags_of(findings):
    return [{"detector": f.detector, "severity": f.severity, "char_start": f.char_start, "char_end": f.char_end,
             "step_index": f.step_index, "details": json.dumps(f.details)} for f in findings]


def test_html_in_the_trace_is_escaped():
    text = "Look: <script>alert(1)</script> and <img src=x onerror=alert(1)> here.\n\nDone."
    out = render_trace(text, steps_of(text), [])
    assert "<script>alert" not in out and "<img src=x" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out and "&lt;img src=x onerror=alert(1)&gt;" in out


def test_mixing_span_is_highlighted_at_its_offsets():
    text = "The bar is明显 taller.\n\nSo C."
    findings = language.detect(text, steps=segment(text))
    out = render_trace(text, steps_of(text), flags_of(findings))
    assert '<mark class="wb-mix" title="language mixing (word, zh)">明显</mark>' in out


def test_loop_is_collapsed_to_first_copy_with_a_toggle():
    unit = "So the value is the square root of one hundred, which is ten. "
    text = "Start.\n\n" + unit * 20 + "So the value is"
    steps = segment(text)
    findings = repetition.detect(text, steps=steps)
    out = render_trace(text, steps_of(text), flags_of(findings))
    assert out.count(unit.strip()) == 1 + 19  # first copy visible, the rest inside <details>
    assert "repeated 20 times" in out and "<details" in out
    expanded = render_trace(text, steps_of(text), flags_of(findings), expand_loops=True)
    assert "<details" not in expanded


def test_steps_have_anchors_roles_and_deep_links():
    text = "Looking at the image, a cat.\n\nWait, maybe a dog.\n\n**Final Answer** B"
    out = render_trace(text, steps_of(text), [], run_id="r 1", sample_id="s&1", selected_step=1)
    assert 'id="step-0"' in out and 'id="step-2"' in out
    assert "trace?run=r+1&amp;sample=s%261&amp;step=1" in out
    assert ">reflection</span>" in out and "wb-selected" in out


def test_selected_step_inside_a_folded_loop_is_shown():
    from workbench.viz.trace_html import render_trace
    unit = "I check the sum again. "
    text = "Start.\n\n" + "\n\n".join([unit] * 30)
    steps, pos = [], 0
    for i, part in enumerate(text.split("\n\n")):
        a = text.index(part, pos)
        steps.append({"step_index": i, "char_start": a, "char_end": a + len(part), "role": "computation"})
        pos = a + len(part)
    loop = {"detector": "repetition_loop", "severity": "runaway", "char_start": steps[1]["char_start"],
            "char_end": steps[-1]["char_end"], "details": '{"period_chars": 25, "copies": 30}'}
    folded = render_trace(text, steps, [loop])
    assert 'id="step-20"' not in folded and "steps 2–30 folded" in folded
    shown = render_trace(text, steps, [loop], selected_step=20)
    assert 'id="step-20"' in shown and "wb-selected" in shown
