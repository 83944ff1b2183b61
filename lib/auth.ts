/**
 * Who is asking: the contract of an authenticator, Basic credentials as a
 * client may send them (bounded), and the user name from a trusted proxy's
 * header. The htpasswd authenticator is in `htpasswd_auth.ts`.
 *
 * @module
 */

import { USERNAME_PATTERN } from "./user_name.ts";

/** The outcome of authenticating a request. */
export type AuthResult =
  | { ok: true; user: string }
  | {
    ok: false;
    reason: string;
    user?: string;
    /** Set when the login was not checked: too many failures (429) or too many checks waiting (503). */
    retryAfterSeconds?: number;
    /** The password was checked and refused (a failed login, for the log). */
    checked?: boolean;
    /** Too many checks were waiting (503, not 429). */
    busy?: boolean;
  };

/** Where a request came from, as far as authentication cares. */
export interface Peer {
  /** The client's address (behind a trusted proxy, the one it forwarded), for the throttle. */
  client: string;
  /** The connection comes from a `--trusted-proxy` address or over a unix socket. */
  fromTrustedProxy: boolean;
}

/** A peer nothing is known of: no trusted proxy. */
export const UNKNOWN_PEER: Peer = { client: "unknown", fromTrustedProxy: false };

/** Decides who sent a request. */
export interface Authenticator {
  /**
   * @param request The request.
   * @param peer Where it came from.
   */
  authenticate(request: Request, peer?: Peer): Promise<AuthResult>;
}

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

/**
 * The user named by a trusted reverse proxy in a request header. The header
 * counts only on connections from a `--trusted-proxy` address or a unix
 * socket: anyone else could send it too.
 */
export class ProxyHeaderAuth implements Authenticator {
  /** @param header The header the proxy sets, such as `X-Forwarded-User`. */
  constructor(readonly header: string) {}

  /** Reads the user from the header; missing, invalid or not from a trusted proxy fails. */
  authenticate(request: Request, peer: Peer = UNKNOWN_PEER): Promise<AuthResult> {
    if (!peer.fromTrustedProxy) {
      return Promise.resolve({
        ok: false,
        reason: `${this.header} counts only from a --trusted-proxy address`,
      });
    }
    const user = request.headers.get(this.header);
    if (user === null) return Promise.resolve({ ok: false, reason: `no ${this.header} header` });
    if (!USERNAME_PATTERN.test(user)) {
      return Promise.resolve({ ok: false, reason: `invalid user name in ${this.header}` });
    }
    return Promise.resolve({ ok: true, user });
  }
}
