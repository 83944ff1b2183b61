/**
 * Failed logins, counted per client address and per known user in fixed
 * windows: after too many in one window, further logins from that address
 * (or for that user) are refused with 429 until the window ends, without
 * checking the password.
 *
 * What a client can make it remember is bounded, and junk cannot evict what
 * protects real users:
 * - a refusal creates no state, and only a checked password counts;
 * - per-address windows are keyed by the address (an IPv6 client by its
 *   /64), a key of bounded length, in a table of bounded size;
 * - per-user windows exist only for users of the password file, so a flood
 *   of invented names creates none (and cannot push a real user's count out);
 * - addresses a user logged in from recently are remembered per user (a few
 *   each), and are exempt from that user's cap: guessing from elsewhere
 *   cannot lock the real user out of their usual address. They still count
 *   against their address's own limit.
 *
 * @module
 */

import { throttleKey } from "./client_address.ts";
import type { Logger } from "../base/log.ts";

/** The throttle's limits. */
export interface ThrottleLimits {
  /** Failed logins an address may make per window. */
  perAddress: number;
  /** Failed logins a user name may see per window, from all addresses together. */
  perUser: number;
  /** The window, ms. */
  windowMs: number;
}

/** The throttle's limits when no flag changes them. */
export const DEFAULT_LIMITS: ThrottleLimits = { perAddress: 5, perUser: 50, windowMs: 60_000 };

/**
 * Addresses with a window at most. A key is an IPv4 address or an IPv6 /64
 * (under 45 bytes), so the table stays under a few MiB when full.
 */
export const MAX_ADDRESSES = 50_000;
/** Addresses remembered per user as recently successful; the oldest go first. */
export const KNOWN_ADDRESSES_PER_USER = 8;
/** How long a successful login exempts its address from the user's cap. */
export const KNOWN_ADDRESS_MS = 30 * 24 * 3600 * 1000;

interface Window {
  started: number;
  failures: number;
  /** Checks under way: counted against the limit, so a burst cannot pass it. */
  pending: number;
}

/** A refusal: how long until the window ends. */
export interface Refusal {
  retryAfterSeconds: number;
  why: string;
}

/** A login being checked: report how it ended, exactly once. */
export interface LoginAttempt {
  /** The password was checked and refused. */
  failed(): void;
  /** The password was right: the address starts afresh. */
  succeeded(): void;
  /** The check did not run (too busy, an error): nothing is counted. */
  abandoned(): void;
}

/** One counter the attempt is held against. */
interface Counted {
  table: Map<string, Window>;
  key: string;
  limit: number;
  what: string;
  /** The line logged when the limit is reached. */
  note: () => string;
}

/** Counts failed logins and refuses those past the limit. */
export class LoginThrottle {
  readonly #limits: ThrottleLimits;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #addresses = new Map<string, Window>();
  /** Keyed only by users of the password file. */
  readonly #users = new Map<string, Window>();
  /** User → address key → time of the last successful login from there. */
  readonly #knownAddresses = new Map<string, Map<string, number>>();
  #failedLogins = 0;
  #throttled = 0;

  /**
   * @param limits Failures per address and per user, and the window.
   * @param log Where each throttled address or user is reported, once per window.
   * @param now The clock (tests move it).
   */
  constructor(limits: ThrottleLimits, log: Logger, now: () => number = Date.now) {
    this.#limits = limits;
    this.#log = log;
    this.#now = now;
  }

  /** Failed logins so far (every password checked and refused). */
  get failedLogins(): number {
    return this.#failedLogins;
  }

  /** Logins refused with 429 so far, without checking the password. */
  get throttledRequests(): number {
    return this.#throttled;
  }

  /** Keys held now, across every table (for tests: what a flood leaves behind). */
  get size(): number {
    let known = 0;
    for (const addresses of this.#knownAddresses.values()) known += addresses.size;
    return this.#addresses.size + this.#users.size + known;
  }

  /**
   * Lets a login be checked, or refuses it: a check under way counts
   * against the limit until it ends, so a burst of concurrent guesses gets
   * no more checks than a slow one. A refusal leaves nothing behind.
   *
   * @param address The client's address.
   * @param user The user name tried.
   * @param known Whether the name is a user of the password file (only those get a counter).
   * @returns A refusal (answer 429), or the attempt to report on.
   */
  start(address: string, user: string, known: boolean): Refusal | LoginAttempt {
    const now = this.#now();
    const addressKey = throttleKey(address);
    const counted = this.#countersFor(
      address,
      addressKey,
      user,
      known && !this.#isKnownAddress(user, addressKey, now),
    );
    for (const { table, key, limit, what } of counted) {
      const window = this.#current(table, key, now);
      if (!window || window.failures + window.pending < limit) continue;
      this.#throttled++;
      const retryAfterSeconds = Math.max(
        1,
        Math.ceil((window.started + this.#limits.windowMs - now) / 1000),
      );
      return { retryAfterSeconds, why: `too many failed logins ${what}` };
    }
    const windows = counted.map(({ table, key }) => this.#open(table, key, now));
    for (const window of windows) window.pending++;
    let open = true;
    const end = (outcome: "failed" | "succeeded" | "abandoned") => {
      if (!open) return;
      open = false;
      for (const [index, window] of windows.entries()) {
        window.pending--;
        const { table, key, limit, note } = counted[index];
        if (outcome === "failed") {
          window.failures++;
          if (window.failures === limit) this.#log.warn(note());
        } else if (window.failures === 0 && window.pending === 0) {
          table.delete(key); // nothing to remember
        }
      }
      if (outcome === "failed") this.#failedLogins++;
      if (outcome !== "succeeded") return;
      // A success clears the address, not the user's count: an attacker who
      // knows one password must not reset the count for others.
      this.#addresses.delete(addressKey);
      this.#rememberAddress(user, addressKey, now);
    };
    return {
      failed: () => end("failed"),
      succeeded: () => end("succeeded"),
      abandoned: () => end("abandoned"),
    };
  }

  /** The counters an attempt is held against: its address, and a known user's name. */
  #countersFor(address: string, addressKey: string, user: string, perUser: boolean): Counted[] {
    const seconds = Math.round(this.#limits.windowMs / 1000);
    const counted: Counted[] = [{
      table: this.#addresses,
      key: addressKey,
      limit: this.#limits.perAddress,
      what: `from ${address}`,
      note: () =>
        `login throttled: ${this.#limits.perAddress} failed logins from ${address} within ${seconds}s (last user tried "${user}"); answering 429 until the window ends`,
    }];
    if (perUser) {
      counted.push({
        table: this.#users,
        key: user,
        limit: this.#limits.perUser,
        what: `for user "${user}"`,
        note: () =>
          `login throttled: ${this.#limits.perUser} failed logins for user "${user}" within ${seconds}s (last from ${address}); answering 429 until the window ends`,
      });
    }
    return counted;
  }

  /** The window of a key, when there is one and it has not ended. */
  #current(table: Map<string, Window>, key: string, now: number): Window | undefined {
    const window = table.get(key);
    if (window && now - window.started >= this.#limits.windowMs && window.pending === 0) {
      table.delete(key);
      return undefined;
    }
    return window;
  }

  /** The window of a key, opened when there is none. */
  #open(table: Map<string, Window>, key: string, now: number): Window {
    let window = this.#current(table, key, now);
    if (!window) {
      window = { started: now, failures: 0, pending: 0 };
      if (table === this.#addresses) this.#makeRoom(now);
      table.set(key, window);
    }
    return window;
  }

  /**
   * Keeps the address table under its bound: ended windows go first, then
   * the oldest. Only a client holding that many addresses at once gets here,
   * and it gets its guesses per address whatever is forgotten.
   */
  #makeRoom(now: number): void {
    if (this.#addresses.size < MAX_ADDRESSES) return;
    for (const [key, window] of this.#addresses) {
      if (now - window.started >= this.#limits.windowMs && window.pending === 0) {
        this.#addresses.delete(key);
      }
    }
    for (const [key, window] of this.#addresses) {
      if (this.#addresses.size < MAX_ADDRESSES) break;
      if (window.pending === 0) this.#addresses.delete(key);
    }
  }

  #isKnownAddress(user: string, addressKey: string, now: number): boolean {
    const seen = this.#knownAddresses.get(user)?.get(addressKey);
    return seen !== undefined && now - seen < KNOWN_ADDRESS_MS;
  }

  #rememberAddress(user: string, addressKey: string, now: number): void {
    let addresses = this.#knownAddresses.get(user);
    if (!addresses) this.#knownAddresses.set(user, addresses = new Map());
    addresses.delete(addressKey); // re-inserted as the newest
    addresses.set(addressKey, now);
    for (const key of addresses.keys()) {
      if (addresses.size <= KNOWN_ADDRESSES_PER_USER) break;
      addresses.delete(key);
    }
  }

  /**
   * Forgets what is kept for users no longer in the password file (after a
   * reload), so the per-user tables stay as small as the file.
   *
   * @param isUser Whether a name is still a user.
   */
  forgetUsersExcept(isUser: (user: string) => boolean): void {
    for (const user of this.#users.keys()) if (!isUser(user)) this.#users.delete(user);
    for (const user of this.#knownAddresses.keys()) {
      if (!isUser(user)) this.#knownAddresses.delete(user);
    }
  }
}
