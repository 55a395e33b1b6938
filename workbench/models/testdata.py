"""Small questions+images folders drawn by code, for tests, benches and demos of `workbench run`."""

from __future__ import annotations

import json
from pathlib import Path


def write_questions(folder: Path, n: int, *, corrupt: bool = False) -> Path:
    """Write n PNGs and questions.jsonl (id, question, image, answer); `corrupt` adds a broken image."""
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        Image.new("RGB", (56 + 8 * i, 56), (20 * i % 256, 90, 160)).save(folder / f"img{i}.png")
        lines.append({"id": f"q{i}", "question": f"How many triangles are in picture {i}?",
                      "image": f"img{i}.png", "answer": str(i)})
    if corrupt:
        (folder / "broken.png").write_bytes(b"\x89PNG but not really")
        lines.append({"id": "broken", "question": "What is shown?", "image": "broken.png", "answer": "x"})
    path = folder / "questions.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path
