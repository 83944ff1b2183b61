/**
 * A streamed PUT over a connection of its own: an HTTP/1.1 request with its
 * `Content-Length`, the body written as it comes with a socket's real
 * back-pressure, and the short answer read back. When the body's producer
 * fails, the connection is closed before the body is complete, so the store
 * never completes the object.
 *
 * @module
 */

import { type BodyProducer, type S3Response, S3TransportError, transportReason } from "./http.ts";
import { StorageError } from "../types.ts";

/**
 * Bytes gathered before one socket write. Relaying a 512 MiB body from
 * `Deno.serve` to a socket (curl → restic-rest → a Python reader, our CPU
 * from `/proc`, three runs): a write per 64 KiB part 0.49-0.67 s, per 512
 * KiB 0.36-0.42 s.
 */
const WRITE_BATCH_BYTES = 512 << 10;

const encoder = new TextEncoder();
const HEAD_END = encoder.encode("\r\n\r\n");

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** Closes the connection when no byte moves for `idleMs`, or when the signal aborts. */
class Watch {
  #last = Date.now();
  readonly #timer: ReturnType<typeof setInterval>;
  expired = false;

  constructor(readonly conn: Deno.Conn, idleMs: number, signal?: AbortSignal) {
    this.#timer = setInterval(() => {
      if (Date.now() - this.#last < idleMs) return;
      this.expired = true;
      this.close();
    }, Math.min(1000, Math.max(50, idleMs / 4)));
    signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  moved(): void {
    this.#last = Date.now();
  }

  close(): void {
    clearInterval(this.#timer);
    try {
      this.conn.close();
    } catch { /* closed */ }
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Whether `received` holds a whole answer: its head, and its body by length or last chunk. */
function complete(received: Uint8Array): boolean {
  const end = indexOf(received, HEAD_END);
  if (end < 0) return false;
  const head = new TextDecoder().decode(received.subarray(0, end)).toLowerCase();
  const length = /\r\ncontent-length:\s*(\d+)/.exec(head)?.[1];
  if (length !== undefined) return received.length >= end + HEAD_END.length + Number(length);
  if (/\r\ntransfer-encoding:[^\r]*chunked/.test(head)) {
    return indexOf(received.subarray(end + HEAD_END.length), encoder.encode("0\r\n\r\n")) >= 0;
  }
  return false; // the body ends when the store closes
}

/**
 * Reads the whole answer (a PUT's is short): status, headers and body. Stops
 * when the answer is complete: some stores then close a TLS connection
 * without its close_notify, which is no error once the answer is whole.
 */
async function readAnswer(conn: Deno.Conn, watch: Watch): Promise<S3Response> {
  let received: Uint8Array = new Uint8Array(0);
  const buffer = new Uint8Array(16 << 10);
  while (!complete(received) && received.length <= (1 << 20)) { // no PUT answer is this long
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch (err) {
      if (indexOf(received, HEAD_END) >= 0 && err instanceof Deno.errors.UnexpectedEof) break;
      throw err;
    }
    if (n === null) break;
    watch.moved();
    received = concat(received, buffer.subarray(0, n));
  }
  const end = indexOf(received, HEAD_END);
  if (end < 0) throw new Error("the answer ended before its head");
  const [statusLine, ...lines] = new TextDecoder().decode(received.subarray(0, end)).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
  if (!Number.isFinite(status)) throw new Error("the answer has no status");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
  }
  let body = received.subarray(end + HEAD_END.length);
  if (headers["content-length"] !== undefined) {
    body = body.subarray(0, Number(headers["content-length"]));
  }
  const text = headers["transfer-encoding"]?.includes("chunked") ? dechunk(body) : body;
  return {
    status,
    headers,
    body: new Blob([text as Uint8Array<ArrayBuffer>]).stream(),
    text: () => Promise.resolve(new TextDecoder().decode(text)),
  };
}

/** The payload of a chunked body. */
function dechunk(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const lineEnd = indexOf(bytes.subarray(at), encoder.encode("\r\n"));
    if (lineEnd < 0) break;
    const size = parseInt(new TextDecoder().decode(bytes.subarray(at, at + lineEnd)), 16);
    if (!size) break;
    parts.push(bytes.subarray(at + lineEnd + 2, at + lineEnd + 2 + size));
    at += lineEnd + 2 + size + 2;
  }
  return parts.reduce(concat, new Uint8Array(0));
}

/**
 * Sends a signed PUT with a streamed body of `contentLength` bytes.
 *
 * @param url The signed URL.
 * @param signedHeaders The signed headers.
 * @param produce Writes the body.
 * @param options Length, trusted CAs, idle timeout, abort signal.
 * @returns The store's answer.
 * @throws The producer's error (the upload is abandoned), or {@link S3TransportError}.
 */
export async function putStreamed(
  url: URL,
  signedHeaders: Headers,
  produce: BodyProducer,
  options: { contentLength: number; ca?: string[]; idleMs: number; signal?: AbortSignal },
): Promise<S3Response> {
  const conn = await connect(url, options.ca);
  const watch = new Watch(conn, options.idleMs, options.signal);
  const stalled = (err: unknown) =>
    watch.expired ? `no progress for ${options.idleMs / 1000} s` : (err as Error).message;
  try {
    const head = [
      `PUT ${url.pathname}${url.search} HTTP/1.1`,
      `host: ${url.host}`,
      ...[...signedHeaders].map(([name, value]) => `${name}: ${value}`),
      `content-length: ${options.contentLength}`,
      "connection: close",
      "",
      "",
    ].join("\r\n");
    const sent = await sendRequest(conn, head, produce, watch);
    try {
      return await readAnswer(conn, watch);
    } catch (err) {
      const what = sent ? "no answer" : "cut off";
      throw new S3TransportError(`${what} from ${url.host}: ${stalled(err)}`, { cause: err });
    }
  } catch (err) {
    // The body's own failures (wrong hash, client gone, over quota) and ours pass as they are;
    // anything else broke the connection.
    if (err instanceof S3TransportError || err instanceof StorageError) throw err;
    throw new S3TransportError(`the connection to ${url.host} broke: ${stalled(err)}`, {
      cause: err,
    });
  } finally {
    watch.close();
  }
}

async function connect(url: URL, ca: string[] | undefined): Promise<Deno.Conn> {
  const secure = url.protocol === "https:";
  const port = Number(url.port || (secure ? 443 : 80));
  try {
    return secure
      ? await Deno.connectTls({ hostname: url.hostname, port, caCerts: ca })
      : await Deno.connect({ hostname: url.hostname, port });
  } catch (err) {
    throw new S3TransportError(`cannot reach ${url.host}: ${transportReason(err)}`, {
      cause: err,
    });
  }
}

/**
 * Writes the head and the body; false when the store hung up first (it
 * answered early, and its answer says why).
 */
async function sendRequest(
  conn: Deno.Conn,
  head: string,
  produce: BodyProducer,
  watch: Watch,
): Promise<boolean> {
  // Parts are copied into a buffer of our own before the socket write: a buffer an
  // async write has held cannot be handed back to a BYOB read without a copy. The
  // buffer gathers several parts per write (see WRITE_BATCH_BYTES).
  let out = new Uint8Array(WRITE_BATCH_BYTES);
  let filled = 0;
  const flush = async () => {
    await writeAll(conn, out.subarray(0, filled));
    filled = 0;
    watch.moved();
  };
  try {
    await writeAll(conn, encoder.encode(head));
    await produce(async (part) => {
      if (filled + part.length > out.length) {
        if (filled > 0) await flush();
        if (part.length > out.length) out = new Uint8Array(part.length);
      }
      out.set(part, filled);
      filled += part.length;
      if (filled === out.length) await flush();
    });
    if (filled > 0) await flush();
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.BrokenPipe || err instanceof Deno.errors.ConnectionReset) {
      return false;
    }
    throw err;
  }
}
