/**
 * Ranges over 1 MiB on a disk are sent as Deno's own file stream, which runs
 * past the range; Deno's HTTP/1 layer cuts it at the Content-Length. These
 * tests hold the real server (and the Deno it runs on) to that: exact bytes
 * over HTTP/1.1 with the connection reused after each cut, over HTTP/1.0,
 * and over HTTP/2 (plain and TLS), which must get the bounded stream; and
 * no file left open. And the real restic restores through both, byte for
 * byte.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { pseudoRandomBytes, sha256, tempDir } from "../helpers/files.ts";
import { E2E, serveNoAuth, type ServerProcess } from "../helpers/process.ts";
import { makeCertificate } from "../helpers/tls.ts";
import { resticOk } from "../helpers/restic.ts";
import { join } from "node:path";

const encoder = new TextEncoder();
/** 5 MiB + 123 bytes: no range below ends on a 64 KiB boundary. */
const OBJECT = pseudoRandomBytes((5 << 20) + 123, 7);
const NAME = sha256(OBJECT);
const PATH = `/repo/data/${NAME}`;
/** [start, end] inclusive, each over 1 MiB. */
const RANGES: [number, number][] = [[1000, 3_000_999], [7, 2_097_159], [65_536, OBJECT.length - 2]];

/** A server on a fresh folder holding one 5 MiB object in `/repo/`. */
async function serverWithObject(flags = ""): Promise<ServerProcess & { dir: string }> {
  const data = await tempDir();
  if (flags.includes("--tls")) await makeCertificate(data.path);
  const server = await serveNoAuth(data, flags);
  const base = server.url.replace("http:", flags.includes("--tls") ? "https:" : "http:");
  const client = flags.includes("--tls")
    ? Deno.createHttpClient({ caCerts: [await Deno.readTextFile(`${data.path}/ca.pem`)] })
    : undefined;
  const post = async (path: string, body?: Uint8Array<ArrayBuffer>) => {
    const response = await fetch(base + path, { method: "POST", body, client });
    await response.body?.cancel();
    assert.equal(response.status, 200, path);
  };
  await post("/repo/?create=true");
  await post(PATH, OBJECT);
  client?.close();
  return {
    ...server,
    dir: data.path,
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await data[Symbol.asyncDispose]();
    },
  };
}

/** Reads one HTTP/1 response with a Content-Length from a connection; returns its status and body. */
async function readResponse(
  conn: Deno.Conn,
  pending: { bytes: Uint8Array },
): Promise<{ status: number; body: Uint8Array; headers: string }> {
  const buffer = new Uint8Array(1 << 16);
  const fill = async () => {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("connection closed mid-response");
    const joined = new Uint8Array(pending.bytes.length + n);
    joined.set(pending.bytes);
    joined.set(buffer.subarray(0, n), pending.bytes.length);
    pending.bytes = joined;
  };
  let headEnd: number;
  while ((headEnd = new TextDecoder().decode(pending.bytes).indexOf("\r\n\r\n")) < 0) await fill();
  const headers = new TextDecoder().decode(pending.bytes.subarray(0, headEnd));
  const length = Number(/content-length: (\d+)/i.exec(headers)![1]);
  while (pending.bytes.length < headEnd + 4 + length) await fill();
  const body = pending.bytes.slice(headEnd + 4, headEnd + 4 + length);
  pending.bytes = pending.bytes.slice(headEnd + 4 + length);
  return { status: Number(headers.split(" ")[1]), body, headers };
}

/** The server process's open file descriptors. */
async function openFiles(server: ServerProcess): Promise<number> {
  let count = 0;
  for await (const _ of Deno.readDir(`/proc/${server.process.pid}/fd`)) count++;
  return count;
}

Deno.test({
  ...E2E,
  name: "HTTP/1.1: ranges over 1 MiB come exact, the connection carries on, no file stays open",
  fn: async () => {
    await using server = await serverWithObject();
    const port = Number(server.address.split(":").pop());
    const before = await openFiles(server);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const pending = { bytes: new Uint8Array(0) };
    try {
      for (let round = 0; round < 10; round++) {
        for (const [start, end] of RANGES) {
          const request = `GET ${PATH} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n` +
            `range: bytes=${start}-${end}\r\n\r\n`;
          await conn.write(encoder.encode(request));
          const { status, body, headers } = await readResponse(conn, pending);
          assert.equal(status, 206, headers);
          assert.equal(body.length, end - start + 1);
          assert.equal(sha256(body), sha256(OBJECT.subarray(start, end + 1)), `${start}-${end}`);
        }
      }
      // Nothing past the last body: the next answer starts where it should.
      await conn.write(encoder.encode(`HEAD ${PATH} HTTP/1.1\r\nhost: x\r\n\r\n`));
      const n = await conn.read(new Uint8Array(64)).then((read) => read ?? 0);
      assert.ok(n > 0 && pending.bytes.length === 0, "a clean HEAD answer after the ranges");
    } finally {
      conn.close();
    }
    // Deno closes each file when its cut stream is dropped.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(await openFiles(server) <= before + 1, `open files: ${before} before`);
  },
});

Deno.test({
  ...E2E,
  name: "HTTP/1.0 without a Host header: a range over 1 MiB comes exact",
  fn: async () => {
    await using server = await serverWithObject();
    const port = Number(server.address.split(":").pop());
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const [start, end] = RANGES[0];
      await conn.write(
        encoder.encode(`GET ${PATH} HTTP/1.0\r\nrange: bytes=${start}-${end}\r\n\r\n`),
      );
      const { status, body } = await readResponse(conn, { bytes: new Uint8Array(0) });
      assert.equal(status, 206);
      assert.equal(sha256(body), sha256(OBJECT.subarray(start, end + 1)));
    } finally {
      conn.close();
    }
  },
});

/** GETs each range over one HTTP/2 session; returns the bodies. */
async function http2Ranges(authority: string, options: http2.SecureClientSessionOptions) {
  const session = http2.connect(authority, options);
  try {
    const bodies: Uint8Array[] = [];
    for (const [start, end] of RANGES) {
      const stream = session.request({ ":path": PATH, range: `bytes=${start}-${end}` });
      const parts: Uint8Array<ArrayBuffer>[] = [];
      const status = await new Promise<number>((resolve, reject) => {
        let code = 0;
        stream.on("response", (headers) => (code = Number(headers[":status"])));
        stream.on("data", (part: Uint8Array<ArrayBuffer>) => parts.push(part));
        stream.on("end", () => resolve(code));
        stream.on("error", reject);
      });
      assert.equal(status, 206);
      bodies.push(new Uint8Array(await new Blob(parts).arrayBuffer()));
    }
    return bodies;
  } finally {
    session.close();
  }
}

Deno.test({
  ...E2E,
  name: "HTTP/2 with prior knowledge: ranges over 1 MiB come exact",
  fn: async () => {
    await using server = await serverWithObject();
    const bodies = await http2Ranges(server.url, {});
    for (const [i, [start, end]] of RANGES.entries()) {
      assert.equal(sha256(bodies[i]), sha256(OBJECT.subarray(start, end + 1)), `${start}-${end}`);
    }
  },
});

Deno.test({
  ...E2E,
  name: "HTTPS: ranges over 1 MiB come exact over HTTP/2 and over HTTP/1.1",
  fn: async () => {
    await using server = await serverWithObject("--tls");
    const ca = await Deno.readTextFile(`${server.dir}/ca.pem`);
    const url = server.url.replace("http:", "https:");
    const bodies = await http2Ranges(url, { ca });
    const client = Deno.createHttpClient({ caCerts: [ca], http2: false });
    try {
      for (const [i, [start, end]] of RANGES.entries()) {
        const expected = sha256(OBJECT.subarray(start, end + 1));
        assert.equal(sha256(bodies[i]), expected, `HTTP/2 ${start}-${end}`);
        const response = await fetch(url + PATH, {
          client,
          headers: { range: `bytes=${start}-${end}` },
        });
        assert.equal(response.status, 206);
        assert.equal(sha256(await response.bytes()), expected, `HTTP/1.1 ${start}-${end}`);
      }
    } finally {
      client.close();
    }
  },
});

/** The access log's 206 answers over 1 MiB. */
async function bigRangesLogged(log: string): Promise<number> {
  const lines = (await Deno.readTextFile(log)).split("\n");
  return lines.filter((line) =>
    / 206 (\d+)/.exec(line)?.[1] && Number(/ 206 (\d+)/.exec(line)![1]) > 1 << 20
  )
    .length;
}

Deno.test({
  ...E2E,
  name:
    "restic restores a 24 MiB file byte for byte over HTTP and over HTTPS, through ranges over 1 MiB",
  fn: async () => {
    await using data = await tempDir();
    await using work = await tempDir();
    const { ca } = await makeCertificate(data.path);
    const source = join(work.path, "source");
    await Deno.mkdir(source);
    const file = pseudoRandomBytes(24 << 20, 11);
    await Deno.writeFile(join(source, "big.bin"), file);
    for (const [scheme, flags] of [["http", ""], ["https", " --tls"]]) {
      const log = join(work.path, `access-${scheme}.log`);
      await using server = await serveNoAuth(data, `--log ${log}${flags}`);
      const repo = `rest:${scheme}://${server.address}/big/`;
      const cacert = scheme === "https" ? ["--cacert", ca] : [];
      if (scheme === "http") {
        await resticOk(repo, ["init"]);
        await resticOk(repo, ["backup", "--quiet", source]);
      }
      const target = join(work.path, `restore-${scheme}`);
      await resticOk(repo, [...cacert, "restore", "latest", "--target", target]);
      const restored = await Deno.readFile(join(target, source, "big.bin"));
      assert.equal(sha256(restored), sha256(file), `restored over ${scheme}`);
      await server.stop();
      assert.ok(await bigRangesLogged(log) > 0, `ranges over 1 MiB served over ${scheme}`);
    }
  },
});
