/**
 * Basic credentials as a client may send them: parsed, and bounded before
 * anything else is done with them (a user name over 255 bytes or a password
 * over 1 KiB belongs to nobody).
 *
 * @module
 */

/** The longest user name a client may send: longer ones are refused unchecked. */
export const MAX_USER_BYTES = 255;
/** The longest password a client may send (bcrypt reads only 72 bytes anyway). */
export const MAX_PASSWORD_BYTES = 1024;
/** The longest `Authorization` header that can hold credentials within both bounds. */
const MAX_AUTH_HEADER = 16 + Math.ceil((MAX_USER_BYTES + 1 + MAX_PASSWORD_BYTES) / 3) * 4;

/** A Basic auth header's parts, or why it could not be read. */
export type BasicCredentials = { user: string; password: string } | { error: string };

/**
 * Reads a `Basic` Authorization header.
 *
 * @param header The header value, or `null`.
 * @returns The user and password, or an error message without the secret.
 */
export function parseBasicAuth(header: string | null): BasicCredentials {
  if (header === null) return { error: "no credentials" };
  if (header.length > MAX_AUTH_HEADER) return { error: "credentials too long" };
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return { error: "not Basic credentials" };
  let decoded: string;
  try {
    const bytes = Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0));
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { error: "malformed Basic credentials" };
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return { error: "malformed Basic credentials" };
  const user = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (utf8Length(user) > MAX_USER_BYTES || utf8Length(password) > MAX_PASSWORD_BYTES) {
    return { error: "credentials too long" };
  }
  return { user, password };
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}
