"""The analysis' fast paths give exactly what their plain definitions give (issue 18 item 2).

Each fast path (a regex rewritten for speed, a batched normalisation, a memo) is compared with the
slow form it replaces on generated texts, so a shortcut that drops or moves a finding fails here,
not in a user's store. No timing is asserted (bench/detector_speed.py measures speed).
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.analysis import answers, repetition, steps

# Characters that matter to the cuts and folds: unit ends (ASCII and CJK), spaces and line breaks,
# word characters including "_", digits, cased non-ASCII letters whose lowercase is special
# (final sigma, dotted I), a combining mark, CJK, and the batching separator itself.
_ALPHABET = st.sampled_from([*"ab Z_9.!?。！？\n\t,;:-*|'\"()ΣσİßéÉ漢字\u0307", repetition._SEP])
_WORDS = st.sampled_from(["alternatively", "perhaps", "maybe", "wait", "but", "so", "let me", "hold on", "no",
                          "Wait,", "Hmm", "Actually", "the answer is", "Therefore", "Let me check",
                          "Another approach", "Instead,", "is that right", "**Final Answer**", "\\boxed{3}",
                          "image", "figure", "shows", "Σ", "x_1", "---", "  ", "\n", "\n\n", ". ", "? "])
_TEXT = st.one_of(st.text(_ALPHABET, max_size=300),
                  st.lists(_WORDS, max_size=40).map(" ".join),
                  st.lists(_WORDS, max_size=40).map("".join))


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_unit_cut_equals_the_lookbehind_split(text):
    assert repetition._cut(text) == repetition._CUT.split(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT.map(lambda t: t[:70]), max_size=12))
def test_batched_cycle_keys_equal_one_key_per_step(heads):
    assert repetition._keys(heads) == [repetition._key(h) for h in heads]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(st.sampled_from(list("aZ9_ .,;:!?-*|'\"()\n\t\x00\x1f~")), max_size=70),
                          st.lists(_WORDS.filter(str.isascii), max_size=12).map(" ".join).map(lambda t: t[:70])),
                min_size=5, max_size=12))
def test_ascii_cycle_keys_equal_one_key_per_step(heads):
    assert repetition._keys(heads) == [repetition._key(h) for h in heads]


def test_batched_cycle_keys_fall_back_when_a_head_holds_the_separator():
    heads = [f"Alternatively, perhaps step {i} {repetition._SEP} again" for i in range(6)]
    assert repetition._keys(heads) == [repetition._key(h) for h in heads]


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_one_role_regex_equals_the_patterns_in_order(text):
    head = text[:steps.HEAD_CHARS]
    expected = next((role for role, p in steps.ROLE_PATTERNS if p.match(head)), None)
    m = steps._ROLE.match(head)
    assert (m.lastgroup if m else None) == expected


def _reading(response, **kw):
    return answers._read_answers(response, **{k: kw.get(k) for k in (
        "final_answer", "ground_truth", "question", "metadata", "benchmark", "finish_reason")})


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["The answer is 3.", "So the answer is B.", "**Final Answer**\n\\boxed{7}",
                                           "I think 5"]),
                          st.sampled_from([None, "3", "B", "7"]), st.sampled_from([None, "3", "(B) 4"])),
                min_size=1, max_size=6))
def test_read_answers_memo_returns_what_a_fresh_reading_returns(calls):
    for response, final_answer, ground_truth in calls:   # repeats and changes in any order
        got = answers.read_answers(response, final_answer=final_answer, ground_truth=ground_truth)
        assert got == _reading(response, final_answer=final_answer, ground_truth=ground_truth)


def test_read_answers_memo_never_reuses_a_reading_for_a_changed_dict():
    meta = {"options": ["1", "2", "3"]}
    first = answers.read_answers("The answer is B.", ground_truth="B", metadata=meta)
    meta["options"] = ["9", "8"]          # changed in place: same object, other content
    again = answers.read_answers("The answer is B.", ground_truth="B", metadata=meta)
    assert again == _reading("The answer is B.", ground_truth="B", metadata=meta)
    assert answers.read_answers("The answer is B.", ground_truth="B", metadata=json.dumps(meta)) == \
        _reading("The answer is B.", ground_truth="B", metadata=json.dumps(meta))
    assert first.info == again.info


def test_merged_chunks_keep_the_type_a_column_has_where_it_has_values():
    from workbench.store.findings import AnalysisRows, merge_prepared, prepare
    a = prepare(AnalysisRows(stats=[{"run_id": "r", "sample_id": "a", "extracted_correct": None, "n_steps": 2}],
                             done=[("r", "a", "steps")]))
    b = prepare(AnalysisRows(stats=[{"run_id": "r", "sample_id": "b", "extracted_correct": True, "n_steps": 3}],
                             done=[("r", "b", "steps")]))
    merged = merge_prepared([a, b]).tables["stats"]
    assert str(merged.schema.field("extracted_correct").type) == "bool"
    assert merged.to_pylist() == [{"run_id": "r", "sample_id": "a", "extracted_correct": None, "n_steps": 2},
                                  {"run_id": "r", "sample_id": "b", "extracted_correct": True, "n_steps": 3}]
    assert merge_prepared([a, b]).done == [("r", "a", "steps"), ("r", "b", "steps")]
