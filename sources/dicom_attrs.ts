/**
 * DICOM attributes read one way from either encoding a slide arrives in: a Part 10 file's data set (parsed
 * by `dicom-parser`) or the DICOM JSON model of a DICOMweb server's metadata (PS3.18 F.2). The instance
 * reader (`dicom.ts`) asks for tags by their eight hex digits ("00280011") and never sees which it is.
 */
import type dicomParser from "dicom-parser";

type DataSet = ReturnType<typeof dicomParser.parseDicom>;

/** Attribute access by tag (eight hex digits, group then element). */
export interface DicomAttrs {
  /** The value as text (multiple values joined by `\`), or undefined when absent or empty. */
  str(tag: string): string | undefined;
  /** The first value as a number (US, UL, SL, IS, DS, FL), or undefined. */
  num(tag: string): number | undefined;
  /** The items of a sequence (SQ), [] when absent. */
  items(tag: string): DicomAttrs[];
  /** True when the attribute is present (even empty). */
  has(tag: string): boolean;
}

/** VRs `dicom-parser` reads as binary numbers (the rest are text). */
const BINARY: Record<string, (ds: DataSet, tag: string) => number | undefined> = {
  US: (ds, t) => ds.uint16(t),
  UL: (ds, t) => ds.uint32(t),
  SS: (ds, t) => ds.int16(t),
  SL: (ds, t) => ds.int32(t),
  FL: (ds, t) => ds.float(t),
  FD: (ds, t) => ds.double(t),
};

/**
 * The attributes of a Part 10 data set. Explicit VR files say each element's VR; in implicit VR files
 * (no VR) numbers of the tags asked for here are read by their dictionary VR, passed as `implicitVr`.
 */
export function parsedAttrs(ds: DataSet, implicitVr: Record<string, string> = IMPLICIT_VR): DicomAttrs {
  const key = (tag: string) => `x${tag.toLowerCase()}`;
  return {
    str: (tag) => ds.string(key(tag)) || undefined,
    num: (tag) => {
      const el = ds.elements[key(tag)];
      if (!el || el.length === 0) return undefined;
      const binary = BINARY[el.vr ?? implicitVr[tag.toUpperCase()] ?? ""];
      if (binary) return binary(ds, key(tag));
      const v = Number((ds.string(key(tag)) ?? "").split("\\")[0]);
      return Number.isFinite(v) ? v : undefined;
    },
    items: (tag) =>
      (ds.elements[key(tag)]?.items ?? []).flatMap((i) => i.dataSet ? [parsedAttrs(i.dataSet as DataSet)] : []),
    has: (tag) => key(tag) in ds.elements,
  };
}

/** Dictionary VRs of the binary numeric tags the instance reader asks for (for implicit VR files). */
const IMPLICIT_VR: Record<string, string> = {
  "00280002": "US",
  "00280010": "US",
  "00280011": "US",
  "00280100": "US",
  "00480006": "UL",
  "00480007": "UL",
  "00480303": "UL",
  "00209228": "UL",
  "0048021E": "SL",
  "0048021F": "SL",
  "00480112": "DS",
};

/** One attribute of the DICOM JSON model. */
interface JsonElement {
  vr?: string;
  Value?: unknown[];
}

/** The attributes of one object of the DICOM JSON model (`{"00280011": {"vr": "US", "Value": [1024]}}`). */
export function jsonAttrs(obj: Record<string, JsonElement>): DicomAttrs {
  const values = (tag: string) => obj[tag.toUpperCase()]?.Value ?? [];
  return {
    str: (tag) => {
      const v = values(tag);
      if (!v.length) return undefined;
      // Person names are objects ({"Alphabetic": "…"}); the rest are strings or numbers.
      const text = v.map((
        x,
      ) => (x && typeof x === "object" ? String((x as { Alphabetic?: string }).Alphabetic ?? "") : String(x ?? "")));
      return text.join("\\") || undefined;
    },
    num: (tag) => {
      const v = Number(values(tag)[0]);
      return values(tag).length && Number.isFinite(v) ? v : undefined;
    },
    items: (tag) =>
      values(tag).filter((x): x is Record<string, JsonElement> => !!x && typeof x === "object").map(jsonAttrs),
    has: (tag) => tag.toUpperCase() in obj,
  };
}
