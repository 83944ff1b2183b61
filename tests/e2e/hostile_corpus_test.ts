/**
 * Replays the hostile corpus (tools/hostile/, made when the test runs) over
 * raw TCP, so that no client normalises the requests: each case gets exactly
 * its status, nothing is leaked, and nothing changes on disk, inside the
 * data directory or next to it (a canary file).
 *
 * `..` in a path is resolved by the URL layer (RFC 3986) before the server
 * routes it, so `/alice/../../config` arrives as `/config`: inside the data
 * directory, and refused because it is not alice's repository.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { HostileCase } from "../../tools/hostile/case.ts";
import { PATH_CASES } from "../../tools/hostile/paths.ts";
import { REQUEST_CASES } from "../../tools/hostile/requests.ts";
import { listFiles, sha256, tempDir } from "../helpers/files.ts";
import { E2E, startServerProcess } from "../helpers/process.ts";

const corpus: HostileCase[] = [...PATH_CASES, ...REQUEST_CASES];
const CANARY = "CANARY-7f3a: never to be served";
const SECRET_HASH = "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="; // "secret"

function expand(text: string, id: string): string {
  return text
    .replaceAll("{ID}", id)
    .replaceAll("{AUTH}", `Basic ${btoa("alice:secret")}`)
    .replace(/\{REPEAT:(.*?):(\d+)\}/g, (_, part: string, n: string) => part.repeat(Number(n)));
}

function requestBytes(c: HostileCase, id: string): Uint8Array {
  const body = c.body === undefined
    ? ""
    : typeof c.body === "string"
    ? c.body
    : c.body[0].repeat(c.body[1]);
  const lines = [
    `${c.method} ${expand(c.target, id)} HTTP/1.1`,
    "Host: restic-rest.test",
    "Connection: close",
  ];
  for (const [name, value] of c.headers) lines.push(`${name}: ${expand(value, id)}`);
  for (let i = 0; i < (c.manyHeaders ?? 0); i++) lines.push(`X-H${i}: v`);
  const hasLength = c.headers.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n));
  if (c.body !== undefined && !hasLength) {
    lines.push(`Content-Length: ${new TextEncoder().encode(body).length}`);
  }
  return new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n" + body);
}

async function send(port: number, bytes: Uint8Array): Promise<{ status: number; text: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 5000);
  const chunks: Uint8Array[] = [];
  try {
    await conn.write(bytes).catch(() => {}); // the server may close early on huge requests
    const buffer = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
  const text = new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return { status: match ? Number(match[1]) : 0, text };
}

async function snapshot(root: string): Promise<string> {
  const lines: string[] = [];
  for (const file of await listFiles(root)) {
    const info = await Deno.lstat(join(root, file));
    lines.push(`${file} ${info.size} ${info.mtime?.getTime()}`);
  }
  return lines.join("\n");
}

Deno.test({
  name:
    "hostile corpus: every case gets exactly its status, nothing leaks, nothing on disk changes",
  ...E2E,
  async fn() {
    await using root = await tempDir();
    const data = join(root.path, "data");
    await Deno.mkdir(data);
    await Deno.writeTextFile(join(root.path, "canary.txt"), CANARY);
    await Deno.writeTextFile(join(data, ".htpasswd"), `alice:${SECRET_HASH}\n`);
    // Several users, each in their own repository: the setting hostile paths aim at.
    // Each case is judged alone: the many wrong credentials must not trip the login throttle
    // (login_flood_test.ts shows the throttle).
    await using server = await startServerProcess([
      data,
      "--private-repos",
      "--login-failures",
      "100000",
    ]);
    const auth = { authorization: `Basic ${btoa("alice:secret")}` };
    const blob = new TextEncoder().encode("alice's object");
    const id = sha256(blob);
    for (
      const [path, body] of [["/alice/?create=true", null], [`/alice/data/${id}`, blob], [
        "/alice/config",
        "alice config",
      ]] as const
    ) {
      const response = await fetch(`${server.url}${path}`, { method: "POST", body, headers: auth });
      await response.body?.cancel();
      assert.equal(response.status, 200, path);
    }
    const before = await snapshot(root.path);
    const port = Number(server.address.split(":").pop());
    const failures: string[] = [];
    for (const c of corpus) {
      const { status, text } = await send(port, requestBytes(c, id));
      if (status !== c.expect) failures.push(`${c.name}: ${status}, expected ${c.expect}`);
      if (text.includes("CANARY-7f3a") || text.includes("5en6G6MezRroT3XKqkdPOmY")) {
        failures.push(`${c.name}: leaked`);
      }
    }
    assert.deepEqual(failures, []);
    assert.equal(
      await snapshot(root.path),
      before,
      "nothing changed inside or next to the data directory",
    );
    assert.equal(await Deno.readTextFile(join(root.path, "canary.txt")), CANARY);
    const alive = await fetch(`${server.url}/alice/data/${id}`, { headers: auth });
    assert.equal(await alive.text(), "alice's object", "the server still serves");
    assert.ok(server.stderr.every((l) => !l.includes("secret")), "no password in the log");
  },
});
