/**
 * A bounded fuzz run: 10,000 seeded random requests (methods, paths, headers,
 * bodies) against a server process. No 5xx, no crash, nothing outside the
 * data directory, memory flat.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listFiles, seededRandom, sha256, tempDir } from "../helpers/files.ts";
import { E2E, startServerProcess } from "../helpers/process.ts";

const REQUESTS = 10_000;
const CONCURRENCY = 16;
const SEED = 424242;

async function rss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

Deno.test({
  name:
    `fuzz: ${REQUESTS} random requests give no 5xx, no crash, no file outside the data directory, flat memory`,
  ...E2E,
  async fn() {
    await using root = await tempDir();
    const data = join(root.path, "data");
    await Deno.mkdir(data);
    await Deno.writeTextFile(join(root.path, "canary.txt"), "canary");
    await Deno.writeTextFile(join(data, ".htpasswd"), "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n");
    await using server = await startServerProcess([data, "--prometheus"]);
    const random = seededRandom(SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const validAuth = `Basic ${btoa("alice:secret")}`;
    const known = Array.from(
      { length: 8 },
      (_, i) => new TextEncoder().encode(`known object ${i}`),
    );
    const segments = [
      "alice",
      "bob",
      "a",
      "..",
      ".",
      "%2e%2e",
      "%2f",
      "%00",
      ".htpasswd",
      "data",
      "keys",
      "locks",
      "snapshots",
      "index",
      "config",
      "",
      "x%20y",
      "ü",
      "%ff",
      "%c0%ae",
      "\\",
      "metrics",
      "healthz",
      ...known.map((k) => sha256(k)),
      "0".repeat(64),
      "ABC",
      "a".repeat(300),
    ];
    const methods = [
      "GET",
      "GET",
      "GET",
      "HEAD",
      "POST",
      "POST",
      "DELETE",
      "PUT",
      "OPTIONS",
      "PATCH",
    ];
    const ranges = [
      "bytes=0-",
      "bytes=0-10",
      "bytes=-5",
      "bytes=5-1",
      "bytes=999999-",
      "items=1-2",
      "bytes=0-1,2-3",
      "garbage",
    ];
    const accepts = ["application/vnd.x.restic.rest.v2", "*/*", "text/html", ""];
    const auths = [
      validAuth,
      validAuth,
      validAuth,
      "",
      "Basic !!!",
      `Basic ${btoa("alice:wrong")}`,
      "Bearer x",
    ];

    // Seed some objects so that reads find something.
    for (const body of known) {
      for (const type of ["data", "keys"]) {
        const response = await fetch(`${server.url}/alice/${type}/${sha256(body)}`, {
          method: "POST",
          body,
          headers: { authorization: validAuth },
        });
        await response.body?.cancel();
      }
    }
    const outside = async (): Promise<string[]> =>
      (await listFiles(root.path)).filter((f) => !f.startsWith("data/"));
    const outsideBefore = await outside();
    const statuses = new Map<number, number>();
    const serverErrors: string[] = [];
    let next = 0;
    let baseline = 0;
    const worker = async (): Promise<void> => {
      while (next < REQUESTS) {
        const n = next++;
        if (n === 1000) baseline = await rss(server.process.pid);
        const depth = Math.floor(random() * 5);
        const path = "/" + Array.from({ length: depth }, () => pick(segments)).join("/") +
          (random() < 0.3 ? "/" : "");
        const method = pick(methods);
        const headers: Record<string, string> = {};
        const auth = pick(auths);
        if (auth) headers.authorization = auth;
        if (random() < 0.3) headers.range = pick(ranges);
        if (random() < 0.3) headers.accept = pick(accepts);
        let body: Uint8Array<ArrayBuffer> | undefined;
        if (method === "POST" || method === "PUT" || random() < 0.05) {
          body = random() < 0.5
            ? pick(known)
            : crypto.getRandomValues(new Uint8Array(Math.floor(random() * 4096)));
        }
        const query = random() < 0.1 ? "?create=true" : random() < 0.05 ? "?create=maybe" : "";
        // Concatenated, never resolved: a path starting with // must not become a host.
        const url = new URL(server.url + path + query);
        if (url.hostname !== "127.0.0.1") {
          throw new Error(`fuzz request left loopback: ${url.href}`);
        }
        const response = await fetch(url, {
          method,
          headers,
          body: method === "GET" || method === "HEAD" ? undefined : body,
        });
        await response.body?.cancel();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status >= 500) {
          serverErrors.push(`${method} ${path}${query}: ${response.status}`);
        }
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsed = Date.now() - started;
    const after = await rss(server.process.pid);
    assert.deepEqual(serverErrors, []);
    assert.equal([...statuses.values()].reduce((a, b) => a + b, 0) > REQUESTS * 0.95, true);
    assert.ok(
      statuses.has(200) && statuses.has(404) && statuses.has(401),
      JSON.stringify([...statuses]),
    );
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200, "the server is alive");
    await health.body?.cancel();
    assert.deepEqual(await outside(), outsideBefore, "no file appeared outside the data directory");
    assert.equal(await Deno.readTextFile(join(root.path, "canary.txt")), "canary");
    assert.ok(
      after - baseline < 32 << 20,
      `RSS grew by ${((after - baseline) / 2 ** 20).toFixed(1)} MiB`,
    );
    assert.ok(elapsed < 60_000, `took ${elapsed} ms`);
  },
});
