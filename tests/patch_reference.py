"""Independent references for patch exports, in numpy, tifffile and the standard tarfile module (its
`axis_weights` is also the area-average reference of tests/pipeline_test.ts).

Usage:
  patch_reference.py area TIFF TAR   — every `.npy` patch of an export tar (files layout, with its
      manifest.jsonl) against the exact area average of the TIFF's level 0 (read by tifffile): output pixel
      o of a patch at level-0 x with downsample d covers [x + o·d, x + (o+1)·d), each source pixel weighted
      by its overlap, over the part inside the image, rounded half up. Prints {patches, samples, differ,
      maxdiff}.
  patch_reference.py webdataset TAR… — groups each tar's members as WebDataset does (the sample key is
      the member name up to the first dot of its base name; consecutive members with one key are one
      sample) and prints [{shard, key, exts, json}] — or fails when a sample repeats or lacks its .json.
"""
import io
import json
import re
import sys
import tarfile

import numpy as np
import tifffile


def axis_weights(start, d, n_out, n_src):
    """Overlap weights (n_out × n_src) of the output intervals with the source pixels, rows normalised."""
    w = np.zeros((n_out, n_src))
    for o in range(n_out):
        a, b = start + o * d, start + (o + 1) * d
        for k in range(max(0, int(np.floor(a))), min(n_src, int(np.ceil(b)))):
            w[o, k] = max(0.0, min(b, k + 1) - max(a, k))
    total = w.sum(axis=1, keepdims=True)
    return w / np.where(total > 0, total, 1)


def area(tiff_path, tar_path):
    level0 = tifffile.imread(tiff_path, key=0).astype(np.float64)
    h0, w0 = level0.shape[:2]
    tar = tarfile.open(tar_path)
    manifest = [json.loads(line) for line in tar.extractfile("manifest.jsonl").read().decode().splitlines()]
    samples = differ = maxdiff = 0
    for m in manifest:
        patch = np.load(io.BytesIO(tar.extractfile(m["file"]).read()))
        size, d = patch.shape[0], m["downsample"]
        # Output pixels whose interval starts inside the image (the rest is padding).
        n_x = min(size, int(np.ceil((w0 - m["x"]) / d - 1e-9)))
        n_y = min(size, int(np.ceil((h0 - m["y"]) / d - 1e-9)))
        wx = axis_weights(m["x"], d, n_x, w0)
        wy = axis_weights(m["y"], d, n_y, h0)
        rows, cols = np.flatnonzero(wy.any(axis=0)), np.flatnonzero(wx.any(axis=0))
        window = level0[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        tmp = np.tensordot(wy[:, rows[0] : rows[-1] + 1], window, axes=(1, 0))
        ref = np.einsum("yjc,xj->yxc", tmp, wx[:, cols[0] : cols[-1] + 1])
        ref = np.floor(ref + 0.5 + 1e-9).clip(0, 255)
        diff = np.abs(patch[:n_y, :n_x].astype(np.int64) - ref.astype(np.int64))
        samples += diff.size
        differ += int((diff > 0).sum())
        maxdiff = max(maxdiff, int(diff.max()))
    print(json.dumps({"patches": len(manifest), "samples": samples, "differ": differ, "maxdiff": maxdiff}))


KEY = re.compile(r"^((?:.*/|)[^.]+)[.]([^/]*)$")


def webdataset(paths):
    out, seen = [], set()
    for path in paths:
        current = None
        for member in tarfile.open(path):
            key, ext = KEY.match(member.name).groups()
            if current is None or current["key"] != key:
                if key in seen:
                    raise SystemExit(f"sample {key} appears twice")
                seen.add(key)
                current = {"shard": path, "key": key, "exts": [], "json": None}
                out.append(current)
            current["exts"].append(ext)
            if ext == "json":
                current["json"] = json.loads(tarfile.open(path).extractfile(member.name).read())
        for s in out:
            if s["json"] is None:
                raise SystemExit(f"sample {s['key']} has no .json")
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "area":
        area(sys.argv[2], sys.argv[3])
    else:
        webdataset(sys.argv[2:])
