/**
 * Reads which application protocols (ALPN) a TLS ClientHello offers, from
 * the plaintext first bytes of a connection. The connection guard passes TLS
 * through without decrypting it and needs to know whether a client will speak
 * HTTP/2, which the server picks whenever the client offers it.
 *
 * @module
 */

const RECORD_HEADER_BYTES = 5;
const HANDSHAKE_RECORD = 22;
const CLIENT_HELLO = 1;
const ALPN_EXTENSION = 0x0010;
/** A ClientHello beyond this is not worth waiting for. */
const MAX_HELLO_BYTES = 64 * 1024;

/**
 * The protocols a ClientHello offers by ALPN.
 *
 * @param start The first bytes the client sent.
 * @returns The offered protocol names (empty when none are offered or the
 *   bytes are not a ClientHello), or `null` while more bytes are needed.
 */
export function offeredProtocols(start: Uint8Array): string[] | null {
  // The handshake message may span several records: join their payloads.
  const payload: number[] = [];
  let offset = 0;
  let messageBytes = -1;
  while (messageBytes < 0 || payload.length < messageBytes) {
    if (offset + RECORD_HEADER_BYTES > start.length) {
      return start.length > MAX_HELLO_BYTES ? [] : null;
    }
    if (start[offset] !== HANDSHAKE_RECORD) return [];
    const length = (start[offset + 3] << 8) | start[offset + 4];
    const body = offset + RECORD_HEADER_BYTES;
    if (body + length > start.length) return start.length > MAX_HELLO_BYTES ? [] : null;
    for (let i = body; i < body + length; i++) payload.push(start[i]);
    offset = body + length;
    if (messageBytes < 0 && payload.length >= 4) {
      if (payload[0] !== CLIENT_HELLO) return [];
      messageBytes = 4 + ((payload[1] << 16) | (payload[2] << 8) | payload[3]);
    }
    if (length === 0 && messageBytes < 0) return [];
  }
  return readAlpn(Uint8Array.from(payload.slice(4, messageBytes)));
}

/** Walks a ClientHello body to its ALPN extension. */
function readAlpn(hello: Uint8Array): string[] {
  let at = 2 + 32; // version, random
  const skip = (lengthBytes: number): boolean => {
    if (at + lengthBytes > hello.length) return false;
    let length = 0;
    for (let i = 0; i < lengthBytes; i++) length = (length << 8) | hello[at + i];
    at += lengthBytes + length;
    return at <= hello.length;
  };
  // session id, cipher suites, compression methods
  if (!skip(1) || !skip(2) || !skip(1)) return [];
  if (at + 2 > hello.length) return [];
  const end = Math.min(hello.length, at + 2 + ((hello[at] << 8) | hello[at + 1]));
  at += 2;
  while (at + 4 <= end) {
    const type = (hello[at] << 8) | hello[at + 1];
    const length = (hello[at + 2] << 8) | hello[at + 3];
    const data = hello.subarray(at + 4, Math.min(end, at + 4 + length));
    at += 4 + length;
    if (type !== ALPN_EXTENSION) continue;
    const names: string[] = [];
    for (let i = 2; i < data.length;) {
      const size = data[i];
      names.push(new TextDecoder().decode(data.subarray(i + 1, i + 1 + size)));
      i += 1 + size;
    }
    return names;
  }
  return [];
}
