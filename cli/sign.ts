/**
 * Signs a URL for a server running with EDGETILE_SIGNING_KEY:
 *   deno task sign "/dzi/CMU-1-Small-Region.svs.dzi?op=mask" [--expires 3600] [--scope /dzi/CMU-1-Small-Region.svs]
 * Reads the key from EDGETILE_SIGNING_KEY (the first one when several are listed) and prints the signed path.
 */
import { signUrl } from "../security/signing.ts";

const args = [...Deno.args];
const take = (flag: string) => {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const expires = take("--expires");
const scope = take("--scope");
const key = (Deno.env.get("EDGETILE_SIGNING_KEY") ?? "").split(",")[0];
if (!key || args.length !== 1) {
  console.error(
    'usage: EDGETILE_SIGNING_KEY=… deno task sign "/path?query" [--expires SECONDS] [--scope /path/prefix]',
  );
  Deno.exit(2);
}
const expiresAt = expires ? Date.now() / 1000 + Number(expires) : undefined;
console.log(await signUrl(args[0], key, { expiresAt, scope }));
