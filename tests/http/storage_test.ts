import assert from "node:assert/strict";
import { serveTestApp } from "../helpers/app.ts";
import {
  eventually,
  listFiles,
  pseudoRandomBytes,
  sha256,
  tempDir,
  tempFiles,
} from "../helpers/files.ts";
import { rawRequest } from "../helpers/net.ts";
import { FsStorage } from "../../lib/storage/fs/storage.ts";
import { StorageError } from "../../lib/storage/types.ts";
import { REMOVAL_MARKER, TEMP_FILE_PREFIX } from "../../lib/base/restic.ts";

const BODY = pseudoRandomBytes(200_000, 7);
const ID = sha256(BODY);

function objectFiles(files: string[]): string[] {
  return files.filter((f) => /[0-9a-f]{64}$/.test(f));
}

Deno.test("save() stores nothing when the hash does not match", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const storage = new FsStorage(dir);
    await assert.rejects(
      storage.save(
        { repo: [], type: "data", name: sha256("other") },
        new Blob([BODY]).stream(),
        { verifyHash: true, contentLength: BODY.length },
      ),
      (err) => err instanceof StorageError && err.code === "HashMismatch",
    );
    assert.deepEqual(await listFiles(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("save() refuses a body shorter than its Content-Length, storing nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const storage = new FsStorage(dir);
    await assert.rejects(
      storage.save({ repo: ["r"], type: "keys", name: ID }, new Blob([BODY]).stream(), {
        verifyHash: true,
        contentLength: BODY.length + 1,
      }),
      (err) => err instanceof StorageError && err.code === "IncompleteBody",
    );
    assert.deepEqual(await listFiles(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("save() removes its temp file when the body stream errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const storage = new FsStorage(dir);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(BODY.subarray(0, 1000));
        controller.error(new Error("connection reset"));
      },
    });
    await assert.rejects(
      storage.save({ repo: [], type: "data", name: ID }, body, {
        verifyHash: true,
        contentLength: null,
      }),
      (err) => err instanceof StorageError && err.code === "IncompleteBody",
    );
    assert.deepEqual(await tempFiles(dir), []);
    assert.deepEqual(objectFiles(await listFiles(dir)), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scan() removes leftover temp files at any depth and keeps objects", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/a/b/data/00`, { recursive: true });
    await Deno.writeTextFile(`${dir}/a/b/data/00/${TEMP_FILE_PREFIX}x-1`, "partial");
    await Deno.writeTextFile(`${dir}/${TEMP_FILE_PREFIX}config-2`, "partial");
    await Deno.writeTextFile(`${dir}/a/b/data/00/${"0".repeat(64)}`, "kept");
    await Deno.writeTextFile(`${dir}/.htpasswd`, "kept");
    const report = await new FsStorage(dir).scan(() => {});
    assert.equal(report.removedTempFiles, 2);
    assert.deepEqual(await listFiles(dir), [".htpasswd", `a/b/data/00/${"0".repeat(64)}`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const HEAD_LINES = (length: number | null): string =>
  `POST /data/${ID} HTTP/1.1\r\nHost: x\r\n` +
  (length === null ? "Transfer-Encoding: chunked\r\n" : `Content-Length: ${length}\r\n`) + "\r\n";

const ABORTS: [string, (string | Uint8Array)[]][] = [
  ["a client that stops after the headers", [HEAD_LINES(BODY.length)]],
  ["a client that disconnects mid-body", [HEAD_LINES(BODY.length), BODY.subarray(0, 70_000)]],
  ["a client that stops one byte short", [
    HEAD_LINES(BODY.length),
    BODY.subarray(0, BODY.length - 1),
  ]],
  ["a chunked client that disconnects mid-body", [
    HEAD_LINES(null),
    `${(50_000).toString(16)}\r\n`,
    BODY.subarray(0, 50_000),
    "\r\n",
  ]],
];

for (const [label, parts] of ABORTS) {
  Deno.test(`POST: ${label} leaves nothing visible and no temp file`, async () => {
    await using server = await serveTestApp();
    await fetch(`${server.url}/?create=true`, { method: "POST" }).then((r) => r.body?.cancel());
    await rawRequest(server.port, parts, { closeAfterSend: true });
    assert.ok(await eventually(async () => (await tempFiles(server.dir)).length === 0));
    assert.deepEqual(objectFiles(await listFiles(server.dir)), []);
    // And the server keeps serving: a complete upload of the same object works.
    const response = await fetch(`${server.url}/data/${ID}`, { method: "POST", body: BODY });
    await response.body?.cancel();
    assert.equal(response.status, 200);
    const listing = await fetch(`${server.url}/data/`).then((r) => r.json());
    assert.deepEqual(listing, [ID]);
  });
}

Deno.test("POST: a body shorter than Content-Length, then a half-close, gets no 200", async () => {
  await using server = await serveTestApp();
  const reply = await rawRequest(server.port, [HEAD_LINES(BODY.length), BODY.subarray(0, 1000)], {
    waitMs: 1500,
  });
  assert.doesNotMatch(reply, /^HTTP\/1.1 200/);
  assert.ok(await eventually(async () => (await tempFiles(server.dir)).length === 0));
  assert.deepEqual(objectFiles(await listFiles(server.dir)), []);
});

Deno.test("POST: 16 concurrent uploads of the same object all succeed and leave one file", async () => {
  await using server = await serveTestApp();
  await fetch(`${server.url}/?create=true`, { method: "POST" }).then((r) => r.body?.cancel());
  const big = pseudoRandomBytes(2_000_000, 99);
  const id = sha256(big);
  const statuses = await Promise.all(
    Array.from({ length: 16 }, async () => {
      const response = await fetch(`${server.url}/data/${id}`, { method: "POST", body: big });
      await response.body?.cancel();
      return response.status;
    }),
  );
  assert.deepEqual(statuses, Array(16).fill(200));
  assert.deepEqual(objectFiles(await listFiles(server.dir)), [`data/${id.slice(0, 2)}/${id}`]);
  assert.deepEqual(await tempFiles(server.dir), []);
  const stored = await Deno.readFile(`${server.dir}/data/${id.slice(0, 2)}/${id}`);
  assert.equal(sha256(stored), id);
});

Deno.test("HEAD over a real socket carries the real Content-Length and no body", async () => {
  await using server = await serveTestApp();
  await fetch(`${server.url}/data/${ID}`, { method: "POST", body: BODY }).then((r) =>
    r.body?.cancel()
  );
  const reply = await rawRequest(server.port, [
    `HEAD /data/${ID} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  ]);
  assert.match(reply, /^HTTP\/1.1 200/);
  assert.match(reply, new RegExp(`\r\ncontent-length: ${BODY.length}\r\n`, "i"));
  assert.ok(reply.endsWith("\r\n\r\n"), "no body after the headers");
  const config = await rawRequest(server.port, [
    `HEAD /config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  ]);
  assert.match(config, /^HTTP\/1.1 404/);
});

Deno.test("GET of a blob is never compressed, even when the client accepts gzip", async () => {
  await using server = await serveTestApp();
  const compressible = new TextEncoder().encode("a".repeat(100_000));
  const id = sha256(compressible);
  await fetch(`${server.url}/data/${id}`, { method: "POST", body: compressible }).then((r) =>
    r.body?.cancel()
  );
  for (const range of [null, "bytes=0-49999"]) {
    const reply = await rawRequest(server.port, [
      `GET /data/${id} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, deflate, br\r\n` +
      (range ? `Range: ${range}\r\n` : "") + "Connection: close\r\n\r\n",
    ]);
    const [head, body] = [
      reply.slice(0, reply.indexOf("\r\n\r\n")),
      reply.slice(reply.indexOf("\r\n\r\n") + 4),
    ];
    assert.doesNotMatch(head, /content-encoding/i);
    assert.match(head, new RegExp(`content-length: ${range ? 50_000 : 100_000}`, "i"));
    assert.equal(body, "a".repeat(range ? 50_000 : 100_000));
  }
});

Deno.test("GET racing DELETE gets the whole object or 404, never a partial body", async () => {
  await using server = await serveTestApp();
  const big = pseudoRandomBytes(4_000_000, 5);
  const id = sha256(big);
  for (let round = 0; round < 5; round++) {
    await fetch(`${server.url}/data/${id}`, { method: "POST", body: big }).then((r) =>
      r.body?.cancel()
    );
    const results = await Promise.all([
      ...Array.from({ length: 4 }, async () => {
        const response = await fetch(`${server.url}/data/${id}`);
        const body = new Uint8Array(await response.arrayBuffer());
        return { status: response.status, ok: response.status === 404 || sha256(body) === id };
      }),
      fetch(`${server.url}/data/${id}`, { method: "DELETE" }).then(async (r) => {
        await r.body?.cancel();
        return { status: r.status, ok: r.status === 200 };
      }),
    ]);
    for (const result of results) assert.ok(result.ok, JSON.stringify(result));
  }
});

Deno.test("removeRepo() cut short: the repository lists as missing until the start-up scan or a create finishes it", async () => {
  await using dir = await tempDir();
  const root = dir.path;
  for (const repo of ["cut", "cut2"]) {
    await Deno.mkdir(`${root}/${repo}/data/00`, { recursive: true });
    await Deno.mkdir(`${root}/${repo}/keys`);
    await Deno.mkdir(`${root}/${repo}/nested/keys`, { recursive: true });
    await Deno.writeTextFile(`${root}/${repo}/data/00/${"0".repeat(64)}`, "old");
    await Deno.writeTextFile(`${root}/${repo}/keys/${"1".repeat(64)}`, "old key");
    await Deno.writeTextFile(`${root}/${repo}/nested/config`, "nested");
    await Deno.writeTextFile(`${root}/${repo}/${REMOVAL_MARKER}`, ""); // the config is gone
  }
  const storage = new FsStorage(root);
  assert.equal(await storage.repoExists(["cut"]), false);
  await assert.rejects(
    storage.list(["cut"], "keys", false),
    (e) => e instanceof StorageError && e.code === "NotFound",
  );
  await storage.createRepo(["cut2"]); // a create finishes the removal first
  assert.deepEqual(await listFiles(`${root}/cut2/data`), []);
  const report = await storage.scan(() => {});
  assert.equal(report.finishedRemovals, 1);
  assert.deepEqual(await listFiles(`${root}/cut`), ["nested/config"]);
  assert.equal(await storage.repoExists(["cut", "nested"]), true);
});
