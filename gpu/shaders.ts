/**
 * The WGSL sources of the kernels (`kernels/<op>.wgsl`, each prefixed with `kernels/common.wgsl`) and the
 * entry points each one defines. Read from disk once per process.
 */

/** Kernel files and their entry points. */
export const SHADER_ENTRY_POINTS = {
  gray: ["gray"],
  threshold: ["threshold"],
  mask: ["saturation", "median7", "dilate_h", "dilate_v", "erode_h", "erode_v", "median_out", "load_b"],
  quantize: ["levels", "palette_map"],
  downsample2x: ["downsample2x"],
  histogram: ["histogram"],
} as const;

/** A kernel file's name. */
export type ShaderFile = keyof typeof SHADER_ENTRY_POINTS;

/** An entry point, named `file.entry`. */
export type EntryPoint = {
  [F in ShaderFile]: `${F}.${(typeof SHADER_ENTRY_POINTS)[F][number]}`;
}[ShaderFile];

/** Every entry point, in a fixed order (the warm-up compiles them all). */
export const ALL_ENTRY_POINTS: EntryPoint[] = Object.entries(SHADER_ENTRY_POINTS).flatMap(([file, entries]) =>
  entries.map((e) => `${file}.${e}` as EntryPoint)
);

let cache: Map<ShaderFile, string> | null = null;

/** The WGSL module of a kernel file, common definitions included. */
export async function shaderSource(file: ShaderFile): Promise<string> {
  if (!cache) {
    const kernels = new URL("../kernels/", import.meta.url);
    const common = await Deno.readTextFile(new URL("common.wgsl", kernels));
    const map = new Map<ShaderFile, string>();
    for (const f of Object.keys(SHADER_ENTRY_POINTS) as ShaderFile[]) {
      map.set(f, common + "\n" + await Deno.readTextFile(new URL(`${f}.wgsl`, kernels)));
    }
    cache = map;
  }
  return cache.get(file)!;
}
