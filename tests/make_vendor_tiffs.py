"""Writes the vendor TIFF test slides (Philips TIFF, Leica SCN, Ventana BIF) from a real slide's pixels.

usage: /usr/bin/python3 tests/make_vendor_tiffs.py samples/CMU-1-Small-Region.svs tests/data/

Debian's python3-openslide reads the source region, Pillow downsamples it (box filter), python3-tifffile
writes each file with its vendor's description XML / XMP (deflate tiles, 256²), as OpenSlide 3.4.1 expects
them: see openslide's vendor readers (philips-tiff, leica, ventana). The tests read each file with
OpenSlide and with edgetile and compare (tests/vendors_test.ts).
"""
import base64
import io
import sys

import numpy as np
import openslide
import tifffile
from PIL import Image

src, out = sys.argv[1], sys.argv[2].rstrip("/")
slide = openslide.OpenSlide(src)
W, H = 1000, 760
base = np.asarray(slide.read_region((300, 400), 0, (W, H)).convert("RGB"))
whole = slide.read_region((0, 0), 0, slide.dimensions).convert("RGB")


def down(img, ds):
    return np.asarray(Image.fromarray(img).resize((img.shape[1] // ds, img.shape[0] // ds), Image.BOX))


def padded(img, tile=256, fill=255):
    h, w = img.shape[:2]
    ph, pw = -(-h // tile) * tile, -(-w // tile) * tile
    p = np.full((ph, pw, 3), fill, np.uint8)
    p[:h, :w] = img
    return p


def jpeg(img):
    b = io.BytesIO()
    Image.fromarray(img).save(b, "JPEG", quality=90)
    return b.getvalue()


label = np.asarray(whole.resize((120, 100)))
macro = np.asarray(whole.resize((222, 297)))
tiles = dict(tile=(256, 256), compression="zlib", photometric="rgb", metadata=None)

# Philips TIFF: levels padded to whole tiles; the XML's per-level spacing says their true size.
spacing = 0.000499
reps = "".join(
    f'<DataObject ObjectType="PixelDataRepresentation"><Attribute Name="DICOM_PIXEL_SPACING" Group="0x0028" '
    f'Element="0x0030" PMSVR="IDoubleArray">&quot;{spacing * d}&quot; &quot;{spacing * d}&quot;</Attribute>'
    f'<Attribute Name="PIIM_PIXEL_DATA_REPRESENTATION_NUMBER" Group="0x101D" Element="0x2001" PMSVR="IUInt16">'
    f"{i}</Attribute></DataObject>"
    for i, d in enumerate([1, 2, 4])
)
philips_xml = (
    '<?xml version="1.0" encoding="UTF-8" ?><DataObject ObjectType="DPUfsImport">'
    '<Attribute Name="DICOM_MANUFACTURER" Group="0x0008" Element="0x0070" PMSVR="IString">PHILIPS</Attribute>'
    '<Attribute Name="PIM_DP_SCANNED_IMAGES" Group="0x301D" Element="0x1003" PMSVR="IDataObjectArray"><Array>'
    '<DataObject ObjectType="DPScannedImage">'
    '<Attribute Name="DICOM_DERIVATION_DESCRIPTION" Group="0x0008" Element="0x2111" PMSVR="IString">'
    "tiff-useBigTIFF=1-useRgb=0-levels=20,10,5-processing=0-q80</Attribute>"
    f'<Attribute Name="DICOM_PIXEL_SPACING" Group="0x0028" Element="0x0030" PMSVR="IDoubleArray">'
    f"&quot;{spacing}&quot; &quot;{spacing}&quot;</Attribute>"
    '<Attribute Name="PIM_DP_IMAGE_TYPE" Group="0x301D" Element="0x1004" PMSVR="IString">WSI</Attribute>'
    '<Attribute Name="PIIM_PIXEL_DATA_REPRESENTATION_SEQUENCE" Group="0x1001" Element="0x8B01" '
    f'PMSVR="IDataObjectArray"><Array>{reps}</Array></Attribute></DataObject>'
    '<DataObject ObjectType="DPScannedImage">'
    '<Attribute Name="PIM_DP_IMAGE_TYPE" Group="0x301D" Element="0x1004" PMSVR="IString">MACROIMAGE</Attribute>'
    '<Attribute Name="PIM_DP_IMAGE_DATA" Group="0x301D" Element="0x1005" PMSVR="IString">'
    f"{base64.b64encode(jpeg(macro)).decode()}</Attribute></DataObject>"
    "</Array></Attribute></DataObject>"
)
with tifffile.TiffWriter(f"{out}/generated__philips-cmu-crop.tiff") as t:
    t.write(base, description=philips_xml, software="Philips DP v1.0", **tiles)
    for d in (2, 4):
        t.write(padded(down(base, d)), subfiletype=1, software="Philips DP v1.0", **tiles)
    t.write(label, description="Label", photometric="rgb", compression="zlib", metadata=None)

# Leica SCN: a collection of a macro (the whole slide, spanning the collection) and the main image.
nm = 499  # nm per pixel of the main image
mw, mh = macro.shape[1], macro.shape[0]
coll_w, coll_h = 2220 * nm, 2967 * nm
macro_nm = coll_w / mw
dims = "".join(f'<dimension sizeX="{W // d}" sizeY="{H // d}" r="{i}" ifd="{i + 1}"/>' for i, d in enumerate([1, 2, 4]))
scn_xml = (
    '<?xml version="1.0"?><scn xmlns="http://www.leica-microsystems.com/scn/2010/10/01">'
    f'<collection name="cmu" uuid="1" sizeX="{coll_w}" sizeY="{coll_h}"><barcode>{base64.b64encode(b"CMU-1").decode()}</barcode>'
    '<image name="macro" uuid="2"><creationDate>2026-12-07T00:00:00.00Z</creationDate>'
    '<device model="Leica SCN400;Leica SCN" version="1.4.0"/>'
    f'<pixels sizeX="{mw}" sizeY="{mh}"><dimension sizeX="{mw}" sizeY="{mh}" r="0" ifd="0"/></pixels>'
    f'<view sizeX="{coll_w}" sizeY="{coll_h}" offsetX="0" offsetY="0" spacingZ="0"/>'
    "<scanSettings><objectiveSettings><objective>1.25</objective></objectiveSettings><illuminationSettings>"
    "<numericalAperture>0.04</numericalAperture><illuminationSource>brightfield</illuminationSource>"
    "</illuminationSettings></scanSettings></image>"
    '<image name="main" uuid="3"><creationDate>2026-12-07T00:00:00.00Z</creationDate>'
    '<device model="Leica SCN400;Leica SCN" version="1.4.0"/>'
    f'<pixels sizeX="{W}" sizeY="{H}">{dims}</pixels>'
    f'<view sizeX="{W * nm}" sizeY="{H * nm}" offsetX="{300 * nm}" offsetY="{400 * nm}" spacingZ="0"/>'
    "<scanSettings><objectiveSettings><objective>20</objective></objectiveSettings><illuminationSettings>"
    "<numericalAperture>0.4</numericalAperture><illuminationSource>brightfield</illuminationSource>"
    "</illuminationSettings></scanSettings></image></collection></scn>"
)
with tifffile.TiffWriter(f"{out}/generated__leica-cmu-crop.scn", bigtiff=True) as t:
    t.write(macro, description=scn_xml, **tiles)
    for d in (1, 2, 4):
        t.write(base if d == 1 else down(base, d), **tiles)

# Ventana BIF: the iScan XMP, level=N mag=M IFDs, a Label Image (OpenSlide 3.4.1: the macro) and a
# Thumbnail; level 0 without overlapping tiles.
xmp = (
    '<?xml version="1.0" encoding="utf-8"?><iScan Magnification="20" ScanRes="0.499" '
    'UnitNumber="BI10N0000" BuildVersion="1.1.0.15854" ScannerModel="VENTANA iScan HT"/>'
).encode()
with tifffile.TiffWriter(f"{out}/generated__ventana-cmu-crop.bif", bigtiff=True) as t:
    t.write(macro, description="Label Image", extratags=[(700, 1, len(xmp), xmp, True)],
            photometric="rgb", compression="zlib", metadata=None)
    t.write(down(base, 8), description="Thumbnail", photometric="rgb", compression="zlib", metadata=None)
    for i, d in enumerate([1, 2, 4]):
        t.write(base if d == 1 else down(base, d), description=f"level={i} mag={20 / d:g} quality=90", **tiles)

# Ventana BIF whose level-0 camera tiles overlap by 8 px (TileJointInfo), 5 × 4 tiles of 256² advancing by
# 248; lower levels hold the same tiles scaled (2 × 2 and 4 × 4 of them a TIFF tile), as a BIF scanner writes.
ADV, COLS, ROWS = 248, 5, 4
stitched = np.asarray(slide.read_region((300, 400), 0, ((COLS - 1) * ADV + 256, (ROWS - 1) * ADV + 256)).convert("RGB"))


def camera_tile(c, r):
    return stitched[r * ADV:r * ADV + 256, c * ADV:c * ADV + 256]


def number(c, r):
    # 1-based, from the bottom row up, every other row right to left (as OpenSlide reads them).
    fb = ROWS - 1 - r
    return fb * COLS + (COLS - 1 - c if fb % 2 else c) + 1


joints = "".join(
    f'<TileJointInfo FlagJoined="1" Direction="RIGHT" Tile1="{number(c, r)}" Tile2="{number(c + 1, r)}" '
    f'OverlapX="{256 - ADV}" OverlapY="0" Confidence="{70 + (c + r) % 20}"/>'
    for r in range(ROWS) for c in range(COLS - 1)
) + "".join(
    f'<TileJointInfo FlagJoined="1" Direction="UP" Tile1="{number(c, r + 1)}" Tile2="{number(c, r)}" '
    f'OverlapX="0" OverlapY="{256 - ADV}" Confidence="{60 + (c * r) % 30}"/>'
    for r in range(ROWS - 1) for c in range(COLS)
)
encode = (
    '<?xml version="1.0" encoding="utf-8"?><EncodeInfo Ver="2"><SlideInfo/><SlideStitchInfo>'
    f'<ImageInfo AOIScanned="1" AOIIndex="0" Width="256" Height="256" NumRows="{ROWS}" NumCols="{COLS}" '
    f'Pos-X="0" Pos-Y="0">{joints}</ImageInfo></SlideStitchInfo>'
    '<AoiOrigin><AOI0 OriginX="0" OriginY="0"/></AoiOrigin></EncodeInfo>'
).encode()
with tifffile.TiffWriter(f"{out}/generated__ventana-cmu-overlap.bif", bigtiff=True) as t:
    t.write(macro, description="Label Image", extratags=[(700, 1, len(xmp), xmp, True)],
            photometric="rgb", compression="zlib", metadata=None)
    t.write(down(stitched, 8), description="Thumbnail", photometric="rgb", compression="zlib", metadata=None)
    for i, d in enumerate([1, 2, 4]):
        s = 256 // d
        level = np.zeros((ROWS * s, COLS * s, 3), np.uint8)
        for r in range(ROWS):
            for c in range(COLS):
                level[r * s:(r + 1) * s, c * s:(c + 1) * s] = camera_tile(c, r) if d == 1 else down(camera_tile(c, r), d)
        extra = [(700, 1, len(encode), encode, True)] if d == 1 else []
        t.write(level, description=f"level={i} mag={20 / d:g} quality=90", extratags=extra, **tiles)
