/**
 * The WGSL sources of the kernels' modules (`kernels/<file>.wgsl`, each prefixed with
 * `kernels/common.wgsl`), as the kernel registry declares them. Read from disk once per process.
 */
import { SHADER_MODULES } from "../kernels/index.ts";

/** Every entry point, named `file.entry`, in a fixed order (the warm-up compiles them all). */
export const ALL_ENTRY_POINTS: readonly string[] = SHADER_MODULES.flatMap((m) =>
  m.entries.map((e) => `${m.file}.${e}`)
);

let cache: Map<string, string> | null = null;

/** The WGSL module of a kernel file, common definitions included. */
export async function shaderSource(file: string): Promise<string> {
  if (!cache) {
    const kernels = new URL("../kernels/", import.meta.url);
    const common = await Deno.readTextFile(new URL("common.wgsl", kernels));
    const map = new Map<string, string>();
    for (const m of SHADER_MODULES) {
      map.set(m.file, common + "\n" + await Deno.readTextFile(new URL(`${m.file}.wgsl`, kernels)));
    }
    cache = map;
  }
  const source = cache.get(file);
  if (source === undefined) throw new Error(`no kernel module "${file}"`);
  return source;
}
