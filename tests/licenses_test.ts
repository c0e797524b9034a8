/** Licences: LICENSE is MIT, and THIRD_PARTY_LICENSES.md lists every locked npm package with its declared licence. */
import { assert, assertEquals } from "./assert.ts";
import { listLicenses } from "../cli/licenses.ts";

const ROOT = new URL("../", import.meta.url);

/** Licences that allow use in an MIT-licensed project (SPDX ids). */
const PERMISSIVE = new Set([
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
  assert(actual.length > 10);
  for (const [name, , lic] of actual) assert(permissive(lic), `${name}: ${lic}`);
  assert(!permissive("AGPL-3.0-or-later") && permissive("(AGPL-3.0-or-later OR MIT)"), "the check can fail");
});
