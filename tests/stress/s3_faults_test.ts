/**
 * restic-rest on an object store that fails: stopped during a backup,
 * killed in the middle of an upload, sent a body that does not match its
 * name, wrong credentials or a missing bucket at start; and memory while
 * many large uploads stream to it.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { appOn } from "../helpers/app.ts";
import { eventually, pseudoRandomBytes, sha256, tempDir } from "../helpers/files.ts";
import { postWithLength, rawRequest } from "../helpers/net.ts";
import { E2E, serveOnStore, storeTest } from "../helpers/process.ts";
import { restic, resticOk } from "../helpers/restic.ts";
import { S3Storage } from "../../lib/storage/s3/storage.ts";
import { S3Client } from "../../lib/storage/s3/client.ts";
import { KeyLayout } from "../../lib/storage/s3/keys.ts";
import { S3Uploads } from "../../lib/storage/s3/upload.ts";
import { freshBucket, ownStore, storedKeys, storeEnv } from "../helpers/object_store.ts";

/**
 * Saves `size` pseudo-random bytes under a name they do not hash to, streamed
 * with their length, and expects `HashMismatch`.
 *
 * @returns The body that was sent.
 */
async function assertWrongBodyRefused(
  target: Pick<S3Uploads, "save">,
  size: number,
  seed: number,
): Promise<Uint8Array> {
  const body = pseudoRandomBytes(size, seed);
  await assert.rejects(
    target.save(
      { repo: ["r"], type: "data", name: sha256(`not body ${seed}`) },
      new Blob([body]).stream(),
      { verifyHash: true, contentLength: body.length },
    ),
    (err: Error & { code?: string }) => err.code === "HashMismatch",
  );
  return body;
}

/** A body of `mib` MiB sent a MiB at a time, every `delayMs`, with its SHA-256. */
function slowBody(mib: number, seed: number, delayMs: number) {
  const piece = pseudoRandomBytes(1 << 20, seed);
  const hash = createHash("sha256");
  for (let i = 0; i < mib; i++) {
    piece[0] = i;
    hash.update(piece);
  }
  let sent = 0;
  return {
    id: hash.digest("hex"),
    sent: () => sent,
    stream: () =>
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent === mib) return controller.close();
          if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
          const copy = piece.slice();
          copy[0] = sent++;
          controller.enqueue(copy);
        },
      }),
  };
}

/**
 * `restic check --read-data` until it passes. After a restart Swift lists
 * objects stored around its outage only once its updater has caught up, so
 * a check may first miss packs; each one it misses must be stored (HEAD 200),
 * and the listing must catch up within a minute.
 */
async function checkOnceListed(repo: string, server: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const result = await restic(repo, ["check", "--read-data"]);
    if (result.code === 0) {
      assert.match(result.stdout, /no errors were found/);
      return;
    }
    const output = result.stdout + result.stderr;
    const unlisted = [...output.matchAll(/pack ([0-9a-f]{64}): does not exist/g)].map((m) => m[1]);
    assert.ok(unlisted.length > 0, `only unlisted packs are tolerated:\n${output}`);
    for (const id of unlisted) {
      const head = await fetch(`${server}${new URL(repo.slice(5)).pathname}data/${id}`, {
        method: "HEAD",
      });
      assert.equal(head.status, 200, `pack ${id} is stored, only not listed yet`);
    }
    assert.ok(Date.now() < deadline, `the listing caught up within 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

storeTest(
  "the store stopped during a backup answers 503, never 404; restic finishes once it is back",
  async () => {
    await using work = await tempDir();
    const source = join(work.path, "source");
    await Deno.mkdir(source);
    for (let i = 0; i < 40; i++) {
      await Deno.writeFile(join(source, `f${i}`), pseudoRandomBytes(2 << 20, i + 9));
    }
    const store = await ownStore();
    const { url } = await freshBucket(store);
    await using server = await serveOnStore(store, url, ["--no-auth", "--debug"]);
    const repo = `rest:${server.url}/outage/`;
    await resticOk(repo, ["init"]);
    const from = server.stderr.length;
    // 80 MiB at 16 MiB/s: the store goes away after the first pack, with more to come
    const backup = resticOk(repo, ["backup", "--quiet", "--limit-upload", "16384", source]);
    const firstPack = () => server.stderr.slice(from).some((l) => /POST \/outage\/data\//.test(l));
    assert.ok(await eventually(firstPack, 30_000), "a first pack was stored");
    await store.stop();
    await new Promise((r) => setTimeout(r, 4000));
    await store.start();
    await backup;
    await checkOnceListed(repo, server.url);
    const during = server.stderr.slice(from).filter((l) => l.startsWith("debug: "));
    assert.ok(during.some((l) => / 503 \(/.test(l)), "503 while the store was away");
    assert.deepEqual(
      during.filter((l) => /^debug: \S+ \S+ 404( |$)/.test(l) && !/\/config /.test(l)),
      [],
      "never a 404 for data",
    );
  },
);

storeTest(
  "the store killed in the middle of an upload leaves no object, partial or whole",
  async () => {
    const store = await ownStore();
    const { url, client } = await freshBucket(store);
    await using server = await serveOnStore(store, url);
    await (await fetch(`${server.url}/r/?create=true`, { method: "POST" })).body?.cancel();
    const body = slowBody(128, 3, 15);
    const upload = postWithLength(`${server.url}/r/data/${body.id}`, body.stream(), 128 << 20);
    assert.ok(await eventually(() => body.sent() >= 30, 20_000), "30 MiB on their way");
    await store.stop();
    const status = await upload;
    assert.notEqual(status, 200, "the upload did not succeed");
    await store.start();
    const head = await fetch(`${server.url}/r/data/${body.id}`, { method: "HEAD" });
    assert.equal(head.status, 404);
    assert.deepEqual((await storedKeys(client, "")).filter((k) => k.includes(body.id)), []);
    const listing = await (await fetch(`${server.url}/r/data/`)).json();
    assert.deepEqual(listing, []);
  },
);

storeTest(
  "a body that does not hash to its name never becomes visible: whole, streamed, chunked",
  async () => {
    const store = await ownStore();
    const { url, client } = await freshBucket(store);
    await using server = await serveOnStore(store, url);
    await (await fetch(`${server.url}/?create=true`, { method: "POST" })).body?.cancel();
    const small = pseudoRandomBytes(1000, 1);
    const big = pseudoRandomBytes(16 << 20, 2);
    const wrongName = sha256("something else");
    const target = `${server.url}/data/${wrongName}`;
    const cases: [string, () => Promise<number>][] = [
      ["whole", () => postWithLength(target, small, small.length)],
      ["streamed", () => postWithLength(target, new Blob([big]).stream(), big.length)],
      ["chunked", async () => {
        const response = await fetch(target, { method: "POST", body: new Blob([big]).stream() });
        await response.body?.cancel();
        return response.status;
      }],
    ];
    for (const [label, send] of cases) {
      assert.equal(await send(), 400, label);
      assert.equal(
        (await fetch(`${server.url}/data/${wrongName}`, { method: "HEAD" })).status,
        404,
        label,
      );
    }
    assert.deepEqual((await storedKeys(client, "")).filter((k) => k.includes(wrongName)), []);
    const right = await fetch(`${server.url}/data/${sha256(big)}`, {
      method: "POST",
      body: new Blob([big]).stream(),
    });
    await right.body?.cancel();
    assert.equal(right.status, 200, "a chunked upload with the right content is stored");
  },
);

storeTest(
  "the start-up probe sees the store check payload hashes; a wrong body then stops at the store",
  async () => {
    const store = await ownStore();
    const { client } = await freshBucket(store, "p/");
    const storage = new S3Storage(client, "p/");
    assert.deepEqual(await storage.prepare(), [
      "uploads: the store refuses a body that does not hash to its name (signed payload hash)",
    ]);
    const { S3Ops } = await import("../../lib/storage/s3/ops.ts");
    const everyKey: string[] = [];
    for await (const page of new S3Ops(client).list("")) {
      everyKey.push(...page.keys.map((k) => k.key));
    }
    assert.deepEqual(everyKey, [], "the probe body was refused: nothing, not even it, is stored");
    await assertWrongBodyRefused(storage, 16 << 20, 18);
    assert.deepEqual(await storedKeys(client, "p/"), [], "the store refused the wrong body");
    client.close();
  },
);

storeTest(
  "a store that would not check the payload hash still never gets a wrong body: the PUT is abandoned",
  async () => {
    const store = await ownStore();
    const { client } = await freshBucket(store, "p/");
    const storage = new S3Storage(client, "p/", { signPayload: false });
    await storage.prepare();
    const body = pseudoRandomBytes(16 << 20, 8);
    const wrong = sha256("not this body");
    await assert.rejects(
      storage.save({ repo: ["r"], type: "data", name: wrong }, new Blob([body]).stream(), {
        verifyHash: true,
        contentLength: body.length,
      }),
      (err) => err instanceof Error && "code" in err && err.code === "HashMismatch",
    );
    assert.deepEqual(await storedKeys(client, "p/"), [], "nothing was stored");
    const saved = await storage.save(
      { repo: ["r"], type: "data", name: sha256(body) },
      new Blob([body]).stream(),
      { verifyHash: true, contentLength: body.length },
    );
    assert.equal(saved.created, true);
    client.close();
  },
);

storeTest(
  "wrong credentials, a missing bucket and an unreachable store are refused at start in one line",
  async () => {
    const store = await ownStore();
    const { url } = await freshBucket(store);
    const env = { ...Deno.env.toObject(), ...storeEnv(store) };
    const cases: [string, string, Record<string, string>, RegExp][] = [
      ["wrong secret", url, { AWS_SECRET_ACCESS_KEY: "not-the-secret" }, /refused the credentials/],
      ["missing bucket", `${url}-missing`, {}, /no such bucket/],
      ["nothing listening", "s3:http://127.0.0.1:1/bucket", {}, /Cannot reach the object store/],
      ["no credentials", url, {
        AWS_ACCESS_KEY_ID: "",
        AWS_SECRET_ACCESS_KEY: "",
        HOME: "/nonexistent",
      }, /AWS_ACCESS_KEY_ID/],
    ];
    for (const [label, location, extra, expected] of cases) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../../main.ts", import.meta.url).pathname,
          "serve",
          location,
          "--no-auth",
          "--listen",
          "127.0.0.1:0",
        ],
        env: { ...env, ...extra },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr).trim();
      assert.equal(out.code, 2, `${label}: ${stderr}`);
      assert.match(stderr, expected, label);
      assert.equal(stderr.split("\n").filter((l) => l.startsWith("restic-rest:")).length, 1, label);
      for (const secret of [store.secretKey, "not-the-secret", store.accessKey]) {
        assert.ok(!stderr.includes(secret), `${label}: no credential in the output`);
      }
    }
  },
);

storeTest("eight 128 MiB uploads at once to the store: memory stays flat", async () => {
  const store = await ownStore();
  const { url } = await freshBucket(store);
  await using server = await serveOnStore(store, url, [
    "--no-auth",
    "--prometheus",
    "--prometheus-no-auth",
  ]);
  const pid = server.process.pid;
  const status = async (field: string) =>
    Number(
      new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(await Deno.readTextFile(`/proc/${pid}/status`))
        ?.[1],
    );
  await (await fetch(`${server.url}/?create=true`, { method: "POST" })).body?.cancel();
  const idle = await status("VmRSS");
  await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");
  const bodies = Array.from({ length: 8 }, (_, i) => slowBody(128, 40 + i, 0));
  const statuses = await Promise.all(bodies.map(async (body, i) => {
    const target = `${server.url}/data/${body.id}`;
    if (i < 7) return await postWithLength(target, body.stream(), 128 << 20);
    // one chunked (fetch sends streams so): spooled to a file, not held
    const response = await fetch(target, { method: "POST", body: body.stream() });
    await response.body?.cancel();
    return response.status;
  }));
  assert.deepEqual(statuses, Array(8).fill(200));
  const peak = await status("VmHWM");
  const rise = (peak - idle) / 1024;
  assert.ok(rise <= 48, `peak RSS rose ${rise.toFixed(1)} MiB over idle`);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.ok(
    !metrics.includes(store.secretKey) && !metrics.includes(store.accessKey),
    "no credential in /metrics",
  );
});

/**
 * A store that answers every GET with a 100,000-byte `Content-Length` and
 * stops after 40,000 bytes (HEAD: the head alone). Not an object store: a
 * fault no real store can be made to show on demand.
 */
function shortAnsweringStore(): { endpoint: string; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buffer = new Uint8Array(65536);
        let head = "";
        while (!head.includes("\r\n\r\n")) {
          const n = await conn.read(buffer).catch(() => null);
          if (n === null) return conn.close();
          head += new TextDecoder().decode(buffer.subarray(0, n));
        }
        const answer = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n";
        await conn.write(new TextEncoder().encode(answer)).catch(() => 0);
        if (!head.startsWith("HEAD")) await conn.write(new Uint8Array(40_000)).catch(() => 0);
        conn.close();
      })();
    }
  })().catch(() => {});
  const port = (listener.addr as Deno.NetAddr).port;
  return { endpoint: `http://127.0.0.1:${port}`, close: () => listener.close() };
}

Deno.test({
  ...E2E,
  name:
    "a store that stops in the middle of an answer breaks the client's download, whole or ranged",
  async fn() {
    const store = shortAnsweringStore();
    const client = new S3Client({ endpoint: store.endpoint, bucket: "b", prefix: "" }, {
      accessKeyId: "k",
      secretAccessKey: "s",
      region: "us-east-1",
    });
    const app = appOn(new S3Storage(client, ""));
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app);
    try {
      const id = "ab".repeat(32);
      for (const range of ["", "Range: bytes=0-99999\r\n"]) {
        const answer = await rawRequest(server.addr.port, [
          `GET /r/data/${id} HTTP/1.1\r\nHost: x\r\n${range}Connection: close\r\n\r\n`,
        ], { waitMs: 5000 });
        const [head, ...rest] = answer.split("\r\n\r\n");
        const body = rest.join("\r\n\r\n");
        assert.match(head, /^HTTP\/1\.1 20[06]/, head);
        assert.match(head, /content-length: 100000/i);
        assert.ok(body.length < 100_000, `${range || "whole"}: ${body.length} bytes, not all`);
      }
    } finally {
      await server.shutdown();
      client.close();
      store.close();
    }
  },
});

Deno.test("a streamed upload holds its last byte back until the body checks out", async () => {
  let sent = 0;
  let signed = "";
  const ops = {
    head: () => Promise.resolve(null),
    put: async (_key: string, body: unknown, options: { payloadHash: string }) => {
      signed = options.payloadHash;
      await (body as (write: (part: Uint8Array) => Promise<void>) => Promise<void>)((part) => {
        sent += part.length;
        return Promise.resolve();
      });
    },
  };
  // A store that ignores the payload hash: only our own check stands between it and a wrong body.
  const uploads = new S3Uploads(ops as never, new KeyLayout(""), {} as never, false);
  const body = pseudoRandomBytes(1 << 20, 21);
  const save = (name: string) =>
    uploads.save({ repo: ["r"], type: "data", name }, new Blob([body]).stream(), {
      verifyHash: true,
      contentLength: body.length,
    });
  await assert.rejects(
    save(sha256("another body")),
    (err: Error & { code?: string }) => err.code === "HashMismatch",
  );
  assert.equal(signed, "UNSIGNED-PAYLOAD");
  assert.equal(sent, body.length - 1, "everything but the last byte: the store cannot complete it");
  sent = 0;
  assert.deepEqual(await save(sha256(body)), { created: true, size: body.length });
  assert.equal(sent, body.length, "a right body is sent whole");
});

Deno.test("a store that stores the probe's wrong body: the probe is deleted, every upload hashed here", async () => {
  const stored = new Map<string, number>();
  let sent = 0;
  const ops = {
    head: () => Promise.resolve(null),
    put: async (key: string, body: unknown) => {
      sent = 0;
      await (body as (write: (part: Uint8Array) => Promise<void>) => Promise<void>)((part) => {
        sent += part.length;
        return Promise.resolve();
      });
      stored.set(key, sent);
    },
    delete: (key: string) => Promise.resolve(void stored.delete(key)),
  };
  const uploads = new S3Uploads(ops as never, new KeyLayout("p/"), {} as never);
  assert.equal(await uploads.probeStoreCheck(), false);
  assert.deepEqual([...stored.keys()], [], "the stored probe was deleted");
  const body = await assertWrongBodyRefused(uploads, 1 << 20, 22);
  assert.equal(sent, body.length - 1, "the wrong body was abandoned before its last byte");
  assert.deepEqual([...stored.keys()], []);
});
