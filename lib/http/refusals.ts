/**
 * Refusals an administrator should hear of without `--debug`: every 403,
 * and a 404 that concerns a repository (a path that names none, a missing
 * repository), with the reason, at most 20 lines a minute; a missing object
 * (restic's own probes) stays in the debug log. Client strings reach the
 * log escaped (`base/log.ts`).
 *
 * @module
 */

import type { Logger } from "../base/log.ts";
import { parseTarget } from "../base/repo_path.ts";

/** Lines per window at most, and the window (ms). */
const LINES_PER_WINDOW = 20;
const WINDOW_MS = 60_000;

/** One refused request. */
export interface Refusal {
  method: string;
  path: string;
  status: number;
  reason: string;
  user: string | null;
  address: string;
}

/** Logs refusals at the default level, a bounded number per minute. */
export class RefusalLog {
  readonly #log: Logger;
  readonly #now: () => number;
  #windowStart = 0;
  #written = 0;
  #dropped = 0;

  /**
   * @param log Where the lines go.
   * @param now The clock (tests move it).
   */
  constructor(log: Logger, now: () => number = Date.now) {
    this.#log = log;
    this.#now = now;
  }

  /**
   * Notes a refused request; logs it when it is one to tell.
   *
   * @param refusal The request and why it was refused.
   */
  note(refusal: Refusal): void {
    if (!tells(refusal)) return;
    const now = this.#now();
    if (now - this.#windowStart >= WINDOW_MS) {
      if (this.#dropped > 0) {
        this.#log.info(`refused: ${this.#dropped} more not logged in the last minute`);
      }
      [this.#windowStart, this.#written, this.#dropped] = [now, 0, 0];
    }
    if (this.#written >= LINES_PER_WINDOW) {
      this.#dropped++;
      return;
    }
    this.#written++;
    const who = refusal.user === null ? "" : ` (user "${refusal.user}")`;
    this.#log.info(
      `refused ${refusal.method} ${refusal.path.slice(0, 200)} from ${refusal.address}${who}: ` +
        `${refusal.status} ${refusal.reason}`,
    );
  }
}

/** 403s, and 404s of paths that name no repository, of a repository or of a listing. */
function tells(refusal: Refusal): boolean {
  if (refusal.status === 403) return true;
  if (refusal.status !== 404) return false;
  const target = parseTarget(refusal.path);
  return target === null || target.kind === "repo" || target.kind === "list";
}
