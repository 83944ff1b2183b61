/**
 * Size limits around any storage: a budget for the whole data directory
 * (`--max-size`) and per-folder limits from the policy file, checked against
 * the {@link Inventory} (which `withInventory` keeps up to date).
 *
 * @module
 */

import type { Inventory } from "./inventory.ts";
import { formatRepo, type RepoPath } from "../base/repo_path.ts";
import { delegate } from "./delegate.ts";
import {
  type ObjectRef,
  type SaveOptions,
  type SaveResult,
  type Storage,
  StorageError,
} from "./types.ts";

/** A size limit applied to one concrete folder. */
export interface ScopedLimit {
  /** The folder the limit counts, as repository segments. */
  scope: RepoPath;
  maxBytes: number;
}

/** Limits that apply to a repository. */
export type LimitsFor = (repo: RepoPath) => ScopedLimit[];

/**
 * How far writes of locks and index files may go past a spent limit: a full
 * repository must stay recoverable (restic#3582). Every restic command
 * starts by writing a lock, and `forget --prune` writes the new index before
 * it deletes anything. At least 1 MiB, or 1% of the limit; bounded, so that
 * these types cannot be used to store much more.
 *
 * @param maxBytes The limit.
 * @returns The bytes that may go past it.
 */
export function recoveryOverdraft(maxBytes: number): number {
  return Math.max(1 << 20, Math.floor(maxBytes / 100));
}

/**
 * Servers sharing a location (a bucket), as the limits see them: each
 * server may take only its share of what is left, so that servers that
 * cannot see each other's newest writes yet cannot overshoot together.
 */
export interface QuotaSharing {
  /** Servers on the location now, this one included. */
  servers(): number;
  /** Bytes this server stored under a folder that the others may not count yet. */
  unseenUnder(scope: RepoPath): number;
}

/** An admitted upload's hold on the budget. */
interface Ticket {
  onReceive?: (totalBytes: number) => void;
  release(): void;
}

/** The budgets of every scope: what is stored, held by uploads under way, and new repositories. */
class Budgets {
  /** Bytes promised to uploads under way, per scope, so concurrent ones cannot overshoot. */
  readonly #reserved = new Map<string, number>();
  /** Repositories being created (or first stored into) now, and how many calls share each. */
  readonly #arriving = new Map<string, number>();

  constructor(
    readonly inventory: Inventory,
    readonly limitsFor: LimitsFor,
    readonly footprint: number,
    readonly sharing?: QuotaSharing,
  ) {}

  /**
   * What this server may still admit under a folder. Alone: the limit less
   * what is stored and held. With N servers: an Nth of what is left as all
   * of them know it, less what this one stored since (which the others may
   * not see yet), so that together they stay within the limit.
   */
  #free(scope: RepoPath, limit: number): number {
    const stored = this.inventory.bytesUnder(scope) +
      this.footprint * this.inventory.reposUnder(scope);
    const held = this.#reserved.get(formatRepo(scope)) ?? 0;
    const servers = this.sharing?.servers() ?? 1;
    if (servers <= 1) return limit - stored - held;
    const unseen = this.sharing!.unseenUnder(scope);
    return Math.floor((limit - (stored - unseen)) / servers) - unseen - held;
  }

  #hold(limits: ScopedLimit[], bytes: number): void {
    for (const { scope } of limits) {
      const key = formatRepo(scope);
      this.#reserved.set(key, (this.#reserved.get(key) ?? 0) + bytes);
    }
  }

  /**
   * Admits an upload: refuses a Content-Length that does not fit, then
   * reserves bytes as they arrive, so that uploads running side by side
   * (chunked ones too) can never take more than the limit together. Locks
   * and index files may go past it by {@link recoveryOverdraft}.
   */
  admit(ref: ObjectRef, contentLength: number | null): Ticket {
    const limits = this.limitsFor(ref.repo);
    const recovery = ref.type === "locks" || ref.type === "index";
    let held = 0;
    const grow = (total: number): void => {
      if (total <= held) return;
      for (const { scope, maxBytes } of limits) {
        const free = this.#free(scope, maxBytes);
        if (total - held > free + (recovery ? recoveryOverdraft(maxBytes) : 0)) {
          throw new StorageError(
            "QuotaExceeded",
            `${total} bytes do not fit in the ${held + free} left of ${maxBytes} under ${
              formatRepo(scope)
            }`,
          );
        }
      }
      this.#hold(limits, total - held);
      held = total;
    };
    if (contentLength !== null) grow(contentLength);
    return {
      onReceive: limits.length === 0 ? undefined : grow,
      release: () => this.#hold(limits, -held),
    };
  }

  /**
   * Admits a new repository whose folders fit (the medium's footprint),
   * holding them until the inventory counts the repository; calls running
   * side by side for one new repository hold them once.
   *
   * @returns What releases the hold.
   */
  admitRepo(repo: RepoPath): () => void {
    const { footprint } = this;
    if (footprint === 0 || this.inventory.hasRepo(repo)) return () => {};
    const key = formatRepo(repo);
    const limits = this.limitsFor(repo);
    const sharing = this.#arriving.get(key) ?? 0;
    if (sharing === 0) {
      for (const { scope, maxBytes } of limits) {
        const free = this.#free(scope, maxBytes);
        if (footprint > free) {
          throw new StorageError(
            "QuotaExceeded",
            `a new repository takes ${footprint} bytes; ${
              Math.max(0, free)
            } are left of ${maxBytes} under ${formatRepo(scope)}`,
          );
        }
      }
      this.#hold(limits, footprint);
    }
    this.#arriving.set(key, sharing + 1);
    return () => {
      const left = this.#arriving.get(key)! - 1;
      if (left > 0) return void this.#arriving.set(key, left);
      this.#arriving.delete(key);
      this.#hold(limits, -footprint);
    };
  }
}

/**
 * Wraps a storage so that uploads and new repositories respect the size
 * limits. The inventory must be kept by a storage below this one
 * (`withInventory`).
 *
 * @param inner The storage that holds the bytes.
 * @param inventory Usage, for the limits.
 * @param limitsFor The limits for a repository (none: unlimited).
 * @param sharing The other servers on the location, when it is shared.
 * @returns The wrapped storage.
 */
export function withQuota(
  inner: Storage,
  inventory: Inventory,
  limitsFor: LimitsFor,
  sharing?: QuotaSharing,
): Storage {
  const budgets = new Budgets(inventory, limitsFor, inner.repoFootprintBytes, sharing);
  return {
    ...delegate(inner),
    async createRepo(repo, options): Promise<void> {
      const release = budgets.admitRepo(repo);
      try {
        await inner.createRepo(repo, options);
      } finally {
        release();
      }
    },
    async save(ref: ObjectRef, body, options: SaveOptions): Promise<SaveResult> {
      // Storing into a repository nobody created makes its folders too: they count the same.
      const releaseRepo = budgets.admitRepo(ref.repo);
      try {
        const ticket = budgets.admit(ref, options.contentLength);
        try {
          return await inner.save(ref, body, { ...options, onReceive: ticket.onReceive });
        } finally {
          ticket.release();
        }
      } finally {
        releaseRepo();
      }
    },
  };
}
