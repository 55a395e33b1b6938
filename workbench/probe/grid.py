"""Qwen2-VL's variable image grid: which image token looks at which part of the original image.

Pure (no torch). The processor resizes an image with `smart_resize` so both sides are multiples
of 28 px and cuts it into 14-px patches: `image_grid_thw = (t, h, w)` counts those patches. The
language model sees t*h*w/4 image tokens (2x2 patches merged), in raster order over an
(h/2) x (w/2) grid; token k covers the 28 x 28-px cell (k // (w/2), k % (w/2)) of the resized
image, i.e. a box of the original image scaled by original/resized size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

PATCH = 14
MERGE = 2
CELL = PATCH * MERGE   # 28 px of the resized image per image token


@dataclass(frozen=True)
class ImageGrid:
    """Geometry of one image's tokens. rows x cols cells of 28 px over the resized image."""
    t: int
    h: int            # 14-px patches down (image_grid_thw[1])
    w: int            # 14-px patches across (image_grid_thw[2])
    image_width: int  # original image size in pixels
    image_height: int
    token_offset: int = 0   # index of this image's first token among all image tokens of the prompt

    @property
    def rows(self) -> int:
        return self.h // MERGE

    @property
    def cols(self) -> int:
        return self.w // MERGE

    @property
    def n_tokens(self) -> int:
        return self.t * self.rows * self.cols

    @property
    def resized_width(self) -> int:
        return self.w * PATCH

    @property
    def resized_height(self) -> int:
        return self.h * PATCH

    def cell_of_token(self, k: int) -> tuple[int, int]:
        """(row, col) of this image's k-th token (temporal frames of a still image repeat the grid)."""
        if not 0 <= k < self.n_tokens:
            raise IndexError(f"image token {k} outside 0..{self.n_tokens - 1}")
        k = k % (self.rows * self.cols)
        return k // self.cols, k % self.cols

    def token_of_cell(self, row: int, col: int) -> int:
        return row * self.cols + col

    def cell_box(self, row: int, col: int) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) in original-image pixels covered by cell (row, col)."""
        sx = self.image_width / self.resized_width
        sy = self.image_height / self.resized_height
        return (col * CELL * sx, row * CELL * sy, (col + 1) * CELL * sx, (row + 1) * CELL * sy)

    def cell_at_pixel(self, x: float, y: float) -> tuple[int, int]:
        """The cell holding original-image pixel (x, y)."""
        col = int(x * self.resized_width / self.image_width) // CELL
        row = int(y * self.resized_height / self.image_height) // CELL
        return min(max(row, 0), self.rows - 1), min(max(col, 0), self.cols - 1)

    def as_grid(self, values: np.ndarray) -> np.ndarray:
        """This image's slice of a vector over all image tokens -> (rows, cols), frames averaged."""
        v = np.asarray(values, dtype=np.float32)[self.token_offset:self.token_offset + self.n_tokens]
        return v.reshape(self.t, self.rows, self.cols).mean(axis=0)

    def to_dict(self) -> dict:
        return asdict(self)


def grids_from_thw(thw: list[list[int]] | np.ndarray, sizes: list[tuple[int, int]]) -> list[ImageGrid]:
    """One ImageGrid per image from the processor's image_grid_thw rows and the original (w, h)."""
    out, offset = [], 0
    for (t, h, w), (iw, ih) in zip(np.asarray(thw).tolist(), sizes):
        g = ImageGrid(int(t), int(h), int(w), int(iw), int(ih), offset)
        out.append(g)
        offset += g.n_tokens
    return out
