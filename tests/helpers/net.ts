/**
 * Raw HTTP over TCP, for what `fetch` would normalise or refuse to send.
 *
 * @module
 */

/**
 * Sends raw bytes on a new TCP connection and returns what comes back until
 * the server closes or `waitMs` passes. `closeAfterSend` hangs up at once.
 */
export async function rawRequest(
  port: number,
  parts: (string | Uint8Array)[],
  options: { closeAfterSend?: boolean; waitMs?: number } = {},
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const encoder = new TextEncoder();
  try {
    for (const part of parts) {
      const bytes = typeof part === "string" ? encoder.encode(part) : part;
      let offset = 0;
      while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
    }
    if (options.closeAfterSend) return "";
    const chunks: string[] = [];
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(65536);
    const timer = setTimeout(() => conn.close(), options.waitMs ?? 2000);
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        chunks.push(decoder.decode(buffer.subarray(0, n)));
      }
    } catch {
      // closed by the timer
    } finally {
      clearTimeout(timer);
    }
    return chunks.join("");
  } finally {
    try {
      conn.close();
    } catch { /* closed already */ }
  }
}

/**
 * POSTs a body with its `Content-Length` on a connection of its own (Deno's
 * `fetch` sends every stream chunked) and returns the answer's status, or 0
 * when the connection broke before an answer.
 */
export async function postWithLength(
  url: string,
  body: ReadableStream<Uint8Array> | Uint8Array,
  length: number,
): Promise<number> {
  const target = new URL(url);
  const conn = await Deno.connect({ hostname: target.hostname, port: Number(target.port) });
  const write = async (bytes: Uint8Array) => {
    let offset = 0;
    while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
  };
  try {
    try {
      await write(new TextEncoder().encode(
        `POST ${target.pathname} HTTP/1.1\r\nhost: ${target.host}\r\n` +
          `content-length: ${length}\r\nconnection: close\r\n\r\n`,
      ));
      if (body instanceof Uint8Array) await write(body);
      else for await (const part of body) await write(part);
    } catch {
      // the server answered early and hung up: its answer is read below
    }
    const buffer = new Uint8Array(4096);
    let head = "";
    while (!head.includes("\r\n")) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      head += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  } finally {
    try {
      conn.close();
    } catch { /* closed already */ }
  }
}
