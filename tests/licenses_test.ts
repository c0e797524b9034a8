/** Licences: LICENSE is MIT, and THIRD_PARTY_LICENSES.md lists every locked npm package with its declared licence. */
import { assert, assertEquals } from "./assert.ts";
import { listLicenses } from "../cli/licenses.ts";

const ROOT = new URL("../", import.meta.url);

/** Licences that allow use in an MIT-licensed project (SPDX ids). */
const PERMISSIVE = new Set([
  "0BSD",
  "MIT",
  "ISC",
  "Apache-2.0",
  "BSD-2-Clause",
  "BSD-3-Clause",
  "BlueOak-1.0.0",
  "CC0-1.0",
  "Zlib",
]);

/** Whether an SPDX expression can be met with permissive licences (an OR needs one side, an AND both). */
function permissive(expr: string): boolean {
  const e = expr.replace(/^\((.*)\)$/, "$1").trim();
  if (/ OR /.test(e)) return e.split(" OR ").some(permissive);
  if (/ AND /.test(e)) return e.split(" AND ").every(permissive);
  return PERMISSIVE.has(e);
}

Deno.test("LICENSE is MIT; THIRD_PARTY_LICENSES.md lists every package of deno.lock with its licence, all permissive", async () => {
  const license = await Deno.readTextFile(new URL("LICENSE", ROOT));
  assert(/^MIT License\n/.test(license) && /Permission is hereby granted, free of charge/.test(license));
  const listed = (await Deno.readTextFile(new URL("THIRD_PARTY_LICENSES.md", ROOT))).split("\n")
    .filter((l) => /^\| [^-\s]/.test(l) && !l.startsWith("| package"))
    .map((l) => l.split("|").slice(1, -1).map((c) => c.trim()));
  const actual = (await listLicenses(ROOT)).map((p) => [p.name, p.version, p.license, p.use]);
  assertEquals(listed, actual, "run deno task licenses");
  // Independently of cli/licenses.ts: every package of deno.lock is listed once, at its version, with the
  // licence its installed package.json declares (read here directly).
  const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", ROOT)));
  const locked = Object.keys(lock.npm).map((k) => {
    const at = k.indexOf("@", 1);
    return `${k.slice(0, at)}@${k.slice(at + 1).split("_")[0]}`;
  }).sort();
  assertEquals(listed.map(([n, v]) => `${n}@${v}`).sort(), locked, "the listed packages are deno.lock's");
  for (const [name, version, lic] of listed) {
    const dirs = [...Deno.readDirSync(new URL("node_modules/.deno/", ROOT))]
      .filter((d) =>
        d.name === `${name.replace("/", "+")}@${version}` || d.name.startsWith(`${name.replace("/", "+")}@${version}_`)
      );
    assert(dirs.length > 0, `${name}@${version} installed`);
    const pkg = JSON.parse(
      await Deno.readTextFile(new URL(`node_modules/.deno/${dirs[0].name}/node_modules/${name}/package.json`, ROOT)),
    );
    assertEquals(pkg.version, version, name);
    const declared = typeof pkg.license === "string"
      ? pkg.license
      : pkg.license?.type ?? pkg.licenses?.map((l: { type: string }) => l.type).join(" OR ");
    assertEquals(lic, declared, `${name}'s licence as its package.json says`);
  }
  assert(actual.length > 10);
  for (const [name, , lic] of actual) assert(permissive(lic), `${name}: ${lic}`);
  assert(!permissive("AGPL-3.0-or-later") && permissive("(AGPL-3.0-or-later OR MIT)"), "the check can fail");
});
