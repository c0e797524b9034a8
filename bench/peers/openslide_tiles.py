"""Writes every full-resolution 256-px Deep Zoom tile of a slide as JPEG with openslide's DeepZoomGenerator,
in 2 processes (the same work as openslide-python's deepzoom_tile.py for one level). Prints the tile count."""
import os
import sys
from multiprocessing import Pool

from openslide import OpenSlide
from openslide.deepzoom import DeepZoomGenerator

SLIDE, OUT = sys.argv[1], sys.argv[2]
_dz = None


def init():
    global _dz
    _dz = DeepZoomGenerator(OpenSlide(SLIDE), tile_size=256, overlap=0, limit_bounds=False)


def work(rows):
    level = _dz.level_count - 1
    cols = _dz.level_tiles[level][0]
    n = 0
    for row in rows:
        for col in range(cols):
            _dz.get_tile(level, (col, row)).save(os.path.join(OUT, f"{col}_{row}.jpg"), quality=80)
            n += 1
    return n


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    dz = DeepZoomGenerator(OpenSlide(SLIDE), tile_size=256, overlap=0, limit_bounds=False)
    rows = dz.level_tiles[dz.level_count - 1][1]
    with Pool(2, initializer=init) as pool:
        print(sum(pool.map(work, [range(r, rows, 2) for r in range(2)])))
