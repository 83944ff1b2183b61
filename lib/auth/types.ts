/**
 * The contract of an authenticator: who sent a request, decided from the
 * request and where it came from; what the pipeline does with each outcome
 * is `http/app.ts`'s.
 *
 * @module
 */

/** The outcome of authenticating a request. */
export type AuthResult =
  /** The user is known. */
  | { kind: "ok"; user: string }
  /**
   * Refused (401). `checked`: a password was checked and found wrong (a
   * failed login, for the log); otherwise no check ran (no or unusable
   * credentials, a header from an untrusted peer).
   */
  | { kind: "refused"; reason: string; user: string | null; checked: boolean }
  /** Not checked: too many failed logins (429, after `retryAfterSeconds`). */
  | { kind: "throttled"; reason: string; user: string; retryAfterSeconds: number }
  /** Not checked: too many checks waiting (503, after `retryAfterSeconds`). */
  | { kind: "busy"; reason: string; user: string; retryAfterSeconds: number };

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
  /** One line for the start-up log: where the users come from. */
  readonly description: string;
  /**
   * @param request The request.
   * @param peer Where it came from.
   */
  authenticate(request: Request, peer?: Peer): Promise<AuthResult>;
  /** Reads the users again (SIGHUP), for an authenticator that keeps them in a file. */
  reload?(why: string): Promise<void>;
  /** Stops what the authenticator runs (password-checking Workers). */
  close?(): void;
}

/**
 * A refusal without a password check.
 *
 * @param reason Why, for the debug log.
 * @param user The user named, when any.
 * @returns The outcome.
 */
export function refused(reason: string, user: string | null = null): AuthResult {
  return { kind: "refused", reason, user, checked: false };
}
