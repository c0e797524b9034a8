/** The image files of a folder, as the listing and `deno task extract` walk it. */
import { isDicomFolder } from "./dicom_folder.ts";

/** File extensions the listing picks up. */
export const IMAGE_EXTENSIONS = /\.(tiff?|svs|btf|tf8|ndpi|scn|bif|dcm|png|jpe?g|webp)$/i;

/** Most image files a listing walks, and how deep into folders. */
const MAX_LISTED = 10000, MAX_DEPTH = 8;

/**
 * The files under `dir`, as sorted paths relative to it: image files by extension (`deno task extract`'s
 * folders), or with `all` every file (the listing, which says of each whether it is read). Hidden names are
 * skipped, and a 3DHISTECH MRXS data folder (holding `Slidedat.ini`) is not walked: with `all` it is one
 * entry, unless its `.mrxs` file stands beside it. At most `MAX_DEPTH` folders deep and `MAX_LISTED` files.
 */
export async function imageFilesUnder(dir: string, all = false): Promise<string[]> {
  const ids: string[] = [];
  const walk = async (at: string, prefix: string, depth: number) => {
    if (depth > MAX_DEPTH || ids.length >= MAX_LISTED) return;
    const entries = [];
    for await (const e of Deno.readDir(at)) if (!e.name.startsWith(".")) entries.push(e);
    const names = new Set(entries.map((e) => e.name.toLowerCase()));
    for (const e of entries) {
      const id = prefix + e.name;
      if (e.isDirectory) {
        if (await isDicomFolder(`${at}/${e.name}`)) ids.push(id); // a DICOM series: one image
        else if (await isMrxsData(`${at}/${e.name}`)) {
          if (all && !names.has(`${e.name.toLowerCase()}.mrxs`)) ids.push(id);
        } else await walk(`${at}/${e.name}`, id + "/", depth + 1);
      } else if ((e.isFile || e.isSymlink) && (all || IMAGE_EXTENSIONS.test(e.name))) ids.push(id);
    }
  };
  await walk(dir, "", 0);
  return ids.sort();
}

/** True when `dir` is a 3DHISTECH MRXS slide's data folder. */
export async function isMrxsData(dir: string): Promise<boolean> {
  return await Deno.stat(`${dir}/Slidedat.ini`).then((s) => s.isFile, () => false);
}
