/** Reading the ALPN protocols from real ClientHellos (rustls and OpenSSL). */
import assert from "node:assert/strict";
import { offeredProtocols } from "../lib/front/tls_hello.ts";

/** The first bytes a TLS client sends to a listener that never answers. */
async function captureHello(connect: (port: number) => Promise<unknown>): Promise<Uint8Array> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = connect(listener.addr.port).catch(() => {});
  const conn = await listener.accept();
  let bytes = new Uint8Array(0);
  const buffer = new Uint8Array(16 * 1024);
  // Read until the records announced so far are complete.
  while (offeredProtocols(bytes) === null) {
    const n = await conn.read(buffer);
    if (n === null) break;
    const joined = new Uint8Array(bytes.length + n);
    joined.set(bytes);
    joined.set(buffer.subarray(0, n), bytes.length);
    bytes = joined;
  }
  conn.close();
  listener.close();
  await client;
  return bytes;
}

function rustlsHello(alpnProtocols?: string[]): Promise<Uint8Array> {
  return captureHello(async (port) => {
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, alpnProtocols });
    try {
      await conn.handshake();
    } finally {
      conn.close();
    }
  });
}

function opensslHello(alpn: string): Promise<Uint8Array> {
  return captureHello(async (port) => {
    const args = ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost"];
    await new Deno.Command("openssl", {
      args: alpn ? [...args, "-alpn", alpn] : args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
  });
}

Deno.test("offeredProtocols() reads rustls ClientHellos", async () => {
  assert.deepEqual(offeredProtocols(await rustlsHello(["h2", "http/1.1"])), ["h2", "http/1.1"]);
  assert.deepEqual(offeredProtocols(await rustlsHello(["http/1.1"])), ["http/1.1"]);
  assert.deepEqual(offeredProtocols(await rustlsHello()), []);
});

Deno.test("offeredProtocols() reads OpenSSL ClientHellos", async () => {
  assert.deepEqual(offeredProtocols(await opensslHello("h2,http/1.1")), ["h2", "http/1.1"]);
  assert.deepEqual(offeredProtocols(await opensslHello("")), []);
});

Deno.test("offeredProtocols() waits for the whole hello, split anywhere, and across records", async () => {
  const hello = await rustlsHello(["h2", "http/1.1"]);
  for (let cut = 0; cut < hello.length; cut++) {
    assert.equal(offeredProtocols(hello.subarray(0, cut)), null, `cut at ${cut}`);
  }
  // The same handshake message split over two records.
  const message = hello.subarray(5);
  const half = Math.floor(message.length / 2);
  const record = (payload: Uint8Array) =>
    Uint8Array.from([22, 3, 1, payload.length >> 8, payload.length & 0xff, ...payload]);
  const split = Uint8Array.from([
    ...record(message.subarray(0, half)),
    ...record(message.subarray(half)),
  ]);
  assert.deepEqual(offeredProtocols(split), ["h2", "http/1.1"]);
});

Deno.test("offeredProtocols() answers [] for what is not a ClientHello", () => {
  const encode = (text: string) => new TextEncoder().encode(text);
  assert.deepEqual(offeredProtocols(encode("GET / HTTP/1.1\r\n\r\n")), []);
  assert.deepEqual(offeredProtocols(encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")), []);
  assert.deepEqual(offeredProtocols(Uint8Array.from([22, 3, 1, 0, 4, 2, 0, 0, 0])), []);
  assert.deepEqual(offeredProtocols(Uint8Array.from([22, 3, 1, 0, 0])), []);
  // A hello that claims more than it carries, truncated inside: never a crash.
  const junk = Uint8Array.from([22, 3, 1, 0, 8, 1, 0, 0, 4, 3, 3, 0xff, 0xff]);
  assert.deepEqual(offeredProtocols(junk), []);
});
