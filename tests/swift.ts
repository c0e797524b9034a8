/**
 * A real S3 store with real SigV4 for the tests: Debian's OpenStack Swift with its `s3api` middleware, all
 * on 127.0.0.1 in a temp folder — memcached, one account, container and object server each (rings of one
 * device), and a proxy with `tempauth` (user `test:tester`, key `testing`). It checks signatures and keeps
 * buckets private. Started and stopped by the test itself.
 */
import { freePort } from "./helpers.ts";
import { AwsClient } from "aws4fetch";

/** A running Swift with S3: its endpoint, credentials and a signed client. */
export interface TestS3 {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  client: AwsClient;
  /** Creates `bucket` (private) and puts each file at its key. */
  put(bucket: string, objects: Record<string, Uint8Array>): Promise<void>;
  stop(): Promise<void>;
}

/** True when Swift's servers and memcached are installed. */
export async function hasSwift(): Promise<boolean> {
  const out = await new Deno.Command("sh", { args: ["-c", "command -v swift-proxy-server && command -v memcached"] })
    .output().catch(() => null);
  return out?.success ?? false;
}

const serverConf = (dir: string, name: string, port: number) =>
  `[DEFAULT]\ndevices = ${dir}/srv\nmount_check = false\nbind_ip = 127.0.0.1\nbind_port = ${port}\n` +
  `swift_dir = ${dir}\nuser = ${Deno.env.get("USER") ?? "root"}\nworkers = 0\nlog_address = /dev/null\n` +
  `[pipeline:main]\npipeline = ${name}-server\n[app:${name}-server]\nuse = egg:swift#${name}\n`;

const proxyConf = (dir: string, port: number, memcached: number) =>
  `[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = ${port}\nswift_dir = ${dir}\n` +
  `user = ${Deno.env.get("USER") ?? "root"}\nworkers = 0\nlog_address = /dev/null\n` +
  `[pipeline:main]\npipeline = catch_errors gatekeeper proxy-logging cache listing_formats s3api tempauth copy ` +
  `proxy-logging proxy-server\n[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n` +
  ["catch_errors", "gatekeeper", "proxy_logging", "listing_formats", "copy", "s3api"]
    .map((f) => `[filter:${f.replace("_logging", "-logging")}]\nuse = egg:swift#${f}\n`).join("") +
  `[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:${memcached}\n` +
  `[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = testing .admin\n`;

async function run(cmd: string, args: string[], cwd: string) {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/** Starts Swift with s3api and waits until a signed request is answered (60 s only catches a hang). */
export async function startSwift(): Promise<TestS3> {
  const dir = await Deno.makeTempDir({ prefix: "edgetile-swift-" });
  await Deno.mkdir(`${dir}/srv/d1`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/swift.conf`,
    "[swift-hash]\nswift_hash_path_suffix = edgetile\nswift_hash_path_prefix = edgetile\n" +
      "[storage-policy:0]\nname = gold\ndefault = yes\n",
  );
  const children: Deno.ChildProcess[] = [];
  const memcached = freePort();
  children.push(
    new Deno.Command("memcached", { args: ["-l", "127.0.0.1", "-p", String(memcached), "-U", "0", "-u", "root"] })
      .spawn(),
  );
  for (const name of ["account", "container", "object"]) {
    const port = freePort();
    await run("swift-ring-builder", [`${name}.builder`, "create", "6", "1", "1"], dir);
    await run("swift-ring-builder", [`${name}.builder`, "add", `r1z1-127.0.0.1:${port}/d1`, "1"], dir);
    await run("swift-ring-builder", [`${name}.builder`, "rebalance"], dir);
    await Deno.writeTextFile(`${dir}/${name}.conf`, serverConf(dir, name, port));
    children.push(
      new Deno.Command(`swift-${name}-server`, { args: [`${dir}/${name}.conf`], stdout: "null", stderr: "null" })
        .spawn(),
    );
  }
  const port = freePort();
  await Deno.writeTextFile(`${dir}/proxy.conf`, proxyConf(dir, port, memcached));
  children.push(
    new Deno.Command("swift-proxy-server", { args: [`${dir}/proxy.conf`], stdout: "null", stderr: "null" }).spawn(),
  );
  const endpoint = `http://127.0.0.1:${port}`;
  const [accessKeyId, secretAccessKey] = ["test:tester", "testing"];
  const client = new AwsClient({ accessKeyId, secretAccessKey, service: "s3", region: "us-east-1" });
  const stop = async () => {
    for (const c of children) {
      try {
        c.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    await Promise.all(children.map((c) => c.status));
    await Deno.remove(dir, { recursive: true });
  };
  for (let i = 0;; i++) {
    const ok = await client.fetch(`${endpoint}/`).then(async (r) => (await r.body?.cancel(), r.ok), () => false);
    if (ok) break;
    if (i > 600) {
      await stop();
      throw new Error("Swift did not start");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    client,
    put: async (bucket, objects) => {
      const made = await client.fetch(`${endpoint}/${bucket}`, { method: "PUT" });
      await made.body?.cancel();
      if (!made.ok && made.status !== 409) throw new Error(`create bucket ${bucket}: ${made.status}`);
      for (const [key, body] of Object.entries(objects)) {
        const res = await client.fetch(`${endpoint}/${bucket}/${key}`, {
          method: "PUT",
          body: body as Uint8Array<ArrayBuffer>,
        });
        await res.body?.cancel();
        if (!res.ok) throw new Error(`put ${key}: ${res.status}`);
      }
    },
    stop,
  };
}

/**
 * A TCP relay on a free loopback port to `port` that counts the HTTP requests passing through it (bytes
 * unchanged, so a SigV4 signature made for the relay's address holds).
 */
export function countingRelay(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const counter = { requests: 0, heads: 0 };
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const upstream = await Deno.connect({ hostname: "127.0.0.1", port });
        const count = new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, out) {
            const text = new TextDecoder("latin1").decode(chunk);
            counter.requests += (text.match(/^(GET|HEAD) \S+ HTTP\/1\.1\r$/gm) ?? []).length;
            counter.heads += (text.match(/^HEAD \S+ HTTP\/1\.1\r$/gm) ?? []).length;
            out.enqueue(chunk);
          },
        });
        await Promise.all([
          conn.readable.pipeThrough(count).pipeTo(upstream.writable).catch(() => {}),
          upstream.readable.pipeTo(conn.writable).catch(() => {}),
        ]);
      })().catch(() => {});
    }
  })().catch(() => {});
  return { url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`, counter, close: () => listener.close() };
}
