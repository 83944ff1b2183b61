/**
 * The connection guard in front of Deno.serve: slow and silent request heads
 * are cut off, idle connections are closed, busy ones never; the handler sees
 * the client's own address; nothing reaches the handler around the guard;
 * HTTP/2 passes through.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { ConnectionGuard } from "../lib/front/guard.ts";
import {
  E2E,
  eventually,
  makeCertificate,
  memoryLogger,
  serveNoAuth,
  sha256,
  tempDir,
} from "./_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Handler = (request: Request, info: Deno.ServeHandlerInfo) => Promise<Response>;

/** Deno.serve on loopback behind a guard with short timeouts. */
async function guarded(handler: Handler, headerTimeoutMs = 1000, keepAliveTimeoutMs = 2000) {
  const log = memoryLogger();
  const guard = new ConnectionGuard({
    headerTimeoutMs,
    keepAliveTimeoutMs,
    maxConnections: 200,
    log,
  });
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: (addr) => resolve(addr as Deno.NetAddr) },
    guard.wrap(handler),
  );
  const inner = await listening;
  const front = await guard.start(
    { transport: "tcp", hostname: "127.0.0.1", port: 0 },
    false,
    inner,
  ) as Deno.NetAddr;
  return {
    guard,
    log,
    inner,
    port: front.port,
    url: `http://127.0.0.1:${front.port}`,
    async [Symbol.asyncDispose]() {
      await guard.closeAll();
      await server.shutdown();
    },
  };
}

/** Reads until the peer closes or `ms` pass; `closed` says which. */
async function readUntilClosed(conn: Deno.Conn, ms: number) {
  const buffer = new Uint8Array(64 * 1024);
  let text = "";
  let bytes = 0;
  const timer = setTimeout(() => conn.close(), ms);
  let closed = false;
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

const ok: Handler = () => Promise.resolve(new Response("ok"));

Deno.test({
  name: "guard: 100 slow heads get 408 and are closed while a normal client is served",
  ...E2E,
  async fn() {
    await using server = await guarded(ok);
    const slow = await Promise.all(
      Array.from({ length: 100 }, () => Deno.connect({ hostname: "127.0.0.1", port: server.port })),
    );
    const started = Date.now();
    // Each sends a byte every 200 ms, for longer than the 1 s header timeout.
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
      assert.match(result.text, /^HTTP\/1.1 408 Request Timeout\r\n/);
    }
    assert.ok(elapsed < 5000, `all cut off within ${elapsed} ms`);
    assert.ok(
      await eventually(() => server.guard.openConnections <= 1),
      `${server.guard.openConnections} connections still open`,
    );
    assert.ok(server.log.lines.some((l) => /request head incomplete after 1s/.test(l)));
  },
});

Deno.test({
  name: "guard: a connection that never sends a byte is closed after the header timeout",
  ...E2E,
  async fn() {
    await using server = await guarded(ok);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const started = Date.now();
    const result = await readUntilClosed(conn, 5000);
    const elapsed = Date.now() - started;
    assert.ok(result.closed, "closed by the server");
    assert.equal(result.text, "", "nothing is sent to a client that asked nothing");
    assert.ok(elapsed >= 900 && elapsed < 3000, `closed after ${elapsed} ms`);
  },
});

Deno.test({
  name: "guard: keep-alive connections are closed when idle, never while in use",
  ...E2E,
  async fn() {
    await using server = await guarded(ok, 1000, 1500);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const request = encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const buffer = new Uint8Array(4096);
    // Six requests 600 ms apart on one connection: 3.6 s, beyond both timeouts.
    for (let i = 0; i < 6; i++) {
      await conn.write(request);
      const n = await conn.read(buffer);
      assert.ok(n !== null, `request ${i} got an answer on the same connection`);
      assert.match(decoder.decode(buffer.subarray(0, n)), /^HTTP\/1.1 200 OK\r\n/);
      await new Promise((r) => setTimeout(r, 600));
    }
    const started = Date.now();
    const result = await readUntilClosed(conn, 5000);
    const elapsed = Date.now() - started;
    assert.ok(result.closed, "the idle connection was closed");
    assert.equal(result.text, "");
    assert.ok(elapsed >= 500 && elapsed < 3000, `closed ${elapsed} ms after going idle`);
  },
});

Deno.test({
  name: "guard: a slow but steady download outlives the idle timeout; a stalled reader does not",
  ...E2E,
  async fn() {
    const size = 32 << 20;
    const body = new Uint8Array(size).fill(7);
    await using server = await guarded(() => Promise.resolve(new Response(body)), 1000, 1500);

    const steady = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await steady.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const buffer = new Uint8Array(256 * 1024);
    let received = 0;
    const started = Date.now();
    // About 8 MiB/s: 4 s for the whole body, far beyond the 1.5 s idle timeout.
    while (received < size) {
      const n = await steady.read(buffer);
      assert.ok(n !== null, `the download stopped after ${received} bytes`);
      received += n;
      await new Promise((r) => setTimeout(r, 30));
    }
    assert.ok(Date.now() - started > 2500, "the download took longer than the idle timeout");
    steady.close();

    const stalled = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await stalled.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await stalled.read(buffer);
    await new Promise((r) => setTimeout(r, 3500)); // stop reading past the idle timeout
    const rest = await readUntilClosed(stalled, 10_000);
    assert.ok(rest.closed, "the stalled download was closed");
    assert.ok(rest.bytes < size - buffer.length, `got ${rest.bytes} more bytes of ${size}`);
  },
});

Deno.test({
  name: "guard: the handler sees the client's own address; a request around the guard is refused",
  ...E2E,
  async fn() {
    const seen: Deno.NetAddr[] = [];
    let calls = 0;
    await using server = await guarded((_request, info) => {
      calls++;
      seen.push(info.remoteAddr as Deno.NetAddr);
      return Promise.resolve(new Response("ok"));
    });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    await readUntilClosed(conn, 2000);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].port, (conn.localAddr as Deno.NetAddr).port, "the client's own port");

    const direct = await fetch(`http://127.0.0.1:${server.inner.port}/`);
    assert.equal(direct.status, 403);
    await direct.body?.cancel();
    assert.equal(calls, 1, "the handler never ran for the request around the guard");
  },
});

/** The local port of an established loopback connection to `port`, from the kernel's table. */
function loopbackPeerPort(port: number): number | null {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const line of Deno.readTextFileSync("/proc/net/tcp").split("\n").slice(1)) {
    const [, local, remote, state] = line.trim().split(/\s+/);
    if (state === "01" && remote === `0100007F:${hex}` && local?.startsWith("0100007F:")) {
      return parseInt(local.split(":")[1], 16);
    }
  }
  return null;
}

Deno.test({
  name:
    "guard: a local program on another loopback address with the guard's port is not taken for it",
  ignore: Deno.build.os !== "linux",
  ...E2E,
  async fn() {
    const seen: string[] = [];
    await using server = await guarded(
      (_request, info) => {
        seen.push((info.remoteAddr as Deno.NetAddr).hostname);
        return Promise.resolve(new Response("ok"));
      },
      5000,
      5000,
    );
    // A client through the guard keeps its connection open: the guard holds a loopback port.
    const client = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await client.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const reply = new Uint8Array(4096);
    assert.ok((await client.read(reply))! > 0);
    const guardPort = loopbackPeerPort(server.inner.port);
    assert.ok(guardPort, "the guard's connection to the HTTP server is there");
    const { default: net } = await import("node:net");
    const spoof = net.connect({
      host: "127.0.0.1",
      port: server.inner.port,
      localAddress: "127.0.0.2",
      localPort: guardPort,
    });
    const answer = await new Promise<string>((resolve, reject) => {
      let text = "";
      spoof.on(
        "connect",
        () => spoof.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      );
      spoof.on("data", (chunk: Uint8Array) => text += decoder.decode(chunk));
      spoof.on("end", () => resolve(text));
      spoof.on("error", reject);
    });
    client.close();
    assert.match(answer, /^HTTP\/1\.1 403/, answer);
    assert.deepEqual(seen, ["127.0.0.1"], "the handler ran only for the real client");
  },
});

/** One HTTP/2 request over a node:http2 session; resolves with status and body. */
function http2Get(session: http2.ClientHttp2Session, path: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const stream = session.request({ ":path": path });
    let status = 0;
    let body = "";
    stream.on("response", (headers) => status = Number(headers[":status"]));
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => body += chunk);
    stream.on("end", () => resolve({ status, body }));
    stream.on("error", reject);
  });
}

Deno.test({
  name: "guard: HTTP/2 with prior knowledge passes through to the real server",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    await using server = await serveNoAuth(data, "--header-timeout 1 --keepalive-timeout 2");
    assert.ok(server.stderr.some((l) => /connection guard: request heads within 1s/.test(l)));
    const session = http2.connect(server.url);
    try {
      const created = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ":method": "POST", ":path": "/?create=true" });
        stream.on("response", (headers) => resolve(Number(headers[":status"])));
        stream.on("error", reject);
        stream.end();
      });
      assert.equal(created, 200);
      // Several streams at once on one connection: each finds the connection.
      const together = await Promise.all(
        Array.from({ length: 8 }, () => http2Get(session, "/keys/")),
      );
      assert.deepEqual(together.map((r) => r.status), Array(8).fill(200));
      // Requests 1.2 s apart: beyond the header timeout, within the idle one.
      for (let i = 0; i < 3; i++) {
        const listing = await http2Get(session, "/keys/");
        assert.equal(listing.status, 200);
        assert.equal(listing.body, "[]");
        await new Promise((r) => setTimeout(r, 1200));
      }
      const closed = new Promise<number>((resolve) => {
        const started = Date.now();
        session.on("close", () => resolve(Date.now() - started));
      });
      const after = await Promise.race([
        closed,
        new Promise<number>((r) => setTimeout(() => r(-1), 6000)),
      ]);
      assert.ok(after >= 0, "the idle HTTP/2 connection was closed");
    } finally {
      session.destroy();
    }
  },
});

Deno.test({
  name: "guard: --header-timeout 0 serves without the guard and says so",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    await using server = await serveNoAuth(data, "--header-timeout 0");
    assert.ok(server.stderr.some((l) => /connection guard off \(--header-timeout 0\)/.test(l)));
    const response = await fetch(`${server.url}/?create=true`, { method: "POST" });
    await response.body?.cancel();
    assert.equal(response.status, 200);
  },
});

Deno.test({
  name: "guard: /metrics counts the connections it closed, by reason, and the open ones",
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
  name: "guard over TLS: a silent handshake and a slow head are closed; h2 and http/1.1 work",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    const { ca } = await makeCertificate(data.path);
    const caCerts = [await Deno.readTextFile(ca)];
    await using server = await serveNoAuth(data, "--tls --header-timeout 1");
    const port = Number(server.address.split(":").pop());

    // TCP only, never a TLS ClientHello.
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    const started = Date.now();
    const silentResult = await readUntilClosed(silent, 5000);
    assert.ok(silentResult.closed, "the silent connection was closed");
    assert.ok(Date.now() - started < 3500, `closed after ${Date.now() - started} ms`);

    // A finished handshake, then a head that never ends.
    const slow = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts });
    await slow.handshake();
    await slow.write(encoder.encode("GET /config HTTP/1.1\r\nHost: x\r\n"));
    const slowStarted = Date.now();
    const slowResult = await readUntilClosed(slow, 5000);
    // The guard passes TLS through unread, so it cannot write a 408 inside it.
    assert.ok(slowResult.closed, "the slow head over TLS was closed");
    assert.ok(Date.now() - slowStarted < 3500, `closed after ${Date.now() - slowStarted} ms`);

    for (const protocol of ["h2", "http/1.1"]) {
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port,
        caCerts,
        alpnProtocols: [protocol],
      });
      const { alpnProtocol } = await conn.handshake();
      assert.equal(alpnProtocol, protocol, "the guard offers both protocols");
      conn.close();
    }
    const client = Deno.createHttpClient({ caCerts });
    try {
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

Deno.test({
  name: "guard over TLS: a slow HTTP/2 download outlives the header timeout on a shared session",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    const { ca } = await makeCertificate(data.path);
    await using server = await serveNoAuth(data, "--tls --header-timeout 1 --keepalive-timeout 3");
    const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(ca)] });
    const body = new Uint8Array(4 << 20).fill(9);
    const id = sha256(body);
    try {
      for (const [path, init] of [["/?create=true", {}], [`/data/${id}`, { body }]] as const) {
        const response = await fetch(`https://${server.address}${path}`, {
          method: "POST",
          client,
          ...init,
        });
        await response.body?.cancel();
        assert.equal(response.status, 200, path);
      }
    } finally {
      client.close();
    }

    const session = http2.connect(`https://${server.address}`, {
      ca: await Deno.readTextFile(ca),
    });
    try {
      // Read slowly: the client sends WINDOW_UPDATE frames all along.
      const started = Date.now();
      const received = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ":path": `/data/${id}` });
        let bytes = 0;
        stream.on("data", (chunk: Uint8Array) => {
          bytes += chunk.length;
          stream.pause();
          setTimeout(() => stream.resume(), 15);
        });
        stream.on("end", () => resolve(bytes));
        stream.on("error", reject);
        stream.on("close", () => resolve(bytes));
        setTimeout(() => resolve(bytes), 20_000);
      });
      assert.equal(received, body.length, "the whole object arrived");
      assert.ok(Date.now() - started > 1500, "slower than the header timeout");
      const again = await http2Get(session, "/keys/");
      assert.equal(again.status, 200, "the session is still usable");
    } finally {
      session.destroy();
    }
  },
});
