/**
 * The WGSL source of each kernel module, generated from the kernel's declaration (kernels/kernel.ts
 * `ShaderModule`): the `Params` struct from its parameters (the same list the uniform packing uses:
 * gpu/uniforms.ts), the shared definitions of kernels/common.wgsl, the module's own file, and each `packed`
 * entry point as the one loop that writes four output bytes a word. Files are read once per process.
 */
import type { Kernel, ShaderModule } from "../kernels/kernel.ts";
import { paramFields } from "./uniforms.ts";

/** The modules of `kernels`, each once. */
export function modulesOf(kernels: Iterable<Kernel>): ShaderModule[] {
  return [...new Map([...kernels].map((k) => [k.shader.file, k.shader])).values()];
}

/** Every entry point of `kernels`' modules, named `file.entry`, in a fixed order (the warm-up compiles them all). */
export function entryPointsOf(kernels: Iterable<Kernel>): string[] {
  return modulesOf(kernels).flatMap((m) => m.entries.map((e) => `${m.file}.${e}`));
}

/** The `Params` struct of a module. */
function paramsStruct(module: ShaderModule): string {
  return `struct Params {\n${paramFields(module).map((f) => `  ${f}: u32,`).join("\n")}\n}\n`;
}

/** What a packed entry point counts, as a WGSL expression. */
const COUNTS = {
  pixels: "pixel_count()",
  rgb: "pixel_count() * 3u",
  samples: "pixel_count() * params.channels",
  "out-samples": "params.out_width * params.out_height * params.channels",
} as const;

/** A packed entry point: output byte `i` is `byte(i)`, four a word, one word an invocation. */
function packedEntry(name: string, byte: string, count: keyof typeof COUNTS): string {
  return `
@compute @workgroup_size(64)
fn ${name}(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let word = invocation_index(gid, groups);
  let total = ${COUNTS[count]};
  if (word >= words_for(total)) {
    return;
  }
  var out = array<u32, 4>(0u, 0u, 0u, 0u);
  for (var k = 0u; k < 4u; k++) {
    let i = word * 4u + k;
    if (i < total) {
      out[k] = ${byte}(i);
    }
  }
  dst[word] = pack4(out[0], out[1], out[2], out[3]);
}
`;
}

const files = new Map<string, Promise<string>>();

/** A file's text, read once. */
function read(url: URL): Promise<string> {
  if (!files.has(url.href)) files.set(url.href, Deno.readTextFile(url));
  return files.get(url.href)!;
}

/** The WGSL source of a module. */
export async function shaderSource(module: ShaderModule): Promise<string> {
  const kernels = new URL("../kernels/", import.meta.url);
  const common = await read(new URL("common.wgsl", kernels));
  const own = await read(new URL(`${module.file}.wgsl`, module.dir ?? kernels));
  const packed = Object.entries(module.packed ?? {}).map(([e, p]) => packedEntry(e, p.byte, p.count));
  return [paramsStruct(module), common, own, ...packed].join("\n");
}

/** Every entry point of `kernels`' modules compiled for `layout`, by `file.entry` (progress: done of total). */
export async function compilePipelines(
  device: GPUDevice,
  layout: GPUBindGroupLayout,
  kernels: Kernel[],
  onProgress?: (done: number, total: number) => void,
): Promise<Map<string, GPUComputePipeline>> {
  const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });
  const entryPoints = entryPointsOf(kernels), sources = new Map(modulesOf(kernels).map((m) => [m.file, m]));
  const modules = new Map<string, GPUShaderModule>(), pipelines = new Map<string, GPUComputePipeline>();
  onProgress?.(0, entryPoints.length);
  for (const name of entryPoints) {
    const [file, entryPoint] = name.split(".") as [string, string];
    if (!modules.has(file)) {
      modules.set(file, device.createShaderModule({ code: await shaderSource(sources.get(file)!) }));
    }
    const compute = { module: modules.get(file)!, entryPoint };
    pipelines.set(name, await device.createComputePipelineAsync({ layout: pipelineLayout, compute }));
    onProgress?.(pipelines.size, entryPoints.length);
  }
  return pipelines;
}
