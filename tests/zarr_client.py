"""zarr-python (Debian's python3-zarr 2.x, fsspec over HTTP) reads edgetile's OME-Zarr stores.

Usage: [ZARR_TEST_DATA=dir] zarr_client.py BASE_URL ID... — for each image: open_consolidated over HTTP, every level's shape,
dtype and chunks, then pixels: three Deep Zoom tiles per level (first, middle, last: the edge) against the
same window of the Zarr array, as PNG tiles (8-bit photos) or raw `.npy` tiles (other sample types,
multichannel), and the tissue label against `op=mask` tiles; and, where ZARR_TEST_DATA names the images' folder, levels 0 and 1 of the PNG and OME-TIFF
samples against the files read by Pillow/numpy and tifffile. Prints one JSON report.
"""
import io
import json
import math
import os
import sys
import urllib.parse
import urllib.request

import numpy as np
import tifffile
import zarr
from PIL import Image

base, data_dir = sys.argv[1].rstrip("/"), os.environ.get("ZARR_TEST_DATA", "")
TILE, OVERLAP = 254, 1


def fetch(url):
    with urllib.request.urlopen(url) as r:
        return r.read()


def file_levels(image_id):
    """Levels 0 and 1 by readers of our own: Pillow for a PNG (level 1: numpy's 2x2 area mean), tifffile
    for a CYX OME-TIFF pyramid (its stored levels). (c, y, x) float64, or None for other files."""
    path = f"{data_dir}/{image_id}"
    if image_id.endswith(".png"):
        im = np.moveaxis(np.asarray(Image.open(path).convert("RGB")), -1, 0).astype(np.float64)
        c, h, w = im.shape
        half = im[:, : h // 2 * 2, : w // 2 * 2].reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
        return [im, half]
    if image_id.endswith((".tif", ".tiff")):
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            if tif.is_ome and len(series.levels) >= 2 and series.axes == "CYX":
                return [series.levels[k].asarray().astype(np.float64) for k in (0, 1)]
    return None


report = {}
for image_id in sys.argv[2:]:
    q = urllib.parse.quote(image_id, safe="")
    info = json.loads(fetch(f"{base}/images/{q}"))
    g = zarr.open_consolidated(f"{base}/zarr/{q}/", mode="r")
    ms = g.attrs["multiscales"][0]
    axes = [a["name"] for a in ms["axes"]]
    W, H = info["width"], info["height"]
    max_level = math.ceil(math.log2(max(W, H)))
    photo8 = info["pixelType"] == "uint8" and not info.get("rendered")  # a rendered image: raw .npy channels
    out = {"info": {k: info[k] for k in ("width", "height", "channels", "pixelType")}, "axes": axes, "levels": [], "compared": 0, "mismatches": [], "labels": 0}
    for k, ds in enumerate(ms["datasets"]):
        arr = g[ds["path"]]
        lab = g[f"labels/tissue/{ds['path']}"]
        out["levels"].append({"shape": list(arr.shape), "dtype": str(arr.dtype), "chunks": list(arr.chunks),
                              "scale": ds["coordinateTransformations"][0]["scale"],
                              "labelShape": list(lab.shape)})
        lw, lh = math.ceil(W / 2 ** k), math.ceil(H / 2 ** k)
        cols, rows = math.ceil(lw / TILE), math.ceil(lh / TILE)
        for col, row in {(0, 0), (cols // 2, rows // 2), (cols - 1, rows - 1)}:
            x0, y0 = max(0, col * TILE - OVERLAP), max(0, row * TILE - OVERLAP)
            x1, y1 = min(lw, (col + 1) * TILE + OVERLAP), min(lh, (row + 1) * TILE + OVERLAP)
            # The first plane: t and z index 0 where the store has those axes.
            pick = tuple(0 if a in ("t", "z") else slice(None) for a in axes[:-2]) + (slice(y0, y1), slice(x0, x1))
            window = np.moveaxis(np.asarray(arr[pick]), 0, -1)  # (c, y, x) -> (y, x, c)
            tile = f"{base}/dzi/{q}_files/{max_level - k}/{col}_{row}"
            if photo8:
                ref = np.atleast_3d(np.asarray(Image.open(io.BytesIO(fetch(tile + ".png")))))
            else:
                chans = ",".join(str(c) for c in range(info["channels"]))
                ref = np.load(io.BytesIO(fetch(f"{tile}.npy?c={chans}")))
            out["compared"] += 1
            if ref.shape != window.shape or not np.array_equal(ref, window):
                diff = int(np.count_nonzero(ref != window)) if ref.shape == window.shape else -1
                out["mismatches"].append(f"level {k} tile {col}_{row}: {ref.shape} vs {window.shape}, {diff} differ")
            label = np.asarray(lab[(0,) * (len(axes) - 2) + (slice(y0, y1), slice(x0, x1))])
            mask = np.asarray(Image.open(io.BytesIO(fetch(tile + ".png?op=mask"))).convert("L"))
            if mask.shape != label.shape or not np.array_equal(mask, label.astype(np.uint8) * 255):
                out["mismatches"].append(f"label level {k} tile {col}_{row}")
            out["labels"] += 1
    refs = file_levels(image_id) if data_dir else None
    out["reference"] = {"compared": 0, "differ": 0}
    for k, ref in enumerate(refs or []):
        got = np.asarray(g[str(k)][:, : ref.shape[1], : ref.shape[2]]).astype(np.float64)
        ties = np.abs(ref - np.floor(ref) - 0.5) < 1e-9  # exact halves: the rounding of ties is not compared
        want = np.floor(ref + 0.5)
        out["reference"]["compared"] += int(np.count_nonzero(~ties))
        out["reference"]["differ"] += int(np.count_nonzero((got != want) & ~ties))
    report[image_id] = out
print(json.dumps(report))
