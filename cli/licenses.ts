/**
 * `deno task licenses`: writes THIRD_PARTY_LICENSES.md, every npm package in `deno.lock` with the licence
 * its own `package.json` declares (read from `node_modules`), and whether the service runs it or only the
 * tests. A test compares the file with a fresh listing, so a new dependency cannot land unlisted.
 */

/** One listed package. */
export interface PackageLicense {
  name: string;
  version: string;
  license: string;
  /** `service`: reachable from an import of the service; `tests`: only from the test-only imports. */
  use: "service" | "tests";
}

/** Imports used only by the tests (the browser driver; Leaflet for the README snippet test). */
const TEST_ONLY = new Set(["playwright-core", "leaflet"]);

/** `name@version` of a lock key (`@scope/name@1.2.3_peer@4` → name, version). */
function splitKey(key: string): [string, string] {
  const at = key.indexOf("@", 1);
  return [key.slice(0, at), key.slice(at + 1).split("_")[0]];
}

/** The licence string of `package.json` (SPDX, or the old `licenses` array joined with OR). */
function licenseOf(pkg: { license?: unknown; licenses?: { type: string }[] }): string {
  if (typeof pkg.license === "string") return pkg.license;
  if (pkg.license && typeof pkg.license === "object") return String((pkg.license as { type: string }).type);
  if (Array.isArray(pkg.licenses)) return pkg.licenses.map((l) => l.type).join(" OR ");
  return "UNKNOWN";
}

/** Every package of `deno.lock` with its licence, sorted by name. */
export async function listLicenses(root: URL): Promise<PackageLicense[]> {
  const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", root)));
  const npm: Record<string, { dependencies?: string[] }> = lock.npm ?? {};
  const keyOf = (dep: string) => npm[dep] ? dep : Object.keys(npm).find((k) => splitKey(k)[0] === dep);
  const reach = (roots: string[]) => {
    const seen = new Set<string>();
    const stack = roots.map(keyOf).filter((k): k is string => !!k);
    while (stack.length) {
      const k = stack.pop()!;
      if (seen.has(k)) continue;
      seen.add(k);
      for (const d of npm[k].dependencies ?? []) {
        const dk = keyOf(d);
        if (dk) stack.push(dk);
      }
    }
    return seen;
  };
  const direct = Object.values(lock.specifiers as Record<string, string>).length
    ? Object.keys(lock.specifiers).map((s) => s.replace(/^npm:/, "").replace(/@[^@]*$/, ""))
    : [];
  const service = reach(direct.filter((d) => !TEST_ONLY.has(d)).map((d) => keyOf(d) ?? d));
  const out: PackageLicense[] = [];
  for (const key of Object.keys(npm)) {
    const [name, version] = splitKey(key);
    // The folder is named by the lock key, or by name@version where Deno left the peers out of it.
    const folder = (v: string) =>
      new URL(`node_modules/.deno/${name.replace("/", "+")}@${v}/node_modules/${name}/package.json`, root);
    const full = folder(key.slice(name.length + 1));
    const path = await Deno.stat(full).then(() => full, () => folder(version));
    const pkg = JSON.parse(await Deno.readTextFile(path));
    out.push({ name, version, license: licenseOf(pkg), use: service.has(key) ? "service" : "tests" });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
}

/** THIRD_PARTY_LICENSES.md for `list`. */
export function renderLicenses(list: PackageLicense[]): string {
  const rows = list.map((p) => `| ${p.name} | ${p.version} | ${p.license} | ${p.use} |`);
  return [
    "# Third-party licences",
    "",
    "edgetile is MIT-licensed (`LICENSE`). It uses these npm packages (every entry of `deno.lock`, with the",
    "licence each package's `package.json` declares; regenerate with `deno task licenses`). All are",
    "permissive and compatible with MIT; `imagescript` is offered as AGPL-3.0-or-later OR MIT and is used",
    "under MIT. Native and WASM code inside them: libjpeg-turbo (`@julusian/jpeg-turbo` prebuilds,",
    "`@cornerstonejs/codec-libjpeg-turbo-8bit`, `@jsquash/jpeg`: IJG licence, BSD-3-Clause, Zlib), MozJPEG",
    "(`@jsquash/jpeg`: same), libwebp (`@jsquash/webp`: BSD-3-Clause), OpenJPEG",
    "(`@cornerstonejs/codec-openjpeg`: BSD-2-Clause), Zstandard (`zstddec`: BSD-3-Clause). The bundled and",
    "test images carry their own licences: `samples/README.md`, `tests/data/README.md`.",
    "",
    "`use`: `service` — reachable from the service's imports (some only at install: the native addon's build",
    "tools); `tests` — only the tests (the browser driver, Leaflet for the README snippet).",
    "",
    "| package | version | licence | use |",
    "| --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) {
  const root = new URL("../", import.meta.url);
  await Deno.writeTextFile(new URL("THIRD_PARTY_LICENSES.md", root), renderLicenses(await listLicenses(root)));
}
