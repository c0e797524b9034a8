/**
 * `deno task extract`'s inputs: image files, folders (every image file under them, as the image listing
 * finds them) and lists (any other file: one path a line, relative to the list's folder, `#` comments),
 * resolved to real paths, deduplicated, and given ids relative to their common folder.
 */
import { IMAGE_EXTENSIONS, imageFilesUnder } from "../sources/listing.ts";

/** The slides of one run: their common folder (the registry's root) and their ids under it. */
export interface ExtractInputs {
  root: string;
  ids: string[];
  /** One argument, an image file (the command then writes into the output folder itself). */
  single: boolean;
}

/** The largest list file read (a million paths or so). */
const MAX_LIST_BYTES = 16 << 20;

async function expand(arg: string, out: string[], fromList: boolean): Promise<void> {
  let real: string;
  try {
    real = await Deno.realPath(arg);
  } catch {
    throw new Error(`no such file or folder: ${arg}`);
  }
  const st = await Deno.stat(real);
  if (st.isDirectory) out.push(...(await imageFilesUnder(real)).map((id) => `${real}/${id}`));
  else if (IMAGE_EXTENSIONS.test(real) || fromList) out.push(real);
  else {
    // A list is a small text file; anything else (a slide format edgetile does not read) is not read whole.
    const head = st.size <= MAX_LIST_BYTES ? await Deno.readFile(real) : null;
    if (!head || head.includes(0)) {
      throw new Error(`${arg} is neither an image file (by extension) nor a list of paths (text, ≤ 16 MiB)`);
    }
    const dir = real.slice(0, real.lastIndexOf("/")) || "/";
    for (const raw of new TextDecoder().decode(head).split(/\r?\n/)) {
      const line = raw.trim();
      if (!line || line.startsWith("#")) continue;
      await expand(line.startsWith("/") ? line : `${dir}/${line}`, out, true);
    }
  }
}

/** The slides named by `args`; an error names an argument that is missing. */
export async function extractInputs(args: string[]): Promise<ExtractInputs> {
  const paths: string[] = [];
  for (const arg of args) await expand(arg, paths, false);
  const unique = [...new Set(paths)];
  if (unique.length === 0) throw new Error(`no image files in ${args.join(", ")}`);
  const dirs = unique.map((p) => p.slice(0, p.lastIndexOf("/")).split("/"));
  let common = dirs[0];
  for (const d of dirs) {
    let i = 0;
    while (i < common.length && i < d.length && common[i] === d[i]) i++;
    common = common.slice(0, i);
  }
  const root = common.join("/") || "/";
  const prefix = root === "/" ? "/" : root + "/";
  const single = args.length === 1 && unique.length === 1 && IMAGE_EXTENSIONS.test(args[0]) &&
    !(await Deno.stat(args[0])).isDirectory;
  return { root, ids: unique.map((p) => p.slice(prefix.length)), single };
}
