"""Seeded synthetic evaluation cases built at run time from the real traces in ../shared.

Nothing here is committed text from the traces: the injections (Chinese words and sentences,
other scripts, Latin-script sentences in French/Spanish/German/Portuguese/Italian, whole answers
in the question's own language, loops, "cannot see" statements, hard negatives) are written by the
project and inserted into real traces chosen by a seeded RNG. Each case has exact labels per
detector and, for loops, the exact onset offset.

Without ../shared (a fresh clone, CI) `build(path=None)` uses host traces generated from the
project's own English sentences instead (`own_traces`), so the synthetic checks run everywhere.

The second-round kinds (issue 15: `mix-latin*`, `mix-same*`, `loop-long-block`, `loop-rotate`,
`loopneg-rotate`, `gnd-para*`) draw from their own RNG (seed + 1) so the first-round cases stay
as they were; they were written before the rules they test were changed.
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
                "让我重新考虑一下这个问题的条件。", "根据题目的描述，这里的关系是线性的。",
                "这两个数值之间的差别很小。",
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


def build(seed: int = 0, n_per_kind: int = 40, path: Path | None = DEV) -> list[Case]:
    rng = random.Random(seed)
    if path is None or not path.exists():
        rows = own_traces(random.Random(seed + 7), 40 * n_per_kind)
    else:
        rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    script = re.compile(r"[\u0400-\u04ff\u0590-\u06ff\u0900-\u097f\u0e00-\u0e7f"
                        r"\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
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

    if len(img) < 4 * n_per_kind:  # own host traces: pretend half of them had an image
        img = [dict(r, n_images_in_prompt=1) for r in txt[-4 * n_per_kind:]]

    for i in range(n_per_kind):  # --- language mixing positives
        r = base()
        words = "".join(rng.sample(ZH_WORDS, rng.randint(1, 2)))
        t, pos = _insert_at_word(r["response"], rng, words + " ")
        cases.append(Case(f"mix-word-{i}", t, r["question"], False, {"language_mixing": 1},
                          span=(pos, pos + len(words)), kind="mix-word"))
        r = base()
        s = rng.choice(ZH_SENTENCES)
        t, pos = _insert_at_word(r["response"], rng, s + " ")
        cases.append(Case(f"mix-sentence-{i}", t, r["question"], False, {"language_mixing": 1},
                          span=(pos, pos + len(s)), kind="mix-sentence"))
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
    cases += _second_round(random.Random(seed + 1), n_per_kind, base, img[2 * n_per_kind:])
    return cases


# ------------------------------------------------------------------ second round (issue 15)
LABELS_DIR = ROOT / "bench" / "labels"
QUESTIONS = {  # our own questions, one language each
    "fr": ["Quelle est la valeur de x si 2x + 3 = 11 ? A. 2 B. 4 C. 6 D. 8",
           "Quel organe produit l'insuline chez l'homme ? A. le foie B. le pancréas C. le rein D. le cœur"],
    "es": ["¿Cuál es el valor de x si 2x + 3 = 11? A. 2 B. 4 C. 6 D. 8",
           "¿Qué órgano produce la insulina en el ser humano? A. el hígado B. el páncreas C. el riñón D. el corazón"],
    "de": ["Welchen Wert hat x, wenn 2x + 3 = 11 ist? A. 2 B. 4 C. 6 D. 8",
           "Welches Organ produziert beim Menschen das Insulin? A. die Leber B. die Bauchspeicheldrüse C. die Niere"],
    "pt": ["Qual é o valor de x se 2x + 3 = 11? A. 2 B. 4 C. 6 D. 8",
           "Qual órgão produz a insulina no ser humano? A. o fígado B. o pâncreas C. o rim D. o coração"],
    "it": ["Qual è il valore di x se 2x + 3 = 11? A. 2 B. 4 C. 6 D. 8",
           "Quale organo produce l'insulina nell'uomo? A. il fegato B. il pancreas C. il rene D. il cuore"],
}
ROTATE = [("maybe", "perhaps", "possibly"), ("first", "again", "now"), ("check", "verify", "recheck"),
          ("value", "result", "number"), ("so", "thus", "hence")]
ROTATE_NEGATIVES = [  # one word changes per line, but it is an enumeration, not a loop
    lambda rng: " ".join(f"Option {c} does not satisfy the second condition of the problem." for c in "ABCD"),
    lambda rng: " ".join(f"The {w} term of the expansion is positive for every admissible value of x."
                         for w in ("first", "second", "third", "fourth", "fifth")),
    lambda rng: "\n".join(f"- In {m}, the monthly total stays below the budget line set at the start." for m in
                          ("January", "February", "March", "April", "May", "June")),
]
_EN_SENTENCES = [  # for host traces when ../shared is absent: our own English reasoning sentences
    "Let me start by writing down what the problem gives us: a mass of {a} kg and a speed of {b} m/s.",
    "The kinetic energy is one half times the mass times the speed squared, which gives {c} J.",
    "Wait, I should double-check the units before going further.",
    "So the ratio of the two quantities is {a} to {b}, which simplifies nicely.",
    "Option {L} does not match this value, so I can set it aside for now.",
    "Hmm, maybe the question expects the answer in kilojoules rather than joules.",
    "Next, I need to think about whether friction plays a role here; the problem says the surface is smooth.",
    "If the angle were {a} degrees, the horizontal component would be noticeably larger than {b}.",
    "That seems reasonable, because the total has to stay below {c}.",
    "Alternatively, I could set up the equation with the unknown on the left and solve for it directly.",
    "Now, substituting the numbers gives {a} plus {b}, which is {c}.",
    "The law in question requires notice to be given within {a} days of the event.",
    "A contract formed under duress can be voided by the party who was coerced.",
    "In a market with {a} firms, each one has little power over the price.",
    "The cell uses ATP as its main energy currency, and glycolysis yields {a} molecules of it per glucose.",
    "Therefore, the most plausible choice is option {L}, since it is consistent with every condition.",
]


def own_traces(rng: random.Random, n: int) -> list[dict]:
    """English host traces made from the project's own sentences (no real trace text)."""
    out = []
    for k in range(n):
        paras = []
        for _ in range(rng.randint(8, 14)):
            sents = []
            for tpl in rng.sample(_EN_SENTENCES, rng.randint(2, 4)):
                a, b = rng.randint(2, 90), rng.randint(2, 90)
                sents.append(tpl.format(a=a, b=b, c=a + b + rng.randint(1, 999), L=rng.choice("ABCD")))
            paras.append(" ".join(sents))
        ans = rng.choice("ABCD")
        text = "\n\n".join(paras) + f"\n\n**Final Answer**\n\n\\[ \\boxed{{{ans}}} \\]"
        out.append({"id": f"own-{k}", "question": "Which option is correct? A. 1 B. 2 C. 3 D. 4",
                    "response": text, "n_images_in_prompt": 0})
    return out


def _labelled(name: str) -> list[dict]:
    return [json.loads(line) for line in (LABELS_DIR / name).open(encoding="utf-8")]


def _sentence_ends(text: str) -> list[int]:
    """Offsets right after a sentence end inside a paragraph (". " followed by a capital)."""
    return [m.end() for m in re.finditer(r"[a-z]{2}\. (?=[A-Z])", text)] or [len(text)]


def _second_round(rng: random.Random, n: int, base, img: list[dict]) -> list[Case]:
    latin = _labelled("latin_sentences.jsonl")
    foreign = {}
    for x in latin:
        foreign.setdefault(x["lang"], []).append(x["text"])
    english = foreign.pop("en")
    langs = sorted(foreign)
    cannot = _labelled("cannot_see.jsonl")
    cs_pos = [x["text"] for x in cannot if x["label"]]
    cs_neg = [x["text"] for x in cannot if not x["label"]]
    cases: list[Case] = []
    for i in range(n):  # --- language: Latin-script sentences, same-language answers
        r = base()
        lang = langs[i % len(langs)]
        s = rng.choice(foreign[lang])
        pos = rng.choice(_sentence_ends(r["response"]))
        t = r["response"][:pos] + s + " " + r["response"][pos:]
        cases.append(Case(f"mix-latin-{lang}-{i}", t, r["question"], False, {"language_mixing": 1},
                          span=(pos, pos + len(s)), kind="mix-latin-sentence", meta={"language": lang}))
        r = base()
        lang = langs[(i + 2) % len(langs)]
        para = " ".join(rng.sample(foreign[lang], rng.randint(2, 4)))
        cut = rng.choice(_paragraph_ends(r["response"]))
        t = r["response"][:cut] + "\n\n" + para + r["response"][cut:]
        cases.append(Case(f"mix-latin-para-{lang}-{i}", t, r["question"], False, {"language_mixing": 1},
                          span=(cut + 2, cut + 2 + len(para)), kind="mix-latin-paragraph", meta={"language": lang}))
        r = base()
        s = rng.choice(english)
        pos = rng.choice(_sentence_ends(r["response"]))
        t = r["response"][:pos] + s + " " + r["response"][pos:]
        cases.append(Case(f"mixneg-latin-{i}", t, r["question"], False, {"language_mixing": 0},
                          kind="mix-latin-negative"))
        lang = langs[i % len(langs)]
        sents = rng.sample(foreign[lang], 8)
        answer = "\n\n".join(" ".join(sents[k:k + 3]) for k in range(0, 8, 3)) + "\n\n**" + \
            {"fr": "Réponse", "es": "Respuesta", "de": "Antwort", "pt": "Resposta", "it": "Risposta"}[lang] + \
            "**: B"
        q = rng.choice(QUESTIONS[lang])
        cases.append(Case(f"mixneg-same-{lang}-{i}", answer, q, False, {"language_mixing": 0},
                          kind="mix-same-language", meta={"language": lang}))
        word = rng.choice(ZH_WORDS)
        pos = answer.index(" ", len(answer) // 3) + 1
        cases.append(Case(f"mix-same-zh-{lang}-{i}", answer[:pos] + word + " " + answer[pos:], q, False,
                          {"language_mixing": 1}, span=(pos, pos + len(word)), kind="mix-in-foreign-answer"))
    for i in range(n):  # --- loops: long blocks, rotating words, and their negatives
        r = base()
        sents = list(SENT.finditer(r["response"]))
        k = rng.randint(13, 16)
        if len(sents) > k + 2:
            j = rng.randrange(0, len(sents) - k)
            a, b = sents[j].start(), sents[j + k - 1].end()
            block = r["response"][a:b] + "\n\n"
            copies = rng.randint(3, 5)
            tail = "" if i % 2 else "\n\nSo, after all this, I will go with option B."
            t = r["response"][:a] + block * copies + (block[: len(block) // 3] if i % 2 else "") + tail
            cases.append(Case(f"loop-long-block-{i}", t, r["question"], False, {"repetition_loop": 1}, onset=a,
                              kind="loop-long-block", meta={"units": k, "copies": copies}))
        r = base()
        sents = [m for m in SENT.finditer(r["response"]) if len(m.group(0).split()) >= 8]
        if sents:
            m = rng.choice(sents)
            words = m.group(0).split()
            slot = rng.randrange(1, len(words) - 1)
            group = rng.choice(ROTATE)
            copies = rng.randint(5, 20)
            body = []
            for c in range(copies):
                w = list(words)
                w[slot] = group[c % len(group)]
                body.append(" ".join(w))
            t = r["response"][:m.start()] + " ".join(body) + (" " if i % 2 else "\n\nSo the answer is C.")
            cases.append(Case(f"loop-rotate-{i}", t, r["question"], False, {"repetition_loop": 1}, onset=m.start(),
                              kind="loop-rotate", meta={"copies": copies}))
        r = base()
        neg = rng.choice(ROTATE_NEGATIVES)(rng)
        cut = rng.choice(_paragraph_ends(r["response"]))
        t = r["response"][:cut] + "\n\n" + neg + "\n\n" + r["response"][cut:]
        cases.append(Case(f"loopneg-rotate-{i}", t, r["question"], False, {"repetition_loop": 0},
                          kind="loop-rotate-negative"))
    for i in range(min(n, len(img) // 2)):  # --- cannot-see paraphrases (bench/labels/cannot_see.jsonl)
        r = img[2 * i]
        s = cs_pos[i % len(cs_pos)]
        cut = rng.choice(_paragraph_ends(r["response"])[:3])
        t = r["response"][:cut] + "\n\n" + s + r["response"][cut:]
        cases.append(Case(f"gnd-para-{i}", t, r["question"], True, {"grounding_loss": 1}, kind="cannot-see-paraphrase"))
        r = img[2 * i + 1]
        s = cs_neg[i % len(cs_neg)]
        t = r["response"][:cut] + "\n\n" + s + r["response"][cut:]
        cases.append(Case(f"gnd-para-neg-{i}", t, r["question"], True, {"grounding_loss": 0},
                          kind="cannot-see-paraphrase-negative"))
    return cases
