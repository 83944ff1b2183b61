/** Many clients at once: one object by 32, listings during 32 uploads, DELETE racing GET. */
import assert from "node:assert/strict";
import { isObjectName } from "../../lib/base/restic.ts";
import { serveTestApp } from "../helpers/app.ts";
import { listFiles, pseudoRandomBytes, sha256, tempFiles } from "../helpers/files.ts";

Deno.test("the same object uploaded by 32 clients at once: all 200, one correct file", async () => {
  await using server = await serveTestApp();
  const body = pseudoRandomBytes(3_000_000, 32);
  const id = sha256(body);
  const statuses = await Promise.all(Array.from({ length: 32 }, async () => {
    const response = await fetch(`${server.url}/data/${id}`, { method: "POST", body });
    await response.body?.cancel();
    return response.status;
  }));
  assert.deepEqual(statuses, Array(32).fill(200));
  assert.deepEqual((await listFiles(server.dir)).filter((f) => /[0-9a-f]{64}$/.test(f)), [
    `data/${id.slice(0, 2)}/${id}`,
  ]);
  assert.equal(sha256(await Deno.readFile(`${server.dir}/data/${id.slice(0, 2)}/${id}`)), id);
  assert.deepEqual(await tempFiles(server.dir), []);
});

Deno.test("listings taken while 32 uploads run never show a temp name or a partial object", async () => {
  await using server = await serveTestApp();
  await fetch(`${server.url}/?create=true`, { method: "POST" }).then((r) => r.body?.cancel());
  const blobs = Array.from(
    { length: 32 },
    (_, i) => pseudoRandomBytes(400_000 + i * 1000, 500 + i),
  );
  let uploading = true;
  const seen = new Set<string>();
  const violations: string[] = [];
  const lister = (async () => {
    let listings = 0;
    while (uploading || listings < 3) {
      for (const v2 of [false, true]) {
        const response = await fetch(`${server.url}/data/`, {
          headers: v2 ? { accept: "application/vnd.x.restic.rest.v2" } : {},
        });
        const entries = await response.json() as (string | { name: string; size: number })[];
        for (const entry of entries) {
          const name = typeof entry === "string" ? entry : entry.name;
          if (!isObjectName(name)) violations.push(`listed ${name}`);
          const blob = blobs.find((b) => sha256(b) === name);
          if (!blob) violations.push(`unknown ${name}`);
          if (typeof entry !== "string" && blob && entry.size !== blob.length) {
            violations.push(`${name} listed with ${entry.size} of ${blob.length} bytes`);
          }
          seen.add(name);
        }
      }
      listings++;
    }
    return listings;
  })();
  const statuses = await Promise.all(blobs.map(async (body) => {
    const response = await fetch(`${server.url}/data/${sha256(body)}`, { method: "POST", body });
    await response.body?.cancel();
    return response.status;
  }));
  uploading = false;
  const listings = await lister;
  assert.deepEqual(statuses, Array(32).fill(200));
  assert.deepEqual(violations, []);
  assert.ok(listings >= 3, `${listings} listings`);
  assert.equal(seen.size, 32, "the last listings see every object");
});

Deno.test("DELETE racing GET: every GET gets the whole object or 404, never a partial body", async () => {
  await using server = await serveTestApp();
  const body = pseudoRandomBytes(2_000_000, 77);
  const id = sha256(body);
  let whole = 0;
  let missing = 0;
  for (let round = 0; round < 20; round++) {
    await fetch(`${server.url}/data/${id}`, { method: "POST", body }).then((r) => r.body?.cancel());
    const gets = Array.from({ length: 8 }, async () => {
      const response = await fetch(`${server.url}/data/${id}`);
      const data = new Uint8Array(await response.arrayBuffer());
      if (response.status === 404) missing++;
      else {
        assert.equal(response.status, 200);
        assert.equal(sha256(data), id, "a GET that starts gets the whole object");
        whole++;
      }
    });
    const del = fetch(`${server.url}/data/${id}`, { method: "DELETE" }).then((
      r,
    ) => (r.body?.cancel(), r.status));
    await Promise.all([...gets, del]);
  }
  assert.equal(whole + missing, 160);
  assert.ok(whole > 0);
});
