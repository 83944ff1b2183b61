/**
 * Size limits around any storage: a budget for the whole data directory
 * (`--max-size`) and per-folder limits from the policy file, checked against
 * the {@link Inventory}, which this wrapper also keeps up to date.
 *
 * @module
 */

import type { Inventory } from "../inventory.ts";
import { formatRepo, type RepoPath } from "../repo_path.ts";
import type { ScopedLimit } from "../policy.ts";
import {
  type ObjectRef,
  type SaveOptions,
  type SaveResult,
  type Storage,
  StorageError,
} from "./types.ts";

/** Limits that apply to a repository. */
export type LimitsFor = (repo: RepoPath) => ScopedLimit[];

/** An admitted upload's hold on the budget. */
interface Ticket {
  onReceive?: (totalBytes: number) => void;
  release(): void;
}

/**
 * Wraps a storage so that uploads respect the size limits and every write
 * and delete updates the inventory.
 *
 * @param inner The storage that holds the bytes.
 * @param inventory Usage, filled by start-up recovery.
 * @param limitsFor The limits for a repository (none: unlimited).
 * @param now The clock, for the last-write time.
 * @returns The wrapped storage.
 */
export function withQuota(
  inner: Storage,
  inventory: Inventory,
  limitsFor: LimitsFor,
  now: () => number = Date.now,
): Storage {
  /** Bytes promised to uploads under way, per scope, so concurrent ones cannot overshoot. */
  const reserved = new Map<string, number>();

  function free(scope: RepoPath, limit: number): number {
    return limit - inventory.bytesUnder(scope) - (reserved.get(formatRepo(scope)) ?? 0);
  }

  function hold(limits: ScopedLimit[], bytes: number): void {
    for (const { scope } of limits) {
      const key = formatRepo(scope);
      reserved.set(key, (reserved.get(key) ?? 0) + bytes);
    }
  }

  /**
   * Admits an upload: refuses a Content-Length that does not fit, then
   * reserves bytes as they arrive, so that uploads running side by side
   * (chunked ones too) can never take more than the limit together.
   */
  function admit(repo: RepoPath, contentLength: number | null): Ticket {
    const limits = limitsFor(repo);
    let held = 0;
    const grow = (total: number): void => {
      if (total <= held) return;
      for (const { scope, maxBytes } of limits) {
        if (total - held > free(scope, maxBytes)) {
          throw new StorageError(
            "QuotaExceeded",
            `${total} bytes do not fit in the ${
              held + free(scope, maxBytes)
            } left of ${maxBytes} under ${formatRepo(scope)}`,
          );
        }
      }
      hold(limits, total - held);
      held = total;
    };
    if (contentLength !== null) grow(contentLength);
    return {
      onReceive: limits.length === 0 ? undefined : grow,
      release: () => hold(limits, -held),
    };
  }

  return {
    recover: (onObject) =>
      inner.recover((found) => {
        inventory.added(found.ref, found.size, found.mtimeMs);
        onObject?.(found);
      }),
    createRepo: (repo) => inner.createRepo(repo),
    open: (ref) => inner.open(ref),
    stat: (ref) => inner.stat(ref),
    async save(ref: ObjectRef, body, options: SaveOptions): Promise<SaveResult> {
      const ticket = admit(ref.repo, options.contentLength);
      try {
        const result = await inner.save(ref, body, { ...options, onReceive: ticket.onReceive });
        if (result.created) {
          const time = now();
          inventory.added(ref, result.size, time);
          inventory.touched(ref.repo, time);
        }
        return result;
      } finally {
        ticket.release();
      }
    },
    async remove(ref) {
      const freed = await inner.remove(ref);
      if (freed !== null) inventory.removed(ref, freed);
      return freed;
    },
    list: (repo, type, withSizes) => inner.list(repo, type, withSizes),
    abortUploads: () => inner.abortUploads(),
    checkWritable: () => inner.checkWritable(),
  };
}
