/** Uploads cut at random byte offsets: nothing visible, no temp file, the server keeps serving. */
import assert from "node:assert/strict";
import { serveTestApp } from "../helpers/app.ts";
import {
  eventually,
  listFiles,
  pseudoRandomBytes,
  seededRandom,
  sha256,
  tempFiles,
} from "../helpers/files.ts";
import { rawRequest } from "../helpers/net.ts";

function chunked(body: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const encoder = new TextEncoder();
  for (let offset = 0; offset < body.length; offset += 8192) {
    const piece = body.subarray(offset, offset + 8192);
    parts.push(encoder.encode(`${piece.length.toString(16)}\r\n`), piece, encoder.encode("\r\n"));
  }
  parts.push(encoder.encode("0\r\n\r\n"));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("uploads cut at 60 random offsets leave nothing behind, and the server keeps serving", async () => {
  await using server = await serveTestApp();
  await fetch(`${server.url}/?create=true`, { method: "POST" }).then((r) => r.body?.cancel());
  const random = seededRandom(6);
  const cases: { label: string; id: string; bytes: Uint8Array; cut: number }[] = [];
  for (let i = 0; i < 60; i++) {
    const body = pseudoRandomBytes(1 + Math.floor(random() * 300_000), 100 + i);
    const id = sha256(body);
    const isChunked = i % 2 === 1;
    const head = new TextEncoder().encode(
      `POST /data/${id} HTTP/1.1\r\nHost: x\r\n` +
        (isChunked ? "Transfer-Encoding: chunked\r\n" : `Content-Length: ${body.length}\r\n`) +
        "\r\n",
    );
    const payload = isChunked ? chunked(body) : body;
    const bytes = new Uint8Array(head.length + payload.length);
    bytes.set(head);
    bytes.set(payload, head.length);
    const where = i % 3; // 0: inside the headers, 1: mid-body, 2: right before the last byte
    const cut = where === 0
      ? Math.floor(random() * head.length)
      : where === 1
      ? head.length + Math.floor(random() * payload.length)
      : bytes.length - 1;
    const label = `#${i} (${body.length} bytes, ${isChunked ? "chunked" : "with its length"}, cut ${
      ["in the head", "mid-body", "before the last byte"][where]
    } at ${cut} of ${bytes.length})`;
    cases.push({ label, id, bytes, cut });
  }
  for (let i = 0; i < cases.length; i += 10) {
    await Promise.all(
      cases.slice(i, i + 10).map(({ bytes, cut }) =>
        rawRequest(server.port, [bytes.subarray(0, cut)], { closeAfterSend: true })
      ),
    );
  }
  assert.ok(
    await eventually(async () => (await tempFiles(server.dir)).length === 0, 10_000),
    "temp files remain",
  );
  const objects = (await listFiles(server.dir)).map((f) => f.split("/").pop()!);
  const visible = cases.filter((c) => objects.includes(c.id)).map((c) => c.label);
  assert.deepEqual(visible, [], "no cut upload became visible");
  const listing = await fetch(`${server.url}/data/`).then((r) => r.json());
  assert.deepEqual(listing, []);
  const body = pseudoRandomBytes(50_000, 1);
  const response = await fetch(`${server.url}/data/${sha256(body)}`, { method: "POST", body });
  await response.body?.cancel();
  assert.equal(response.status, 200, "the server still serves");
});
