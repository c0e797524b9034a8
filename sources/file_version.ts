/**
 * A local file's version, the part of every cache key that says which bytes it was made from, and when a
 * version may be taken (the second of the file's last change is over).
 */
import { HttpError } from "../errors.ts";

/** Past the end of a change's second, the margin for the kernel's coarse clock that stamped it (ms). */
const SETTLE_MARGIN_MS = 60;

/**
 * How long (ms) until the version of a file stat'ed as `st` at `now` is settled; 0 when it is. ctime has
 * whole seconds here, so two writes within one second, the mtime put back, give one version: a version is
 * taken only once the second of the file's last change (its ctime) is over, when any later write must
 * stamp a later second. A ctime more than 2 s ahead of the clock (a skewed file server) is taken as it is.
 */
export function unsettledFor(st: Deno.FileInfo, now: number): number {
  const changed = st.ctime?.getTime();
  if (changed === undefined) return 0;
  const settledAt = Math.floor(changed / 1000) * 1000 + 1000 + SETTLE_MARGIN_MS;
  return settledAt > now && settledAt - now <= 2000 + SETTLE_MARGIN_MS ? settledAt - now : 0;
}

/**
 * A local file's version: size, mtime, and the inode and ctime that `cp -p`, `rsync -a` or tar cannot set
 * back (a rename gives a new inode; an in-place write a new ctime), so a file replaced with its size and
 * mtime kept is still a new version (Deno gives ctime in whole seconds: an in-place rewrite within the same
 * second as the last one, mtime put back, would keep the version; `locate` takes a version only once that
 * second is over, `unsettledFor`). A chmod or a new hard link changes ctime
 * too: a new version, harmless.
 */
export function fileVersion(st: Deno.FileInfo): string {
  const ms = (d: Date | null) => (d?.getTime() ?? 0).toString(36);
  return [st.size.toString(36), ms(st.mtime), (st.ino ?? 0).toString(36), ms(st.ctime)].join("-");
}

/**
 * 409 `source_changed` unless the open file `file` still has `version`: an in-place write since the
 * version was taken would mix its bytes with the old ones under the old version's keys.
 */
export function checkFileVersion(file: Deno.FsFile, version: string, path: string): void {
  if (fileVersion(file.statSync()) !== version) {
    throw new HttpError(409, "source_changed", `${path.split("/").pop()} changed while it was read; ask again`);
  }
}
