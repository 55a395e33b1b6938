"""Generate the synthetic demo run in data/demo/ (deterministic): `python -m workbench.demo_data`.

Everything here is written or drawn by the project: the images are drawn with PIL, the traces are
written by hand in the style of QVQ-72B-Preview to show each failure mode the workbench detects
(and hard negatives it must not flag). None of it is real model output: every record carries
`"synthetic": true` and the run is marked synthetic in the store.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from workbench.config import DATA_DIR

DEMO_DIR = DATA_DIR / "demo"
MODEL = "synthetic-demo (written by the project, not a model)"
FA = "**Final Answer**\n\n\\[ \\boxed{%s} \\]"


def _font(size: int = 14) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def bar_chart() -> Image.Image:
    im = Image.new("RGB", (448, 336), "white")
    d = ImageDraw.Draw(im)
    values = {"Jan": 12, "Feb": 18, "Mar": 27, "Apr": 9, "May": 15}
    d.text((150, 8), "Monthly sales (units)", fill="black", font=_font(16))
    d.line((40, 300, 430, 300), fill="black", width=2)
    d.line((40, 40, 40, 300), fill="black", width=2)
    for i, (m, v) in enumerate(values.items()):
        x = 60 + i * 74
        d.rectangle((x, 300 - v * 9, x + 48, 300), fill=(66, 133, 244))
        d.text((x + 12, 305), m, fill="black", font=_font())
        d.text((x + 16, 300 - v * 9 - 18), str(v), fill="black", font=_font())
    return im


def line_plot() -> Image.Image:
    im = Image.new("RGB", (448, 336), "white")
    d = ImageDraw.Draw(im)
    d.text((130, 8), "Temperature over a day (°C)", fill="black", font=_font(16))
    d.line((40, 300, 430, 300), fill="black", width=2)
    d.line((40, 40, 40, 300), fill="black", width=2)
    temps = [8, 7, 9, 14, 19, 22, 21, 16, 11]
    pts = [(50 + i * 45, 300 - t * 11) for i, t in enumerate(temps)]
    d.line(pts, fill=(219, 68, 55), width=3)
    for i, (x, y) in enumerate(pts):
        d.ellipse((x - 4, y - 4, x + 4, y + 4), fill=(219, 68, 55))
        d.text((x - 8, 305), f"{i * 3}h", fill="black", font=_font(12))
    return im


def triangle() -> Image.Image:
    im = Image.new("RGB", (448, 336), "white")
    d = ImageDraw.Draw(im)
    a, b, c = (60, 290), (380, 290), (60, 60)
    d.polygon([a, b, c], outline="black", width=3)
    d.rectangle((60, 270, 80, 290), outline="black", width=2)
    d.text((200, 298), "8 cm", fill="black", font=_font(16))
    d.text((12, 165), "6 cm", fill="black", font=_font(16))
    d.text((230, 160), "x", fill=(219, 68, 55), font=_font(22))
    d.text((44, 292), "A", fill="black", font=_font(16))
    d.text((384, 292), "B", fill="black", font=_font(16))
    d.text((44, 40), "C", fill="black", font=_font(16))
    return im


def table_image() -> Image.Image:
    im = Image.new("RGB", (448, 224), "white")
    d = ImageDraw.Draw(im)
    rows = [("City", "Population", "Area km²"), ("Avalon", "120,000", "48"), ("Brook", "95,000", "19"),
            ("Cedar", "210,000", "130"), ("Dover", "60,000", "12")]
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            x, y = 16 + c * 140, 16 + r * 38
            d.rectangle((x, y, x + 140, y + 38), outline="black", width=1,
                        fill=(230, 236, 245) if r == 0 else "white")
            d.text((x + 10, y + 11), cell, fill="black", font=_font(15))
    return im


def shapes() -> Image.Image:
    im = Image.new("RGB", (336, 336), (250, 250, 245))
    d = ImageDraw.Draw(im)
    for x, y in [(40, 40), (150, 70), (250, 40), (70, 200), (200, 230)]:
        d.ellipse((x, y, x + 56, y + 56), fill=(52, 168, 83))
    for x, y in [(120, 160), (240, 150)]:
        d.rectangle((x, y, x + 50, y + 50), fill=(251, 188, 5))
    return im


def circuit() -> Image.Image:
    im = Image.new("RGB", (448, 252), "white")
    d = ImageDraw.Draw(im)
    d.rectangle((40, 40, 400, 200), outline="black", width=3)
    d.rectangle((180, 28, 260, 52), fill="white", outline="black", width=2)
    d.text((196, 8), "R = 4 Ω", fill="black", font=_font(16))
    d.ellipse((20, 100, 60, 140), fill="white", outline="black", width=2)
    d.text((-2, 145), "V = 12 V", fill="black", font=_font(14))
    d.text((300, 210), "f = 50 Hz, C = 100 µF", fill="black", font=_font(14))
    return im


IMAGES = {"bar_chart": bar_chart, "line_plot": line_plot, "triangle": triangle, "table": table_image,
          "shapes": shapes, "circuit": circuit}

BAR_Q = "Which month had the highest sales in the chart?<image 1>\n\nA. Jan\nB. Feb\nC. Mar\nD. May"


def _loop_tail(unit: str, copies: int) -> str:
    return "".join(unit for _ in range(copies))


def samples() -> list[dict]:
    s: list[dict] = []

    def add(sid: str, subset: str, image: str | None, question: str, response: str, answer: str,
            correct: bool | None, finish: str = "eos", note: str = "") -> None:
        s.append({"id": sid, "benchmark": "demo", "subset": subset, "image": image, "question": question,
                  "response": response, "answer": answer, "correct": correct, "finish_reason": finish,
                  "model": MODEL, "synthetic": True, "demo_note": note})

    add("clean-bar", "charts", "images/bar_chart.png", BAR_Q,
        "Let me look at the bar chart carefully. The image shows monthly sales for five months: Jan, Feb, "
        "Mar, Apr and May. Each bar has its value written on top.\n\n"
        "Reading the labels in the chart: Jan is 12, Feb is 18, Mar is 27, Apr is 9 and May is 15.\n\n"
        "So the tallest bar is March with 27 units, which is clearly higher than February's 18.\n\n"
        "Wait, let me double-check that I am not misreading the axis. The bar for Mar reaches the highest "
        "point in the figure, and its label says 27. Yes, that is the maximum.\n\n"
        "So the answer is C.\n\n" + FA % "C", "C", True, note="clean, correct")

    add("mix-words", "charts", "images/bar_chart.png", BAR_Q,
        "Alright, I need to find the month with the highest sales. The image shows a bar chart with five "
        "bars.\n\n"
        "Looking at the chart, the bar for March is明显 taller than the others, and its label reads 27. "
        "February is 18, which is第二高, and May is 15.\n\n"
        "Hmm, April is only 9, so it is the lowest. 所以 the ranking is Mar > Feb > May > Jan > Apr.\n\n"
        "Therefore, the month with the highest sales is March, option C.\n\n" + FA % "C", "C", True,
        note="language mixing: Chinese words inside English sentences")

    add("mix-drift", "charts", "images/line_plot.png",
        "At what time of day is the temperature highest according to the plot?<image 1>\n\n"
        "A. 9h\nB. 12h\nC. 15h\nD. 18h",
        "Let me study the line plot. The image shows the temperature over a day, with points every three "
        "hours from 0h to 24h.\n\n"
        "At 0h it is about 8 degrees, at 3h about 7, at 6h about 9, at 9h about 14, and at 12h about 19.\n\n"
        "接下来我们看下午的数据。在15点的时候，温度达到了大约22度，这是整条曲线的最高点。之后在18点温度略微下降到21度，"
        "然后在21点降到16度。\n\n"
        "所以最高温度出现在15点左右。我需要再确认一下：15点的点确实比18点的点高一点，因此答案是C。\n\n"
        + FA % "C", "C", True, note="language drift: the trace switches to Chinese and stays there")

    unit = ("So the hypotenuse is the square root of 6 squared plus 8 squared, which is the square root of "
            "36 plus 64. ")
    add("loop-runaway", "geometry", "images/triangle.png",
        "In the right triangle shown, what is the length x of the hypotenuse?<image 1>\n\n"
        "A. 9 cm\nB. 10 cm\nC. 12 cm\nD. 14 cm",
        "Let me look at the triangle in the image. It is a right triangle with the right angle at A. The "
        "legs are labelled 6 cm (AC) and 8 cm (AB), and the hypotenuse BC is marked x.\n\n"
        "By the Pythagorean theorem, x squared equals 6 squared plus 8 squared.\n\n"
        "Let me compute. " + _loop_tail(unit, 40) + "So the hypotenuse is the square root of 6 squa",
        "B", False, finish="length", note="repetition loop that runs into the token cap")

    check = "Let me check the Cedar row again: population 210,000 and area 130 km². "
    add("loop-escape", "tables", "images/table.png",
        "Which city in the table has the highest population density?<image 1>\n\n"
        "A. Avalon\nB. Brook\nC. Cedar\nD. Dover",
        "The image shows a table of four cities with population and area.\n\n"
        "Density is population divided by area. Avalon: 120,000 / 48 = 2,500 per km². Brook: 95,000 / 19 "
        "= 5,000 per km². Cedar: 210,000 / 130 ≈ 1,615 per km². Dover: 60,000 / 12 = 5,000 per km².\n\n"
        "Wait, Brook and Dover are tied. " + _loop_tail(check, 6) +
        "\n\nOkay, Cedar is not the densest, that is settled. Brook and Dover both have 5,000 per km², but "
        "let me recompute Brook: 95,000 / 19 = 5,000 exactly, and Dover: 60,000 / 12 = 5,000 exactly. "
        "Since they tie, I will go with the first one listed, Brook.\n\n" + FA % "B", "B", True,
        note="a loop that escapes after six copies")

    expr = "= 1 / (2π × 50 × 0.0001) "
    add("loop-inline", "physics", "images/circuit.png",
        "What is the reactance of the capacitor in the circuit shown?<image 1>\n\n"
        "A. 15.9 Ω\nB. 31.8 Ω\nC. 3.18 Ω\nD. 0.318 Ω",
        "The image shows a circuit with a 12 V source, a 4 Ω resistor and a capacitor C = 100 µF at "
        "f = 50 Hz.\n\n"
        "The capacitive reactance is X_C = 1 / (2πfC). Substituting, X_C " + _loop_tail(expr, 30) +
        "= 1 / (2π × 50 × 0.0001", "B", False, finish="length",
        note="inline-expression loop until the cap")

    add("cannot-see", "counting", "images/shapes.png",
        "How many green circles are in the picture?<image 1>\n\nA. 3\nB. 4\nC. 5\nD. 7",
        "I'm sorry, but I can't see the image you've provided. I can only work with the text of the "
        "question.\n\n"
        "Since I don't have access to the picture, I'll have to reason about what is likely. Questions like "
        "this often have a moderate number of objects, perhaps four or five.\n\n"
        "Without the image, my best guess would be option B, 4 circles.\n\n" + FA % "B", "C", False,
        note="grounding loss: the model says it cannot see the image although one was given")

    add("enumeration", "arithmetic", "images/table.png",
        "Using the table, what is the total population of all four cities?<image 1>\n\n"
        "A. 385,000\nB. 485,000\nC. 495,000\nD. 505,000",
        "The table in the image lists four cities. Let me add the populations one at a time.\n\n"
        "- After Avalon: 0 + 120,000 = 120,000\n"
        "- After Brook: 120,000 + 95,000 = 215,000\n"
        "- After Cedar: 215,000 + 210,000 = 425,000\n"
        "- After Dover: 425,000 + 60,000 = 485,000\n\n"
        "So the total is 485,000, which is option B.\n\n" + FA % "B", "B", True,
        note="hard negative: an enumeration with changing values is not a loop")

    add("markdown-table", "tables", "images/table.png",
        "Which city has the smallest area?<image 1>\n\nA. Avalon\nB. Brook\nC. Cedar\nD. Dover",
        "Let me copy the table from the image so I can compare the areas.\n\n"
        "| City | Area km² |\n|---|---|\n| Avalon | 48 |\n| Brook | 19 |\n| Cedar | 130 |\n| Dover | 12 |\n\n"
        "The smallest area is 12 km², which belongs to Dover.\n\n" + FA % "D", "D", True,
        note="hard negative: a table is not a loop")

    add("math-names", "physics", "images/circuit.png",
        "Which quantity in the circuit shown has units of ohms?<image 1>\n\nA. V\nB. f\nC. R\nD. C",
        "The figure shows a source, a resistor and a capacitor. Resistance R is measured in ohms (Ω), while "
        "V is in volts, f in hertz and C in farads.\n\n"
        "As an aside, the same Greek letters appear everywhere in physics: α, β, γ, Δ, λ, μ and Ω, from "
        "Schrödinger's equation to the graphs of Erdős; a priori none of that changes the units here, "
        "and Ohm et al. settled the definition long ago.\n\n"
        "So the quantity with units of ohms is R.\n\n" + FA % "C", "C", True,
        note="hard negative: Greek letters, accented names and loanwords are not language mixing")

    add("quoted-term", "geometry", "images/triangle.png",
        "The figure illustrates 勾股定理 (the Pythagorean theorem). What is x?<image 1>\n\n"
        "A. 9 cm\nB. 10 cm\nC. 12 cm\nD. 14 cm",
        "The question mentions 勾股定理, which is the Pythagorean theorem. In the image the legs are 6 cm "
        "and 8 cm.\n\n"
        "So x = √(6² + 8²) = √(36 + 64) = √100 = 10 cm.\n\n" + FA % "B", "B", True,
        note="hard negative: Chinese quoted from the question is not language mixing")

    add("missing-image", "charts", "images/not_generated.png", BAR_Q,
        "The chart shows five months of sales. February and March are the tallest bars, and the label on "
        "March reads 27, so March is the highest.\n\n" + FA % "C", "C", True,
        note="the image file is missing on purpose: the app shows a placeholder")

    add("escaping", "charts", "images/bar_chart.png",
        "What does the chart's title say? Answer with the title text.<image 1>",
        "The title at the top of the image reads \"Monthly sales (units)\". Some renderers would treat "
        "<script>alert(1)</script> or <img src=x onerror=alert(1)> in a trace as markup; the workbench must "
        "show them as plain text.\n\n" + FA % "Monthly sales (units)", "Monthly sales (units)", True,
        note="security check: HTML in the trace is shown as text")

    add("wrong-answer", "charts", "images/line_plot.png",
        "What is the lowest temperature shown in the plot?<image 1>\n\nA. 7\nB. 8\nC. 9\nD. 11",
        "In the line plot the first point, at 0h, is at 8 degrees, and I think that is the start of the "
        "night so it must be the lowest.\n\n"
        "So the lowest temperature is 8 degrees.\n\n" + FA % "B", "A", False,
        note="a wrong answer without any flagged failure")

    steps = ["Let me look at the image. The picture shows green circles and yellow squares on a light "
             "background. In the image I count the circles row by row."]
    for i in range(1, 19):
        steps.append(f"Now consider case {i}: if there were {i} circles in a row of {i + 2} positions, the "
                     f"number of arrangements would be C({i + 2}, {i}) = {math.comb(i + 2, i)}, and the total so "
                     f"far grows accordingly. Adding this case keeps the running sum consistent with the earlier "
                     f"ones, so I carry the value {sum(math.comb(k + 2, k) for k in range(1, i + 1))} forward.")
    steps.append("So, summing everything up, I conclude there are 5 circles.\n\n" + FA % "C")
    add("decline", "counting", "images/shapes.png",
        "How many green circles are in the picture?<image 1>\n\nA. 3\nB. 4\nC. 5\nD. 7",
        "\n\n".join(steps), "C", True,
        note="image references stop after the first step: the image-reference curve declines")
    return s


def generate(out_dir: Path = DEMO_DIR) -> Path:
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    for name, draw in IMAGES.items():
        draw().save(out_dir / "images" / f"{name}.png", optimize=True)
    path = out_dir / "demo.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for rec in samples():
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    (out_dir / "README.md").write_text(
        "# Demo data (synthetic)\n\nGenerated by `python -m workbench.demo_data`. The images are drawn by code "
        "and the traces are written by the project in the style of QVQ-72B-Preview to show each failure mode "
        "and hard negatives. None of it is model output; every record has `\"synthetic\": true`.\n",
        encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {generate()}")
