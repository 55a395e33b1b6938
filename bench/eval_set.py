"""Seeded synthetic evaluation cases built at run time from the real traces in ../shared.

Nothing here is committed text from the traces: the injections (Chinese words and sentences,
other scripts, loops, "cannot see" statements, hard negatives) are written by the project and
inserted into real traces chosen by a seeded RNG. Each case has exact labels per detector and, for
loops, the exact onset offset.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"

ZH_WORDS = ["因此", "所以", "明显", "可能", "需要", "计算", "结果", "答案", "问题", "反而", "其实", "比较", "重要",
            "影响", "例如", "增加", "减少", "选择", "正确", "错误", "方法", "原因", "关系", "部分", "情况", "过程",
            "主要", "特别", "一般", "理解", "假设", "条件", "变化", "确定", "相同", "不同", "显著", "大约", "最终"]
ZH_SENTENCES = ["我们需要再检查一下这个计算结果。", "这个选项看起来是正确的。", "所以答案应该是第二个选项。",
                "让我重新考虑一下这个问题的条件。", "根据题目的描述，这里的关系是线性的。", "这两个数值之间的差别很小。",
                "首先，我们来分析每一个选项。", "这种情况下，结果会明显增加。"]
OTHER = [("ja", "これは重要なポイントです"), ("ko", "이것은 중요한 점입니다"), ("ru", "это важный момент"),
         ("ru", "правильный ответ"), ("ja", "答えはたぶんBです"), ("ar", "هذه نقطة مهمة"), ("hi", "यह महत्वपूर्ण है")]
MIX_NEGATIVES = [
    "By Schrödinger's equation and Erdős's bound, the estimate holds a priori.",
    "With α = 0.05, β = 0.2 and Δx ≥ λ/2, the interval is fine; see Hölder et al. for details.",
    "The vis-à-vis comparison is laissez-faire rather than a coup d'état, a déjà vu of the naïve view.",
    "∑ xᵢ² ≥ (∑ xᵢ)²/n and ∫₀¹ x dx = ½, with µ = 3 and Ω = 4 Ω·m.",
    "Gödel, Poincaré, Fermat and Ångström all appear in the same footnote.",
]
LOOP_NEGATIVES = [
    lambda rng: "\n".join(f"- For n = {n}: {rng.randint(2, 9)} × {n} = {n * 3}" for n in range(1, rng.randint(12, 30))),
    lambda rng: "| item | value |\n|---|---|\n" + "\n".join(f"| row {i} | {rng.randint(1, 999)} |"
                                                          for i in range(rng.randint(8, 20))),
    lambda rng: "Let me verify: 12 × 12 = 144. That matches.\n\nNext, the other factor.\n\n"
                "Let me verify: 12 × 12 = 144. That matches.",
    lambda rng: "\n".join(f"{c}. option {c} text with some words" for c in "ABCDEFGHIJ"),
    lambda rng: ("...\n" * 6) + ("-----\n" * 6),
]
CANNOT_SEE = ["I'm sorry, but I can't see the image you've shared.",
              "Unfortunately, I can't view the diagram, so I'll reason from the text.",
              "Since I don't have the figure, I'll assume a typical setup.",
              "Without seeing the graph, it's hard to be certain.",
              "The image isn't provided here, so I'll rely on the options.",
              "There's a chart mentioned, but since I can't see it, I'll guess.",
              "I do not have access to the picture, so this is an educated guess.",
              "The picture itself isn't available to me, so I will reason generally.",
              "As a text-only reader I have no way to look at the photo.",
              "Without the diagram, it's impossible to be precise."]
SEE_NEGATIVES = ["I can't see why this option would be wrong.", "I don't see any shading in the image near the top.",
                 "You can't see the back face of the cube in the figure, but it must be there.",
                 "I don't have the exact values of the constants, so I'll estimate them.",
                 "The temperature is not shown in the table, so it must be computed."]
SENT = re.compile(r"[A-Z][^.!?\n]{40,160}[.!?]")


@dataclass
class Case:
    case_id: str
    text: str
    question: str
    has_image: bool
    labels: dict[str, int]
    onset: int | None = None
    span: tuple[int, int] | None = None
    kind: str = ""
    meta: dict = field(default_factory=dict)


def _insert_at_word(text: str, rng: random.Random, insert: str) -> tuple[str, int]:
    spots = [m.end() for m in re.finditer(r"[a-z]{3,} ", text)]
    pos = rng.choice(spots) if spots else len(text)
    return text[:pos] + insert + text[pos:], pos


def _paragraph_ends(text: str) -> list[int]:
    return [m.start() for m in re.finditer(r"\n\n", text)] or [len(text)]


def build(seed: int = 0, n_per_kind: int = 40, path: Path = DEV) -> list[Case]:
    rng = random.Random(seed)
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    script = re.compile(r"[\u0400-\u04ff\u0590-\u06ff\u0900-\u097f\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
    labelled_pos = {json.loads(line)["id"] for line in (ROOT / "bench" / "labels" / "natural.jsonl").open()
                    if json.loads(line)["label"]}
    unseen = re.compile(r"(can't|cannot|don't|do not)\s+(see|have|view)|without (the|seeing)|not (provided|visible)",
                        re.I)
    clean = [r for r in rows if not script.search(r["response"]) and len(r["response"]) > 2000
             and r["id"] not in labelled_pos and not unseen.search(r["response"])]
    rng.shuffle(clean)
    img = [r for r in clean if r["n_images_in_prompt"]]
    txt = [r for r in clean if not r["n_images_in_prompt"]]
    cases: list[Case] = []
    it = iter(txt)

    def base() -> dict:
        return next(it)

    for i in range(n_per_kind):  # --- language mixing positives
        r = base()
        words = "".join(rng.sample(ZH_WORDS, rng.randint(1, 2)))
        t, pos = _insert_at_word(r["response"], rng, words + " ")
        cases.append(Case(f"mix-word-{i}", t, r["question"], False, {"language_mixing": 1}, span=(pos, pos + len(words)),
                          kind="mix-word"))
        r = base()
        s = rng.choice(ZH_SENTENCES)
        t, pos = _insert_at_word(r["response"], rng, s + " ")
        cases.append(Case(f"mix-sentence-{i}", t, r["question"], False, {"language_mixing": 1}, span=(pos, pos + len(s)),
                          kind="mix-sentence"))
        r = base()
        ends = _paragraph_ends(r["response"])
        cut = ends[len(ends) // 2]
        drift = "\n\n".join("".join(rng.sample(ZH_SENTENCES, 3)) for _ in range(rng.randint(2, 4)))
        t = r["response"][:cut] + "\n\n" + drift
        cases.append(Case(f"mix-drift-{i}", t, r["question"], False, {"language_mixing": 1}, span=(cut + 2, len(t)),
                          kind="mix-drift"))
        r = base()
        lang, s = rng.choice(OTHER)
        t, pos = _insert_at_word(r["response"], rng, s + " ")
        cases.append(Case(f"mix-{lang}-{i}", t, r["question"], False, {"language_mixing": 1}, span=(pos, pos + len(s)),
                          kind="mix-other-script"))
    for i in range(n_per_kind):  # --- language mixing hard negatives
        r = base()
        t, _ = _insert_at_word(r["response"], rng, rng.choice(MIX_NEGATIVES) + " ")
        cases.append(Case(f"mixneg-{i}", t, r["question"], False, {"language_mixing": 0}, kind="mix-negative"))
        r = base()
        term = rng.choice(["勾股定理", "阴阳", "功夫", "道"])
        t, _ = _insert_at_word(r["response"], rng, f"(the question's term {term}) ")
        cases.append(Case(f"mixquote-{i}", t, r["question"] + f" The term {term} is used here.", False,
                          {"language_mixing": 0}, kind="mix-quoted"))
    for i in range(n_per_kind):  # --- loops
        r = base()
        sents = list(SENT.finditer(r["response"]))
        m = rng.choice(sents[len(sents) // 3:]) if sents else None
        if m is None:
            continue
        s = m.group(0) + " "
        copies = rng.randint(5, 40)
        t = r["response"][:m.start()] + s * copies + s[: rng.randint(5, len(s) - 2)]
        cases.append(Case(f"loop-runaway-{i}", t, r["question"], False, {"repetition_loop": 1}, onset=m.start(),
                          kind="loop-runaway"))
        r = base()
        sents = list(SENT.finditer(r["response"]))
        m = rng.choice(sents[: max(1, len(sents) // 2)])
        s = m.group(0) + " "
        t = r["response"][:m.start()] + s * rng.randint(3, 8) + r["response"][m.end():]
        cases.append(Case(f"loop-escape-{i}", t, r["question"], False, {"repetition_loop": 1}, onset=m.start(),
                          kind="loop-escape"))
        r = base()
        a, b = rng.randint(2, 99), rng.randint(100, 999) / 1000
        expr = rng.choice([f"= 1 / (j × {b}) ", f"= {a} × {b} / (2π) ", f"= sqrt({a}² + {b}²) "])
        ends = _paragraph_ends(r["response"])
        cut = ends[rng.randrange(len(ends))]
        head = r["response"][:cut] + "\n\nSo x "
        t = head + expr * rng.randint(8, 40) + expr[: len(expr) // 2]
        cases.append(Case(f"loop-inline-{i}", t, r["question"], False, {"repetition_loop": 1}, onset=len(head),
                          kind="loop-inline"))
        r = base()
        neg = rng.choice(LOOP_NEGATIVES)(rng)
        cut = rng.choice(_paragraph_ends(r["response"]))
        t = r["response"][:cut] + "\n\n" + neg + "\n\n" + r["response"][cut:]
        cases.append(Case(f"loopneg-{i}", t, r["question"], False, {"repetition_loop": 0}, kind="loop-negative"))
    for i in range(min(n_per_kind, len(img) // 2)):  # --- grounding (image traces)
        r = img[2 * i]
        s = rng.choice(CANNOT_SEE)
        cut = rng.choice(_paragraph_ends(r["response"])[:3])
        t = r["response"][:cut] + "\n\n" + s + r["response"][cut:]
        cases.append(Case(f"gnd-pos-{i}", t, r["question"], True, {"grounding_loss": 1}, kind="cannot-see"))
        r = img[2 * i + 1]
        s = rng.choice(SEE_NEGATIVES)
        t = r["response"][:cut] + "\n\n" + s + r["response"][cut:]
        cases.append(Case(f"gnd-neg-{i}", t, r["question"], True, {"grounding_loss": 0}, kind="see-negative"))
        r = base()
        t = r["response"] + "\n\n" + rng.choice(CANNOT_SEE)
        cases.append(Case(f"gnd-noimage-{i}", t, r["question"], False, {"grounding_loss": 0}, kind="no-image"))
    return cases
