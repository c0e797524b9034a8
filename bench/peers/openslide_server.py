"""A minimal Deep Zoom tile server on openslide-python's DeepZoomGenerator (the peer for bench/peers.ts):
GET /dzi/<file>_files/<level>/<col>_<row>.jpeg, 254-px tiles with overlap 1, JPEG quality 80.
Run: SLIDE_DIR=… gunicorn -w 2 -b 127.0.0.1:PORT --chdir bench/peers openslide_server:app"""
import io
import os
from functools import lru_cache

from flask import Flask, Response, abort
from openslide import OpenSlide
from openslide.deepzoom import DeepZoomGenerator

app = Flask(__name__)
SLIDE_DIR = os.environ["SLIDE_DIR"]


@lru_cache(maxsize=8)
def generator(name):
    return DeepZoomGenerator(OpenSlide(os.path.join(SLIDE_DIR, name)), tile_size=254, overlap=1, limit_bounds=False)


@app.route("/dzi/<name>_files/<int:level>/<int:col>_<int:row>.jpeg")
def tile(name, level, col, row):
    try:
        image = generator(name).get_tile(level, (col, row))
    except ValueError:
        abort(404)
    buf = io.BytesIO()
    image.save(buf, "jpeg", quality=80)
    return Response(buf.getvalue(), mimetype="image/jpeg")
