/**
 * The DICOMweb servers of the settings (no imports: `config.ts` reads them at start, before anything else
 * is loaded).
 */

/** One DICOMweb server of the settings. */
export interface DicomwebServer {
  name: string;
  /** The service root, e.g. `https://pacs.example.org/dicom-web` (no trailing slash). */
  base: string;
  /** The Authorization header sent to it (`Bearer …`, `Basic …`), if any. */
  authorization?: string;
}

/**
 * The servers of `EDGETILE_DICOMWEB` (`name=https://host/dicom-web,…`) with the Authorization values of
 * `EDGETILE_DICOMWEB_AUTH` (`name=Bearer xyz,…`). Throws, naming the variable, on a malformed entry.
 */
export function parseDicomwebSettings(servers: string, auth: string): DicomwebServer[] {
  const pairs = (value: string, variable: string) =>
    value.split(",").map((p) => p.trim()).filter(Boolean).map((p) => {
      const at = p.indexOf("=");
      if (at <= 0) throw new Error(`${variable}: "${p.replace(/=.*/, "=…")}" is not name=value`);
      return [p.slice(0, at).trim(), p.slice(at + 1).trim()] as const;
    });
  const out = pairs(servers, "EDGETILE_DICOMWEB").map(([name, base]) => {
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`EDGETILE_DICOMWEB: "${name}" is not a name ([A-Za-z0-9_-])`);
    let url: URL;
    try {
      url = new URL(base);
    } catch {
      throw new Error(`EDGETILE_DICOMWEB: "${base}" is not a URL`);
    }
    if (!/^https?:$/.test(url.protocol) || url.username || url.password || url.search) {
      throw new Error(`EDGETILE_DICOMWEB: "${base}" must be http(s), without credentials or a query`);
    }
    return { name, base: url.href.replace(/\/+$/, "") } as DicomwebServer;
  });
  for (const [name, value] of pairs(auth, "EDGETILE_DICOMWEB_AUTH")) {
    const server = out.find((s) => s.name === name);
    if (!server) throw new Error(`EDGETILE_DICOMWEB_AUTH: no server "${name}" in EDGETILE_DICOMWEB`);
    server.authorization = value;
  }
  return out;
}
