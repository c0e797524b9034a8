/**
 * A folder holding the instances of one DICOM WSI series is one image (its id is the folder's path): its
 * DICOM files are found by their content (the `DICM` preamble; the WG-26 sample files have no extension),
 * and its version is that of every file in it, so a changed, added or removed instance is a new version.
 */
import { createHash } from "node:crypto";
import { isDicomHead } from "./dicom.ts";
import { fileVersion, unsettledFor } from "./file_version.ts";

/** Most files a DICOM folder may hold (instances and whatever lies beside them). */
const MAX_FILES = 4096;

/** Folders' DICOM files by the folder's own version (a file added, removed or renamed changes it). */
const listed = new Map<string, Promise<string[]>>();

/**
 * The DICOM files directly in `dir` (hidden names skipped), sorted by name; [] when it holds none. Found
 * once per version of the folder itself (each request locates its image: not a read of every file's head).
 */
export async function dicomFilesIn(dir: string): Promise<string[]> {
  // Synchronous stats: every request for a series locates it (an async stat costs the router ~10× more).
  const st = Deno.statSync(dir);
  const key = `${dir}@${fileVersion(st)}`;
  let found = listed.get(key);
  if (!found) {
    found = scan(dir);
    found.catch(() => listed.delete(key));
    listed.set(key, found);
    while (listed.size > 256) listed.delete(listed.keys().next().value!);
  }
  return await found;
}

async function scan(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if ((e.isFile || e.isSymlink) && !e.name.startsWith(".")) names.push(e.name);
    if (names.length > MAX_FILES) return [];
  }
  const out: string[] = [];
  for (const name of names.sort()) {
    const f = await Deno.open(`${dir}/${name}`).catch(() => null);
    if (!f) continue;
    try {
      const head = new Uint8Array(132);
      let got = 0;
      for (let n: number | null = 0; got < 132 && (n = await f.read(head.subarray(got))) !== null;) got += n;
      if (isDicomHead(head.subarray(0, got))) out.push(`${dir}/${name}`);
    } finally {
      f.close();
    }
  }
  return out;
}

/** True when `dir` holds DICOM files (a series folder: listed and served as one image). */
export async function isDicomFolder(dir: string): Promise<boolean> {
  return (await dicomFilesIn(dir).catch(() => [])).length > 0;
}

/**
 * The version of a DICOM folder at `now`: a hash of the folder's and every DICOM file's name and
 * `fileVersion`, and how long (ms) until it is settled (`unsettledFor` of its most recently changed file).
 */
export async function folderVersion(dir: string, now = Date.now()): Promise<{ version: string; wait: number }> {
  const h = createHash("sha256");
  let wait = 0;
  // The folder's own version (files added or removed) and each DICOM file's (written in place).
  const self = Deno.statSync(dir);
  h.update(`.\0${fileVersion(self)}\n`);
  wait = unsettledFor(self, now);
  for (const path of await dicomFilesIn(dir)) {
    let st: Deno.FileInfo;
    try {
      st = Deno.statSync(path);
    } catch {
      continue;
    }
    if (!st.isFile) continue;
    h.update(`${path.slice(dir.length + 1)}\0${fileVersion(st)}\n`);
    wait = Math.max(wait, unsettledFor(st, now));
  }
  return { version: `dir-${h.digest("hex").slice(0, 24)}`, wait };
}
