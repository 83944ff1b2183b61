/**
 * Slow clients: headers sent a byte a second are cut off after
 * --header-timeout (the connection is closed) and a stalled upload after
 * --idle-timeout (408), while a slow but steady 128 MiB upload completes.
 */
import assert from "node:assert/strict";
import { eventually, pseudoRandomBytes, sha256, tempDir, tempFiles } from "../helpers/files.ts";
import { E2E, serveNoAuth } from "../helpers/process.ts";

Deno.test({
  name: "slow headers and a stalled upload are cut off while a slow 128 MiB upload completes",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    await using server = await serveNoAuth(data, "--idle-timeout 2 --header-timeout 2 --debug");
    const port = Number(server.address.split(":").pop());

    // 128 MiB in 1 MiB pieces, one every 40 ms: slow, but never idle for 2 s.
    const piece = pseudoRandomBytes(1 << 20, 128);
    const total = 128;
    const hash = (await import("node:crypto")).createHash("sha256");
    for (let i = 0; i < total; i++) {
      piece[0] = i;
      hash.update(piece);
    }
    const id = hash.digest("hex");
    let sent = 0;
    const slow = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === total) return controller.close();
        await new Promise((r) => setTimeout(r, 40));
        const copy = piece.slice();
        copy[0] = sent++;
        controller.enqueue(copy);
      },
    });
    const slowUpload = fetch(`${server.url}/data/${id}`, {
      method: "POST",
      body: slow,
      headers: { "content-length": String(total << 20) },
    });

    // A client that sends its request head one byte a second.
    const slowHead = (async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const started = Date.now();
      const head = new TextEncoder().encode(
        "GET /config HTTP/1.1\r\nHost: x\r\nX-Pad: 0123456789\r\n\r\n",
      );
      const reply = new Uint8Array(1024);
      const reading = conn.read(reply).catch(() => null);
      let sentBytes = 0;
      for (const byte of head) {
        const done = await Promise.race([
          reading.then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), 1000)),
        ]);
        if (done) break;
        await conn.write(Uint8Array.of(byte)).catch(() => {});
        sentBytes++;
      }
      const read = await reading;
      conn.close();
      return {
        cutAfter: Date.now() - started,
        sentBytes,
        reply: typeof read === "number" ? new TextDecoder().decode(reply.subarray(0, read)) : "",
      };
    })();

    // A client that sends half of its body and then nothing.
    const stalled = await Deno.connect({ hostname: "127.0.0.1", port });
    const stalledId = sha256("never finished");
    const started = Date.now();
    await stalled.write(new TextEncoder().encode(
      `POST /data/${stalledId} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n` +
        "y".repeat(50_000),
    ));
    const reply = new Uint8Array(1024);
    const read = await Promise.race([
      stalled.read(reply).catch(() => null),
      new Promise<"waiting">((r) => setTimeout(() => r("waiting"), 10_000)),
    ]);
    const cutAfter = Date.now() - started;
    assert.notEqual(read, "waiting", "the stalled client was not cut off within 10 s");
    assert.ok(cutAfter >= 1_500 && cutAfter < 6_000, `cut off after ${cutAfter} ms`);
    if (typeof read === "number") {
      assert.match(new TextDecoder().decode(reply.subarray(0, read)), /^HTTP\/1.1 408/);
    }
    stalled.close();
    assert.ok(
      await eventually(async () => (await tempFiles(data.path)).length <= 1),
      "the stalled temp file is gone",
    );

    const slowHeadResult = await slowHead;
    assert.ok(
      slowHeadResult.sentBytes < 8,
      `the slow head was cut off after ${slowHeadResult.sentBytes} bytes`,
    );
    assert.ok(
      slowHeadResult.cutAfter >= 1_500 && slowHeadResult.cutAfter < 6_000,
      `slow head cut off after ${slowHeadResult.cutAfter} ms`,
    );
    // The server closes it: nothing of the half-sent request reaches the app.
    assert.equal(slowHeadResult.reply, "");

    const response = await slowUpload;
    await response.body?.cancel();
    assert.equal(response.status, 200, "the slow but steady upload completed");
    assert.ok(sent === total);
    const stored = await Deno.stat(`${data.path}/data/${id.slice(0, 2)}/${id}`);
    assert.equal(stored.size, total << 20);
    assert.deepEqual(await tempFiles(data.path), []);
    assert.ok(
      server.stderr.some((l) => /408 \(no body bytes for 2 s\)/.test(l)),
      "the reason is logged",
    );
    assert.ok(
      server.stderr.some((l) =>
        /closed a connection from 127\.0\.0\.1: no request within 2s/.test(l)
      ),
      "the slow head is logged",
    );
  },
});
