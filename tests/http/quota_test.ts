import assert from "node:assert/strict";
import { Inventory, withInventory } from "../../lib/storage/inventory.ts";
import { FsStorage } from "../../lib/storage/fs/storage.ts";
import { withQuota } from "../../lib/storage/quota.ts";
import { StorageError } from "../../lib/storage/types.ts";
import { call } from "../helpers/app.ts";
import { listFiles, pseudoRandomBytes, sha256, tempDir, tempFiles } from "../helpers/files.ts";
import { appOn, mediumTest } from "../helpers/app.ts";
import { sharedStore, storeStorage } from "../helpers/object_store.ts";

/** An app whose budget holds `maxBytes` of objects in one repository (and its folders). */
async function quotaApp(dir: string, maxBytes: number) {
  const inventory = new Inventory();
  const fs = new FsStorage(dir);
  const storage = withQuota(
    withInventory(fs, inventory),
    inventory,
    () => [{ scope: [], maxBytes: maxBytes + fs.repoFootprintBytes }],
  );
  await storage.prepare();
  await storage.scan(() => {});
  const app = appOn(storage);
  return { app, inventory };
}

const blob = (n: number, seed: number): { body: Uint8Array<ArrayBuffer>; id: string } => {
  const body = pseudoRandomBytes(n, seed);
  return { body, id: sha256(body) };
};

Deno.test("quota: an upload whose Content-Length does not fit answers 507 and writes nothing", async () => {
  await using dir = await tempDir();
  const { app, inventory } = await quotaApp(dir.path, 10_000);
  await call(app, "POST", "/?create=true");
  const fits = blob(6_000, 1);
  assert.equal((await call(app, "POST", `/data/${fits.id}`, { body: fits.body })).status, 200);
  const before = await listFiles(dir.path);
  const tooBig = blob(5_000, 2);
  const response = await call(app, "POST", `/data/${tooBig.id}`, { body: tooBig.body });
  assert.equal(response.status, 507);
  assert.deepEqual(await listFiles(dir.path), before);
  assert.equal(inventory.bytesUnder([]), 6_000);
  const exact = blob(4_000, 3);
  assert.equal(
    (await call(app, "POST", `/data/${exact.id}`, { body: exact.body })).status,
    200,
    "fills it exactly",
  );
  assert.equal(inventory.bytesUnder([]), 10_000);
});

Deno.test("quota: a chunked upload that crosses the limit answers 507 and leaves no temp file", async () => {
  await using dir = await tempDir();
  const { app } = await quotaApp(dir.path, 100_000);
  const big = blob(300_000, 4);
  let offset = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= big.body.length) return controller.close();
      controller.enqueue(big.body.subarray(offset, offset + 16_384));
      offset += 16_384;
    },
  });
  const response = await app(
    new Request(`http://x/data/${big.id}`, { method: "POST", body: stream }),
  );
  await response.body?.cancel();
  assert.equal(response.status, 507);
  assert.deepEqual(await tempFiles(dir.path), []);
  assert.deepEqual((await listFiles(dir.path)).filter((f) => /[0-9a-f]{64}$/.test(f)), []);
});

Deno.test("quota: concurrent uploads cannot overshoot the budget together", async () => {
  await using dir = await tempDir();
  const { app, inventory } = await quotaApp(dir.path, 50_000);
  const blobs = Array.from({ length: 10 }, (_, i) => blob(10_000, 100 + i));
  const statuses = await Promise.all(
    blobs.map(({ body, id }) => call(app, "POST", `/data/${id}`, { body }).then((r) => r.status)),
  );
  assert.equal(statuses.filter((s) => s === 200).length, 5);
  assert.equal(statuses.filter((s) => s === 507).length, 5);
  assert.equal(inventory.bytesUnder([]), 50_000);
});

Deno.test("quota: usage follows deletes and is rebuilt at start-up", async () => {
  await using dir = await tempDir();
  const first = await quotaApp(dir.path, 20_000);
  const a = blob(8_000, 5);
  const b = blob(8_000, 6);
  await call(first.app, "POST", "/r/?create=true");
  await call(first.app, "POST", `/r/data/${a.id}`, { body: a.body });
  await call(first.app, "POST", `/r/index/${b.id}`, { body: b.body });
  await call(first.app, "POST", "/r/config", { body: "x".repeat(100) });
  assert.equal(first.inventory.bytesUnder([]), 16_100);
  assert.equal(first.inventory.bytesUnder(["r"]), 16_100);
  assert.equal((await call(first.app, "DELETE", `/r/data/${a.id}`)).status, 200);
  assert.equal(
    (await call(first.app, "DELETE", `/r/data/${a.id}`)).status,
    200,
    "again: nothing freed",
  );
  assert.equal(first.inventory.bytesUnder([]), 8_100);
  const c = blob(11_000, 7);
  assert.equal((await call(first.app, "POST", `/r/data/${c.id}`, { body: c.body })).status, 200);
  // A restart walks the tree again and finds the same usage.
  const second = await quotaApp(dir.path, 20_000);
  assert.equal(second.inventory.bytesUnder([]), 19_100);
  const d = blob(1_000, 8);
  assert.equal((await call(second.app, "POST", `/r/data/${d.id}`, { body: d.body })).status, 507);
});

Deno.test("withQuota() scopes policy limits to their folder", async () => {
  await using dir = await tempDir();
  const inventory = new Inventory();
  const fs = new FsStorage(dir.path);
  // Room for 1,000 bytes of objects, and the folders of two repositories.
  const maxBytes = 1_000 + 2 * fs.repoFootprintBytes;
  const storage = withQuota(
    withInventory(fs, inventory),
    inventory,
    (repo) => repo.length > 0 ? [{ scope: repo.slice(0, 1), maxBytes }] : [],
  );
  const save = (repo: string[], size: number, seed: number) => {
    const { body, id } = blob(size, seed);
    return storage.save({ repo, type: "data", name: id }, new Blob([body]).stream(), {
      verifyHash: true,
      contentLength: size,
    });
  };
  await save(["alice", "laptop"], 600, 1);
  await save(["bob"], 900, 2);
  await assert.rejects(
    save(["alice", "phone"], 600, 3),
    (e) => e instanceof StorageError && e.code === "QuotaExceeded",
  );
  await save(["alice", "phone"], 400, 4);
  assert.equal(inventory.bytesUnder(["alice"]), 1_000);
  assert.equal(inventory.bytesUnder([]), 1_900);
});

Deno.test("quota: identical uploads racing each other are counted once", async () => {
  await using dir = await tempDir();
  const { app, inventory } = await quotaApp(dir.path, 10_000_000);
  const { body, id } = blob(500_000, 21);
  const statuses = await Promise.all(
    Array.from(
      { length: 8 },
      () => call(app, "POST", `/data/${id}`, { body }).then((r) => r.status),
    ),
  );
  assert.deepEqual(statuses, Array(8).fill(200));
  assert.equal(inventory.bytesUnder([]), 500_000);
  assert.deepEqual(await tempFiles(dir.path), []);
});

for (const medium of ["fs", "s3"] as const) {
  mediumTest(medium)(
    `quota: a streamed re-upload of a stored object counts once; a wrong body over it changes nothing (${medium})`,
    async () => {
      await using dir = await tempDir();
      const opened = medium === "s3"
        ? await storeStorage(await sharedStore())
        : { storage: new FsStorage(dir.path), client: null };
      try {
        const inventory = new Inventory();
        const storage = withQuota(
          withInventory(opened.storage, inventory),
          inventory,
          () => [{ scope: [], maxBytes: 10_000_000 }],
        );
        await storage.prepare();
        await storage.scan(() => {});
        const app = appOn(storage);
        // Above the whole-body size, with its length: the streamed path, where the store's
        // existence check runs beside the upload.
        const { body, id } = blob(300_000, 31);
        const headers = { "content-length": String(body.length) };
        await call(app, "POST", "/?create=true");
        for (const attempt of ["first", "again"]) {
          const saved = await call(app, "POST", `/data/${id}`, { body, headers });
          assert.equal(saved.status, 200, attempt);
          assert.equal(inventory.bytesUnder([]), 300_000, attempt);
        }
        const wrong = pseudoRandomBytes(300_000, 32);
        assert.equal(
          (await call(app, "POST", `/data/${id}`, { body: wrong, headers })).status,
          400,
        );
        assert.equal(inventory.bytesUnder([]), 300_000);
        const got = await app(new Request(`http://x/data/${id}`));
        assert.equal(sha256(new Uint8Array(await got.arrayBuffer())), id);
      } finally {
        opened.client?.close();
      }
    },
  );
}

Deno.test("quota: each new repository counts its folders; one that does not fit is refused, across a restart", async () => {
  await using dir = await tempDir();
  const footprint = new FsStorage(dir.path).repoFootprintBytes;
  const budget = async () => {
    const inventory = new Inventory();
    const storage = withQuota(
      withInventory(new FsStorage(dir.path), inventory),
      inventory,
      () => [{ scope: [], maxBytes: 3 * footprint + 10_000 }],
    );
    await storage.prepare();
    await storage.scan(() => {});
    return appOn(storage);
  };
  let app = await budget();
  const statuses = [];
  for (let i = 0; i < 20; i++) {
    statuses.push((await call(app, "POST", `/r${i}/?create=true`)).status);
  }
  assert.deepEqual(statuses, [200, 200, 200, ...Array(17).fill(507)]);
  assert.equal((await call(app, "POST", "/r0/?create=true")).status, 200, "an existing one, again");
  const dirs = [...Deno.readDirSync(dir.path)].filter((e) => e.isDirectory).map((e) => e.name);
  assert.deepEqual(dirs.sort(), ["r0", "r1", "r2"], "nothing made for the refused ones");
  const uncreated = blob(100, 41);
  assert.equal(
    (await call(app, "POST", `/r9/keys/${uncreated.id}`, { body: uncreated.body })).status,
    507,
    "nor by storing into one nobody created",
  );
  app = await budget();
  assert.equal((await call(app, "POST", "/r3/?create=true")).status, 507, "after a restart too");
  assert.equal((await call(app, "DELETE", "/r0/")).status, 403, "(repository deletes are off)");
});

Deno.test("quota: on a spent budget, locks and index files still fit (by 1 MiB at most), deletes always", async () => {
  await using dir = await tempDir();
  const { app } = await quotaApp(dir.path, 10_000);
  await call(app, "POST", "/?create=true");
  const data = blob(10_000, 51);
  assert.equal((await call(app, "POST", `/data/${data.id}`, { body: data.body })).status, 200);
  const more = blob(10, 52);
  assert.equal((await call(app, "POST", `/snapshots/${more.id}`, { body: more.body })).status, 507);
  const lock = blob(300, 53);
  assert.equal((await call(app, "POST", `/locks/${lock.id}`, { body: lock.body })).status, 200);
  const index = blob(600_000, 54);
  assert.equal((await call(app, "POST", `/index/${index.id}`, { body: index.body })).status, 200);
  const tooMuch = blob(600_000, 55);
  assert.equal(
    (await call(app, "POST", `/index/${tooMuch.id}`, { body: tooMuch.body })).status,
    507,
    "the overdraft is bounded",
  );
  for (const path of [`/locks/${lock.id}`, `/data/${data.id}`, `/index/${index.id}`]) {
    assert.equal((await call(app, "DELETE", path)).status, 200, path);
  }
  assert.equal((await call(app, "POST", `/snapshots/${more.id}`, { body: more.body })).status, 200);
});
