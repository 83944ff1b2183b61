/**
 * HTTP Basic auth against an htpasswd file: cached, reloaded on change and
 * on SIGHUP, guarded by the login throttle, checked on Workers, and
 * answering a refused login no sooner than a check of the costliest hash.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { type Authenticator, type AuthResult, type Peer, refused, UNKNOWN_PEER } from "./types.ts";
import { parseBasicAuth } from "./basic.ts";
import { ConfigError } from "../base/errors.ts";
import { USERNAME_PATTERN } from "../base/restic.ts";
import { estimatedCheckMs, parseHtpasswd } from "./htpasswd.ts";
import type { Logger } from "../base/log.ts";
import type { LoginThrottle } from "./throttle.ts";
import { VerifierBusy, VerifierPool } from "./verify_pool.ts";

/** Verified credentials cached at most; past it the oldest go (they are checked again). */
const MAX_CACHED = 4096;

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

/** The flag that points `user add` at this file: `--path DIR` for the usual name. */
function whereFlag(file: string): string {
  const name = "/.htpasswd";
  return file.endsWith(name)
    ? `--path ${file.slice(0, -name.length) || "/"}`
    : `--htpasswd-file ${file}`;
}

/** The users of a password file, and the entry an unknown name is checked against. */
interface UserTable {
  users: Map<string, string>;
  /** The costliest hash in the file: an unknown user's password is checked against it. */
  standIn: string | undefined;
}

function userTable(users: Map<string, string>): UserTable {
  let standIn: string | undefined;
  for (const hash of users.values()) {
    if (standIn === undefined || estimatedCheckMs(hash) > estimatedCheckMs(standIn)) {
      standIn = hash;
    }
  }
  return { users, standIn };
}

/** Basic auth against an htpasswd file. */
export class HtpasswdAuth implements Authenticator {
  readonly #options: Required<HtpasswdAuthOptions>;
  #table: UserTable = userTable(new Map());
  #stamp: FileStamp | null = null;
  #lastCheck = 0;
  #checking: Promise<void> | null = null;
  /** Verified credentials: key hash → user and expiry (sliding); at most {@link MAX_CACHED}. */
  readonly #cache = new Map<string, { user: string; expires: number }>();
  /** Verifications under way, so concurrent requests hash a password once. */
  readonly #pending = new Map<string, Promise<boolean>>();
  readonly #pool: VerifierPool | null;
  /**
   * How long a check against the stand-in takes (ms, a running average): a
   * refused login answers no sooner, whatever its own hash costs, so neither
   * an unknown name nor a cheap hash shows by its timing.
   */
  #standInMs = 0;

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
            `Create one with "restic-rest user add NAME ${
              whereFlag(options.file)
            }", or pass --no-auth ` +
            "to serve without authentication",
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
          `Create one with "restic-rest user add NAME ${
            whereFlag(options.file)
          }", or pass --no-auth`,
      );
    }
    auth.#table = userTable(parsed.users);
    auth.#lastCheck = Date.now();
    auth.#estimateStandIn();
    return auth;
  }

  /** Where the users come from, for the start-up log. */
  get description(): string {
    return `${this.userCount} user(s) from ${this.#options.file}`;
  }

  /** The number of users loaded. */
  get userCount(): number {
    return this.#table.users.size;
  }

  /**
   * Reads the file again now (SIGHUP, or a change was seen). A file that
   * cannot be read, or holds no usable user (such as one being rewritten in
   * place, truncated first), keeps the old users; it is read again at the
   * next check.
   *
   * @param why What triggered the reload, for the log.
   */
  reload(why: string): Promise<void> {
    // Logins wait for it: none is let in on credentials the reload may drop.
    const reloading = this.#reloadNow(why).finally(() => {
      if (this.#checking === reloading) this.#checking = null;
    });
    this.#checking = reloading;
    return reloading;
  }

  async #reloadNow(why: string): Promise<void> {
    const { file, log } = this.#options;
    const users = this.#table.users.size;
    let text: string;
    let stamp: FileStamp;
    try {
      stamp = await stampOf(file);
      text = await Deno.readTextFile(file);
    } catch (err) {
      log.warn(
        `Cannot reload ${file} (${why}): ${(err as Error).message}; keeping ${users} user(s)`,
      );
      return;
    }
    const parsed = parseHtpasswd(text);
    for (const warning of parsed.warnings) log.warn(`${file} ${warning}`);
    if (parsed.users.size === 0) {
      // Not remembered as read: the next check reads it again, until it is whole.
      log.warn(`Cannot use ${file} (${why}): no usable entry; keeping ${users} user(s)`);
      return;
    }
    this.#stamp = stamp;
    this.#table = userTable(parsed.users);
    this.#cache.clear();
    this.#options.throttle?.forgetUsersExcept((user) => parsed.users.has(user));
    this.#estimateStandIn();
    log.info(`reloaded ${file} (${why}): ${parsed.users.size} user(s)`);
  }

  /** Reloads when the file changed, checking at most once per interval. */
  #maybeReload(): Promise<void> {
    const now = Date.now();
    if (this.#checking || now - this.#lastCheck < this.#options.reloadIntervalMs) {
      return this.#checking ?? Promise.resolve();
    }
    this.#lastCheck = now;
    const checking = (async () => {
      const stamp = await stampOf(this.#options.file).catch(() => null);
      if (stamp === null || !sameStamp(this.#stamp, stamp)) await this.#reloadNow("file changed");
    })().finally(() => {
      if (this.#checking === checking) this.#checking = null;
    });
    this.#checking = checking;
    return checking;
  }

  /**
   * Checks the request's Basic credentials: cached ones at once; others,
   * unless the throttle refuses them, on a Worker. Credentials that cannot
   * belong to any user (too long, not a user name) are refused unchecked and
   * leave nothing behind.
   */
  async authenticate(request: Request, peer: Peer = UNKNOWN_PEER): Promise<AuthResult> {
    await this.#maybeReload();
    const credentials = parseBasicAuth(request.headers.get("authorization"));
    if ("error" in credentials) return refused(credentials.error);
    const { user, password } = credentials;
    if (!USERNAME_PATTERN.test(user)) return refused("not a valid user name");
    const key = createHash("sha256").update(`${user}\0${password}`).digest("hex");
    const now = Date.now();
    const { users } = this.#table;
    const cached = this.#cache.get(key);
    if (cached && cached.expires > now && users.has(user)) {
      cached.expires = now + this.#options.cacheTtlMs;
      return { kind: "ok", user };
    }
    const attempt = this.#options.throttle?.start(peer.client, user, users.has(user)) ?? null;
    if (attempt && "why" in attempt) {
      return {
        kind: "throttled",
        user,
        reason: attempt.why,
        retryAfterSeconds: attempt.retryAfterSeconds,
      };
    }
    const started = performance.now();
    const hash = users.get(user);
    let matched: boolean;
    try {
      matched = await this.#verifyOnce(key, password, hash);
    } catch (err) {
      attempt?.abandoned();
      if (!(err instanceof VerifierBusy)) throw err;
      return { kind: "busy", user, reason: err.message, retryAfterSeconds: 1 };
    }
    if (!matched || hash === undefined) {
      attempt?.failed();
      await this.#atLeastStandIn(started);
      const reason = hash === undefined ? "unknown user" : "wrong password";
      return { kind: "refused", reason, user, checked: true };
    }
    attempt?.succeeded();
    this.#remember(key, user, now);
    return { kind: "ok", user };
  }

  /** One check per user and password at a time: concurrent requests share it. */
  #verifyOnce(key: string, password: string, hash: string | undefined): Promise<boolean> {
    let verification = this.#pending.get(key);
    if (!verification) {
      verification = this.#verify(password, hash);
      this.#pending.set(key, verification);
      verification.finally(() => this.#pending.delete(key)).catch(() => {});
    }
    return verification;
  }

  /**
   * Checks a password; an unknown user's against the costliest hash of the
   * file, so it takes as long as a wrong password (no user names by timing).
   */
  async #verify(password: string, hash: string | undefined): Promise<boolean> {
    const { standIn } = this.#table;
    const target = hash ?? standIn;
    if (target === undefined) return false;
    const started = performance.now();
    const matched = await this.#options.verify(password, target);
    if (target === standIn) this.#noteStandIn(performance.now() - started);
    return hash !== undefined && matched;
  }

  #noteStandIn(ms: number): void {
    this.#standInMs = this.#standInMs * 0.8 + ms * 0.2;
  }

  /** Starts the stand-in's running average from its format's estimate, until checks measure it. */
  #estimateStandIn(): void {
    const { standIn } = this.#table;
    this.#standInMs = standIn === undefined ? 0 : estimatedCheckMs(standIn);
  }

  /** Waits until a refused check has taken as long as one against the stand-in. */
  async #atLeastStandIn(started: number): Promise<void> {
    const left = this.#standInMs - (performance.now() - started);
    if (left > 1) await new Promise((resolve) => setTimeout(resolve, left));
  }

  /** Caches verified credentials; past the bound, expired ones go, then the oldest. */
  #remember(key: string, user: string, now: number): void {
    if (this.#cache.size >= MAX_CACHED) {
      for (const [old, entry] of this.#cache) if (entry.expires <= now) this.#cache.delete(old);
      for (const old of this.#cache.keys()) {
        if (this.#cache.size < MAX_CACHED) break;
        this.#cache.delete(old);
      }
    }
    this.#cache.delete(key);
    this.#cache.set(key, { user, expires: now + this.#options.cacheTtlMs });
  }
}
