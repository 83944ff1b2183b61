/**
 * The connection front: Deno's HTTP server on connections the server
 * accepts itself. Slow and silent heads are closed, idle connections too,
 * busy ones never; the handler sees the client's own address; no more than
 * --max-connections are open at once.
 */
import assert from "node:assert/strict";
import { ConnectionFront } from "../../lib/front/connections.ts";
import { connectionServer } from "../../lib/front/deno_internal.ts";
import type { FrontHandler } from "../../lib/front/types.ts";
import { memoryLogger } from "../helpers/app.ts";
import { eventually, tempDir } from "../helpers/files.ts";
import { E2E, serveNoAuth } from "../helpers/process.ts";
import { makeCertificate } from "../helpers/tls.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A front on a free loopback port with short timeouts. */
async function front(
  handler: FrontHandler,
  options: { headerTimeoutMs?: number; keepAliveTimeoutMs?: number; maxConnections?: number } = {},
) {
  const log = memoryLogger();
  const serveConnection = connectionServer();
  assert.ok(serveConnection, "this Deno serves HTTP on an accepted connection");
  const f = new ConnectionFront({
    listen: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
    tls: null,
    headerTimeoutMs: options.headerTimeoutMs ?? 1000,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 2000,
    maxConnections: options.maxConnections ?? 200,
    log,
    onError: () => new Response("error", { status: 500 }),
  }, serveConnection);
  const address = await f.serve(handler) as Deno.NetAddr;
  return {
    front: f,
    log,
    port: address.port,
    url: `http://127.0.0.1:${address.port}`,
    async [Symbol.asyncDispose]() {
      await f.drain();
      await f.close();
    },
  };
}

/** Reads until the peer closes or `ms` pass. */
async function readUntilClosed(conn: Deno.Conn, ms: number) {
  const buffer = new Uint8Array(64 * 1024);
  let text = "";
  let bytes = 0;
  let closed = false;
  const timer = setTimeout(() => conn.close(), ms);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) {
        closed = true;
        break;
      }
      bytes += n;
      if (text.length < 4096) text += decoder.decode(buffer.subarray(0, n));
    }
  } catch (err) {
    closed = !(err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted);
  } finally {
    clearTimeout(timer);
  }
  try {
    conn.close();
  } catch { /* closed */ }
  return { text, bytes, closed };
}

const ok: FrontHandler = () => new Response("ok");

Deno.test({
  name: "connection front: 100 slow heads are closed while a normal client is served",
  ...E2E,
  async fn() {
    let calls = 0;
    await using server = await front(() => {
      calls++;
      return new Response("ok");
    });
    const slow = await Promise.all(
      Array.from({ length: 100 }, () => Deno.connect({ hostname: "127.0.0.1", port: server.port })),
    );
    const started = Date.now();
    const dripping = slow.map(async (conn) => {
      for (const byte of encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n")) {
        try {
          await conn.write(Uint8Array.of(byte));
        } catch {
          return; // cut off
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    });
    const replies = slow.map((conn) => readUntilClosed(conn, 8000));
    for (let i = 0; i < 50; i++) {
      const response = await fetch(server.url);
      assert.equal(await response.text(), "ok");
    }
    const results = await Promise.all(replies);
    const elapsed = Date.now() - started;
    await Promise.all(dripping);
    for (const result of results) {
      assert.ok(result.closed, "the slow connection was closed by the server");
      assert.equal(result.text, "", "nothing answered to a head that never completed");
    }
    assert.equal(calls, 50, "no slow head reached the handler");
    assert.ok(elapsed < 5000, `all cut off within ${elapsed} ms`);
    assert.ok(await eventually(() => server.front.connections.open() <= 1));
    assert.equal(server.front.connections.closed().header_timeout, 100);
    assert.ok(server.log.lines.some((l) => /no request within 1s/.test(l)));
  },
});

Deno.test({
  name: "connection front: a connection that never sends a byte is closed after the header timeout",
  ...E2E,
  async fn() {
    await using server = await front(ok);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const started = Date.now();
    const result = await readUntilClosed(conn, 5000);
    const elapsed = Date.now() - started;
    assert.ok(result.closed, "closed by the server");
    assert.equal(result.text, "");
    assert.ok(elapsed >= 900 && elapsed < 3000, `closed after ${elapsed} ms`);
  },
});

Deno.test({
  name: "connection front: keep-alive connections are closed when idle, never while in use",
  ...E2E,
  async fn() {
    await using server = await front(ok, { headerTimeoutMs: 1000, keepAliveTimeoutMs: 1500 });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const buffer = new Uint8Array(4096);
    // Six requests 600 ms apart on one connection: 3.6 s, beyond both timeouts.
    for (let i = 0; i < 6; i++) {
      await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      const n = await conn.read(buffer);
      assert.ok(n !== null, `request ${i} got an answer on the same connection`);
      assert.match(decoder.decode(buffer.subarray(0, n)), /^HTTP\/1.1 200 OK\r\n/);
      await new Promise((r) => setTimeout(r, 600));
    }
    const started = Date.now();
    const result = await readUntilClosed(conn, 5000);
    const elapsed = Date.now() - started;
    assert.ok(result.closed, "the idle connection was closed");
    assert.ok(elapsed >= 500 && elapsed < 3000, `closed ${elapsed} ms after going idle`);
    assert.equal(server.front.connections.closed().idle_timeout, 1);
  },
});

Deno.test({
  name: "connection front: a slow download outlives both timeouts while its response is sent",
  ...E2E,
  async fn() {
    const size = 32 << 20;
    const chunk = new Uint8Array(256 << 10).fill(7);
    // A streamed body, as the server sends objects: read as the client takes it.
    const stream = () => {
      let left = size;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(chunk.slice(0, Math.min(chunk.length, left)));
          left -= chunk.length;
          if (left <= 0) controller.close();
        },
      }, { highWaterMark: 0 });
    };
    await using server = await front(() => new Response(stream()), {
      headerTimeoutMs: 1000,
      keepAliveTimeoutMs: 1500,
    });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const buffer = new Uint8Array(256 * 1024);
    let received = 0;
    const started = Date.now();
    // About 8 MiB/s: 4 s for the whole body, far beyond the 1.5 s idle timeout.
    while (received < size) {
      const n = await conn.read(buffer);
      assert.ok(n !== null, `the download stopped after ${received} bytes`);
      received += n;
      await new Promise((r) => setTimeout(r, 30));
    }
    assert.ok(Date.now() - started > 2500, "the download took longer than the idle timeout");
    conn.close();
  },
});

Deno.test({
  name: "connection front: the handler sees the client's own address",
  ...E2E,
  async fn() {
    const seen: Deno.NetAddr[] = [];
    await using server = await front((_request, info) => {
      seen.push(info.remoteAddr as Deno.NetAddr);
      return new Response("ok");
    });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    await readUntilClosed(conn, 2000);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].port, (conn.localAddr as Deno.NetAddr).port);
  },
});

Deno.test({
  name: "connection front: beyond --max-connections new clients wait, then are served",
  ...E2E,
  async fn() {
    await using server = await front(ok, { headerTimeoutMs: 1000, maxConnections: 5 });
    const silent = await Promise.all(
      Array.from({ length: 10 }, () => Deno.connect({ hostname: "127.0.0.1", port: server.port })),
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(server.front.connections.open(), 5, "five open, the rest in the kernel's queue");
    const started = Date.now();
    const response = await fetch(server.url);
    assert.equal(await response.text(), "ok");
    assert.ok(Date.now() - started >= 900, "served once the silent ones were cut off");
    assert.ok(server.log.lines.some((l) => /5 connections open \(--max-connections\)/.test(l)));
    for (const conn of silent) {
      try {
        conn.close();
      } catch { /* closed by the server */ }
    }
  },
});

Deno.test({
  name: "connection front: drain waits for a response under way and refuses new connections",
  ...E2E,
  async fn() {
    const { promise: release, resolve } = Promise.withResolvers<void>();
    const server = await front(async () => {
      await release;
      return new Response("late");
    });
    const pending = fetch(server.url).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 200));
    let drained = false;
    const draining = server.front.drain().then(() => drained = true);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(drained, false, "the running response holds the drain");
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    resolve();
    assert.equal(await pending, "late");
    await draining;
    await server.front.close();
  },
});

Deno.test({
  name: "connection front: --header-timeout 0 and --keepalive-timeout 0 keep their connections",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    await using server = await serveNoAuth(data, "--header-timeout 0 --keepalive-timeout 0");
    assert.ok(
      server.stderr.some((l) =>
        /request heads without a time limit, idle connections kept/.test(l)
      ),
    );
    const response = await fetch(`${server.url}/?create=true`, { method: "POST" });
    await response.body?.cancel();
    assert.equal(response.status, 200);
  },
});

Deno.test({
  name: "connection front: /metrics counts the connections it closed, by reason, and the open ones",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    await using server = await serveNoAuth(
      data,
      "--prometheus --header-timeout 1 --keepalive-timeout 1",
    );
    const port = Number(server.address.split(":").pop());
    const slow = await Deno.connect({ hostname: "127.0.0.1", port });
    await slow.write(encoder.encode("GET /conf"));
    const idle = await Deno.connect({ hostname: "127.0.0.1", port });
    await idle.write(encoder.encode("GET /config HTTP/1.1\r\nHost: x\r\n\r\n"));
    const [slowResult, idleResult] = await Promise.all([
      readUntilClosed(slow, 5000),
      readUntilClosed(idle, 5000),
    ]);
    assert.ok(slowResult.closed && idleResult.closed, "both were closed by the server");
    assert.match(idleResult.text, /^HTTP\/1.1 404/, "the idle one got its answer first");

    const text = await (await fetch(`${server.url}/metrics`)).text();
    const sample = (name: string) => {
      const match = new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\d+)$`, "m").exec(text);
      assert.ok(match, `${name} in:\n${text}`);
      return Number(match[1]);
    };
    assert.equal(sample('restic_rest_connections_closed_total{reason="header_timeout"}'), 1);
    assert.equal(sample('restic_rest_connections_closed_total{reason="idle_timeout"}'), 1);
    assert.ok(sample("restic_rest_open_connections") >= 1, "the scrape's own connection");
  },
});

Deno.test({
  name:
    "connection front over TLS: a slow head is closed, a silent handshake holds its place until it ends; h2 and http/1.1 work",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    const { ca } = await makeCertificate(data.path);
    const caCerts = [await Deno.readTextFile(ca)];
    await using server = await serveNoAuth(
      data,
      "--tls --header-timeout 1 --max-connections 2 --prometheus --prometheus-no-auth",
    );
    const port = Number(server.address.split(":").pop());
    const client = Deno.createHttpClient({ caCerts });
    try {
      // A finished handshake, then a head that never ends.
      const slow = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts });
      await slow.handshake();
      await slow.write(encoder.encode("GET /config HTTP/1.1\r\nHost: x\r\n"));
      const slowStarted = Date.now();
      const slowResult = await readUntilClosed(slow, 5000);
      assert.ok(slowResult.closed, "the slow head over TLS was closed");
      assert.ok(Date.now() - slowStarted < 3500, `closed after ${Date.now() - slowStarted} ms`);

      // TCP only, no ClientHello yet: Deno cannot close it, so it keeps its place...
      const silent = await Deno.connect({ hostname: "127.0.0.1", port });
      await new Promise((r) => setTimeout(r, 1800));
      const metrics = await (await fetch(`https://${server.address}/metrics`, { client })).text();
      assert.match(metrics, /restic_rest_open_connections 2/, "the silent one and the scrape");
      // ...and when its handshake comes late, the connection is closed unserved.
      const late = await Deno.startTls(silent, { hostname: "127.0.0.1", caCerts });
      await late.handshake();
      await late.write(encoder.encode("GET /config HTTP/1.1\r\nHost: x\r\n\r\n"));
      const lateResult = await readUntilClosed(late, 3000);
      assert.ok(lateResult.closed && lateResult.bytes === 0, `closed unserved: ${lateResult.text}`);

      for (const protocol of ["h2", "http/1.1"]) {
        const conn = await Deno.connectTls({
          hostname: "127.0.0.1",
          port,
          caCerts,
          alpnProtocols: [protocol],
        });
        const { alpnProtocol } = await conn.handshake();
        assert.equal(alpnProtocol, protocol, "both protocols are offered");
        conn.close();
      }
      const response = await fetch(`https://${server.address}/?create=true`, {
        method: "POST",
        client,
      });
      await response.body?.cancel();
      assert.equal(response.status, 200);
    } finally {
      client.close();
    }
  },
});
