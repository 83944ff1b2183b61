/**
 * Failed logins, counted per client address and per user name in fixed
 * windows: after too many in one window, further logins from that address
 * (or for that user) are refused with 429 until the window ends, without
 * checking the password. A successful login clears its address. Memory is
 * bounded however many addresses try.
 *
 * @module
 */

import { throttleKey } from "./client_address.ts";
import type { Logger } from "./log.ts";

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

/** How many keys are remembered at most; the oldest go first beyond it. */
const MAX_KEYS = 50_000;

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

/** Counts failed logins and refuses those past the limit. */
export class LoginThrottle {
  readonly #limits: ThrottleLimits;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();
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

  #current(key: string, now: number): Window | undefined {
    const window = this.#windows.get(key);
    if (window && now - window.started >= this.#limits.windowMs) {
      this.#windows.delete(key);
      return undefined;
    }
    return window;
  }

  #window(key: string, now: number): Window {
    let window = this.#current(key, now);
    if (!window) {
      window = { started: now, failures: 0, pending: 0 };
      this.#remember(key, window);
    }
    return window;
  }

  /**
   * Lets a login be checked, or refuses it: a check under way counts
   * against the limit until it ends, so a burst of concurrent guesses gets
   * no more checks than a slow one.
   *
   * @param address The client's address.
   * @param user The user name tried.
   * @returns A refusal (answer 429), or the attempt to report on.
   */
  start(address: string, user: string): Refusal | LoginAttempt {
    const now = this.#now();
    const seconds = Math.round(this.#limits.windowMs / 1000);
    const keys: [string, number, string, () => string][] = [
      [
        `a ${throttleKey(address)}`,
        this.#limits.perAddress,
        `from ${address}`,
        () =>
          `login throttled: ${this.#limits.perAddress} failed logins from ${address} within ${seconds}s (last user tried "${user}"); answering 429 until the window ends`,
      ],
      [
        `u ${user}`,
        this.#limits.perUser,
        `for user "${user}"`,
        () =>
          `login throttled: ${this.#limits.perUser} failed logins for user "${user}" within ${seconds}s (last from ${address}); answering 429 until the window ends`,
      ],
    ];
    const windows = keys.map(([key]) => this.#window(key, now));
    for (const [index, [, limit, what]] of keys.entries()) {
      const window = windows[index];
      if (window.failures + window.pending < limit) continue;
      this.#throttled++;
      const retryAfterSeconds = Math.max(
        1,
        Math.ceil((window.started + this.#limits.windowMs - now) / 1000),
      );
      return { retryAfterSeconds, why: `too many failed logins ${what}` };
    }
    for (const window of windows) window.pending++;
    let open = true;
    const end = (outcome: "failed" | "succeeded" | "abandoned") => {
      if (!open) return;
      open = false;
      for (const [index, window] of windows.entries()) {
        window.pending--;
        if (outcome !== "failed") continue;
        window.failures++;
        if (window.failures === keys[index][1]) this.#log.warn(keys[index][3]());
      }
      if (outcome === "failed") this.#failedLogins++;
      // A success clears the address, not the user name: an attacker who
      // knows one password must not reset the count for others.
      if (outcome === "succeeded") this.#windows.delete(keys[0][0]);
    };
    return {
      failed: () => end("failed"),
      succeeded: () => end("succeeded"),
      abandoned: () => end("abandoned"),
    };
  }

  #remember(key: string, window: Window): void {
    if (this.#windows.size >= MAX_KEYS) {
      const now = this.#now();
      for (const [old, entry] of this.#windows) {
        if (now - entry.started >= this.#limits.windowMs) this.#windows.delete(old);
      }
      // Still full: forget the oldest windows (Maps keep insertion order).
      for (const old of this.#windows.keys()) {
        if (this.#windows.size < MAX_KEYS) break;
        this.#windows.delete(old);
      }
    }
    this.#windows.set(key, window);
  }
}
