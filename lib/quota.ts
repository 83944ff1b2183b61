/**
 * Size limits around any storage: a budget for the whole data directory
 * (`--max-size`) and per-folder limits from the policy file, checked against
 * the {@link Inventory} (which `withInventory` keeps up to date).
 *
 * @module
 */

import type { Inventory } from "./inventory.ts";
import { formatRepo, type RepoPath } from "./repo_path.ts";
import { delegate } from "./storage/delegate.ts";
import {
  type ObjectRef,
  type SaveOptions,
  type SaveResult,
  type Storage,
  StorageError,
} from "./storage/types.ts";

/** A size limit applied to one concrete folder. */
export interface ScopedLimit {
  /** The folder the limit counts, as repository segments. */
  scope: RepoPath;
  maxBytes: number;
}

/** Limits that apply to a repository. */
export type LimitsFor = (repo: RepoPath) => ScopedLimit[];

/** An admitted upload's hold on the budget. */
interface Ticket {
  onReceive?: (totalBytes: number) => void;
  release(): void;
}

/**
 * Wraps a storage so that uploads respect the size limits. The inventory
 * must be kept by a storage below this one (`withInventory`).
 *
 * @param inner The storage that holds the bytes.
 * @param inventory Usage, for the limits.
 * @param limitsFor The limits for a repository (none: unlimited).
 * @returns The wrapped storage.
 */
export function withQuota(inner: Storage, inventory: Inventory, limitsFor: LimitsFor): Storage {
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
    ...delegate(inner),
    async save(ref: ObjectRef, body, options: SaveOptions): Promise<SaveResult> {
      const ticket = admit(ref.repo, options.contentLength);
      try {
        return await inner.save(ref, body, { ...options, onReceive: ticket.onReceive });
      } finally {
        ticket.release();
      }
    },
  };
}
