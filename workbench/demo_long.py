"""QVQ-like traces at scale, written by the project (no real data): thousands of long reasoning traces
with real-shaped ids (a long shared prefix, like result files of evaluation harnesses), a large
text-only benchmark plus many small image subsets, repetition loops of a few to hundreds of copies,
language mixing, "I can't see the image", Markdown and LaTeX, and hostile text in every field (HTML,
Markdown images and links pointing off the machine). For browser tests and benches
(`write_traces(path, n)`); deterministic for a seed. Synthetic: not model output.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

PREFIX = "evalharness/inference_QVQ-72B-Preview_cot_longform"          # shared by every id
MMMU = ["Accounting", "Art_Theory", "Biology", "Chemistry", "Clinical_Medicine", "Computer_Science", "Economics",
        "Electronics", "Geography", "History", "Literature", "Math", "Mechanical_Engineering", "Music", "Physics",
        "Psychology", "Public_Health", "Sociology"]
MMLU = ["high_school_mathematics", "professional_law", "moral_scenarios", "world_religions", "marketing",
        "college_physics", "econometrics", "philosophy"]
ZH = ["所以", "因此", "不过", "明显", "可能", "需要", "其实", "答案"]
HOSTILE = ["![x](http://192.0.2.1/pixel.png)", "<img src=x onerror=alert(1)>", "[click](http://192.0.2.1/)",
           "<script>alert(2)</script>", "$\\href{http://192.0.2.1}{y}$", ":red[colour] :material/search:"]
TOPICS = ["the angle at vertex B", "the current through R2", "the elasticity of demand", "the area of the shaded "
          "region", "the pressure in the tank", "the velocity after 3 s", "the probability of two heads"]


def _trace(rng: random.Random, kind: str, topic: str, answer: str, hostile: bool) -> str:
    steps = [f"Let me look at the question about {topic} carefully."]
    for i in range(rng.randint(20, 60)):
        steps.append(rng.choice([
            f"First, I note that {topic} depends on the given quantities; with $x = {i}$ we get $x^2 = {i * i}$.",
            f"Alternatively, maybe I should reconsider {topic} from label {i} of the figure.",
            f"Wait, let me double-check the computation: \\(\\frac{{{i}}}{{2}} = {i / 2}\\).",
            f"After {i} steps the candidate answer is {rng.choice('ABCD')}, but I am not fully sure.",
            f"**Key point {i}:** {topic} must be positive, so option {rng.choice('ABCD')} is ruled out.",
            f"| quantity | value |\n|---|---|\n| a{i} | {i + 3} |\n| b{i} | {i + 4} |",
        ]))
    if kind == "loop":
        sentence = f"But the problem says {topic} is fixed, so I compute it again from the start. "
        k = rng.randint(3, len(steps) - 1)
        steps.insert(k, sentence * rng.choice([8, 30, 120, 263]) + sentence[:30])
    elif kind == "mix":
        for _ in range(rng.randint(1, 3)):
            k = rng.randint(1, len(steps) - 1)
            steps[k] = steps[k].replace(" so ", f" {rng.choice(ZH)} ", 1) + f" {rng.choice(ZH)}，这是关键。"
    elif kind == "see":
        steps.insert(2, "I'm sorry, but I can't see the image you provided, so I will assume a typical diagram.")
    if hostile:
        steps.insert(1, " ".join(HOSTILE))
    steps.append(f"So the answer is {answer}.")
    return "\n\n".join(steps)


def write_traces(path: str | Path, n: int = 3000, seed: int = 0) -> Path:
    """Write `n` QVQ-like traces as JSONL to `path` (see the module docstring)."""
    rng = random.Random(seed)
    path = Path(path)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            if rng.random() < 0.8:
                bench, subset = "MMLU test (text only)", "all"
                sid = f"{PREFIX}/mmlu/all/{rng.choice(MMLU)}{rng.getrandbits(48):012x}"
                image = None
            else:
                bench, subset = "MMMU (validation)", rng.choice(MMMU)
                sid = f"{PREFIX}/MMMU_local/{subset}/validation_{subset}_{i}"
                image = "missing/figure.png"
            kind = rng.choices(["clean", "loop", "mix", "see"], [0.55, 0.15, 0.2, 0.1])[0]
            if kind == "see" and image is None:
                kind = "clean"
            truth = rng.choice("ABCD")
            answer = truth if rng.random() < (0.3 if kind == "loop" else 0.75) else rng.choice("ABCD")
            hostile = i % 97 == 0
            topic = rng.choice(TOPICS)
            row = {"id": sid + (" " + HOSTILE[0] if i % 501 == 0 else ""),
                   "question": f"What is {topic}? (A) 1 (B) 2 (C) 3 (D) 4" + (" " + HOSTILE[1] if hostile else ""),
                   "response": _trace(rng, kind, topic, answer, hostile), "answer": truth, "benchmark": bench,
                   "subset": subset, "correct": answer == truth}
            if image:
                row["image"] = image
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
