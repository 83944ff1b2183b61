/**
 * Who is asking: HTTP Basic auth against an htpasswd file (cached, reloaded
 * on change and on SIGHUP), or a user name from a trusted proxy's header.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { ConfigError } from "./config.ts";
import { parseHtpasswd, USERNAME_PATTERN } from "./htpasswd.ts";
import type { Logger } from "./log.ts";
import type { LoginThrottle } from "./login_throttle.ts";
import { VerifierBusy, VerifierPool } from "./verify_pool.ts";

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

/** Decides who sent a request. */
export interface Authenticator {
  /**
   * @param request The request.
   * @param client The client's address, for the throttle.
   */
  authenticate(request: Request, client?: string): Promise<AuthResult>;
}

/** Options of {@link HtpasswdAuth}. */
export interface HtpasswdAuthOptions {
  file: string;
  log: Logger;
  /** How often the file is checked for changes, at most (default 30 s). */
  reloadIntervalMs?: number;
  /** How long verified credentials stay cached after their last use (default 60 s). */
  cacheTtlMs?: number;
  /** Checks a password against a hash; a Worker pool unless a test counts the calls. */
  verify?: (password: string, hash: string) => Promise<boolean> | boolean;
  /** Counts failed logins and refuses them past its limits; none when absent. */
  throttle?: LoginThrottle | null;
}

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
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

interface FileStamp {
  mtime: number;
  size: number;
  ino: number | null;
}

async function stampOf(file: string): Promise<FileStamp> {
  const info = await Deno.stat(file);
  return { mtime: info.mtime?.getTime() ?? 0, size: info.size, ino: info.ino };
}

function sameStamp(a: FileStamp | null, b: FileStamp): boolean {
  return a !== null && a.mtime === b.mtime && a.size === b.size && a.ino === b.ino;
}

/** Basic auth against an htpasswd file. */
export class HtpasswdAuth implements Authenticator {
  readonly #options: Required<HtpasswdAuthOptions>;
  #users = new Map<string, string>();
  #stamp: FileStamp | null = null;
  #lastCheck = 0;
  #checking: Promise<void> | null = null;
  /** Verified credentials: key hash → user and expiry (sliding). */
  readonly #cache = new Map<string, { user: string; expires: number }>();
  /** Verifications under way, so concurrent requests hash a password once. */
  readonly #pending = new Map<string, Promise<boolean>>();
  readonly #pool: VerifierPool | null;

  private constructor(options: HtpasswdAuthOptions) {
    this.#pool = options.verify ? null : new VerifierPool();
    const pool = this.#pool;
    this.#options = {
      reloadIntervalMs: 30_000,
      cacheTtlMs: 60_000,
      verify: (password, hash) => pool!.verify(password, hash),
      throttle: null,
      ...options,
    };
  }

  /** Stops the password-checking Workers. */
  close(): void {
    this.#pool?.close();
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Loads the file; refuses a missing file or one without a usable user.
   *
   * @param options File, log and timings.
   * @returns The authenticator.
   * @throws {ConfigError} When the file cannot be used.
   */
  static async load(options: HtpasswdAuthOptions): Promise<HtpasswdAuth> {
    const auth = new HtpasswdAuth(options);
    let text: string;
    try {
      text = await Deno.readTextFile(options.file);
      auth.#stamp = await stampOf(options.file);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new ConfigError(
          `Cannot start without users: ${options.file} does not exist. ` +
            `Create a user with "restic-rest user add NAME", or pass --no-auth to serve without authentication`,
        );
      }
      throw new ConfigError(
        `Cannot read htpasswd file "${options.file}": ${(err as Error).message}`,
      );
    }
    const parsed = parseHtpasswd(text);
    for (const warning of parsed.warnings) options.log.warn(`${options.file} ${warning}`);
    if (parsed.users.size === 0) {
      throw new ConfigError(
        `Cannot start without users: ${options.file} has no usable entry. ` +
          `Create a user with "restic-rest user add NAME", or pass --no-auth`,
      );
    }
    auth.#users = parsed.users;
    auth.#lastCheck = Date.now();
    return auth;
  }

  /** The number of users loaded. */
  get userCount(): number {
    return this.#users.size;
  }

  /**
   * Reads the file again now (SIGHUP, or a change was seen). A file that
   * cannot be read, or has entries but none usable, keeps the old users.
   *
   * @param why What triggered the reload, for the log.
   */
  async reload(why: string): Promise<void> {
    const { file, log } = this.#options;
    let text: string;
    let stamp: FileStamp;
    try {
      stamp = await stampOf(file);
      text = await Deno.readTextFile(file);
    } catch (err) {
      log.warn(
        `Cannot reload ${file} (${why}): ${
          (err as Error).message
        }; keeping ${this.#users.size} user(s)`,
      );
      return;
    }
    this.#stamp = stamp;
    const parsed = parseHtpasswd(text);
    for (const warning of parsed.warnings) log.warn(`${file} ${warning}`);
    if (parsed.users.size === 0 && parsed.entryLines > 0) {
      log.warn(`Cannot use ${file} (${why}): no usable entry; keeping ${this.#users.size} user(s)`);
      return;
    }
    this.#users = parsed.users;
    this.#cache.clear();
    log.info(`reloaded ${file} (${why}): ${parsed.users.size} user(s)`);
  }

  /** Reloads when the file changed, checking at most once per interval. */
  #maybeReload(): Promise<void> {
    const now = Date.now();
    if (this.#checking || now - this.#lastCheck < this.#options.reloadIntervalMs) {
      return this.#checking ?? Promise.resolve();
    }
    this.#lastCheck = now;
    this.#checking = (async () => {
      try {
        const stamp = await stampOf(this.#options.file).catch(() => null);
        if (stamp === null || !sameStamp(this.#stamp, stamp)) await this.reload("file changed");
      } finally {
        this.#checking = null;
      }
    })();
    return this.#checking;
  }

  /**
   * Checks the request's Basic credentials: cached ones at once; others,
   * unless the throttle refuses them, on a Worker.
   */
  async authenticate(request: Request, client = "unknown"): Promise<AuthResult> {
    await this.#maybeReload();
    const credentials = parseBasicAuth(request.headers.get("authorization"));
    if ("error" in credentials) return { ok: false, reason: credentials.error };
    const { user, password } = credentials;
    const key = createHash("sha256").update(`${user}\0${password}`).digest("hex");
    const now = Date.now();
    const cached = this.#cache.get(key);
    if (cached && cached.expires > now && this.#users.has(user)) {
      cached.expires = now + this.#options.cacheTtlMs;
      return { ok: true, user };
    }
    const attempt = this.#options.throttle?.start(client, user) ?? null;
    if (attempt && "why" in attempt) {
      return { ok: false, user, reason: attempt.why, retryAfterSeconds: attempt.retryAfterSeconds };
    }
    const hash = this.#users.get(user);
    let verification = this.#pending.get(key);
    if (!verification) {
      verification = this.#verify(password, hash);
      this.#pending.set(key, verification);
      verification.finally(() => this.#pending.delete(key)).catch(() => {});
    }
    let matched: boolean;
    try {
      matched = await verification;
    } catch (err) {
      attempt?.abandoned();
      if (!(err instanceof VerifierBusy)) throw err;
      return { ok: false, user, reason: err.message, retryAfterSeconds: 1, busy: true };
    }
    if (!matched || hash === undefined) {
      attempt?.failed();
      const reason = hash === undefined ? "unknown user" : "wrong password";
      return { ok: false, reason, user, checked: true };
    }
    attempt?.succeeded();
    this.#pruneCache(now);
    this.#cache.set(key, { user, expires: now + this.#options.cacheTtlMs });
    return { ok: true, user };
  }

  /**
   * Checks a password; an unknown user's against a known user's hash, so it
   * takes exactly as long as a wrong password (no user names by timing).
   */
  async #verify(password: string, hash: string | undefined): Promise<boolean> {
    if (hash === undefined) {
      const standIn = this.#users.values().next().value;
      if (standIn !== undefined) await this.#options.verify(password, standIn);
      return false;
    }
    return await this.#options.verify(password, hash);
  }

  #pruneCache(now: number): void {
    if (this.#cache.size < 1024) return;
    for (const [key, entry] of this.#cache) if (entry.expires <= now) this.#cache.delete(key);
  }
}

/** The user named by a trusted reverse proxy in a request header. */
export class ProxyHeaderAuth implements Authenticator {
  /** @param header The header the proxy sets, such as `X-Forwarded-User`. */
  constructor(readonly header: string) {}

  /** Reads the user from the header; missing or invalid fails. */
  authenticate(request: Request): Promise<AuthResult> {
    const user = request.headers.get(this.header);
    if (user === null) return Promise.resolve({ ok: false, reason: `no ${this.header} header` });
    if (!USERNAME_PATTERN.test(user)) {
      return Promise.resolve({ ok: false, reason: `invalid user name in ${this.header}` });
    }
    return Promise.resolve({ ok: true, user });
  }
}
