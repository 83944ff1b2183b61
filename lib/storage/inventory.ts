/**
 * What is stored, per repository: bytes, objects per type, snapshot times.
 * Built once from the storage's scan and kept up to date on every write and
 * delete by {@link withInventory}, so quotas, metrics and pages never walk
 * the storage again.
 *
 * @module
 */

import { formatRepo, type RepoPath } from "../base/repo_path.ts";
import { OBJECT_TYPES, type ObjectType } from "../base/restic.ts";
import { delegate } from "./delegate.ts";
import type { ObjectRef, SaveResult, Storage } from "./types.ts";

/** The stored state of one repository. */
export interface RepoStats {
  /** Bytes of every object and the config. */
  bytes: number;
  /** Objects, the config included. */
  count: number;
  objects: Record<ObjectType, number>;
  /** Snapshot name → modification time (ms); snapshots are few, so kept whole. */
  snapshots: Map<string, number>;
  /** Snapshots deleted before their store was counted (servers sharing a location). */
  forgotten: Set<string>;
  /** When anything was last written, epoch ms (0: never): the newest object's time. */
  lastWriteMs: number;
  /** The repository exists (created, or holding a config), not only objects below its path. */
  exists: boolean;
}

/**
 * A repository's object counts as shown: servers sharing a location may learn
 * of a delete before the store it undoes, which leaves a count below 0 for a
 * moment; it reads as 0.
 *
 * @param stats The repository's state.
 * @returns Each type's count, at least 0.
 */
export function shownObjects(stats: RepoStats): Record<ObjectType, number> {
  return Object.fromEntries(
    OBJECT_TYPES.map((type) => [type, Math.max(0, stats.objects[type])]),
  ) as Record<ObjectType, number>;
}

function emptyStats(): RepoStats {
  return {
    bytes: 0,
    count: 0,
    objects: Object.fromEntries(OBJECT_TYPES.map((t) => [t, 0])) as Record<ObjectType, number>,
    snapshots: new Map(),
    forgotten: new Set(),
    lastWriteMs: 0,
    exists: false,
  };
}

/**
 * Per-repository totals, and byte totals for every folder prefix: memory
 * grows with the number of repositories and snapshots, never with the
 * number of objects.
 */
export class Inventory {
  readonly #repos = new Map<string, RepoStats>();
  #complete = false;
  #objects = 0;
  /** `/`, `/a/`, `/a/b/` → bytes stored at or below that folder. */
  readonly #bytesUnder = new Map<string, number>();
  /** `/`, `/a/`, `/a/b/` → repositories at or below that folder. */
  readonly #reposUnder = new Map<string, number>();
  /**
   * The keys of a repository path and of its parent folders, by the path's
   * array: a scan reports thousands of objects with the same array, and a
   * key built for each would be garbage the heap grows on.
   */
  readonly #keys = new WeakMap<RepoPath, string[]>();

  /** `[/, /a/, /a/b/]` for `["a", "b"]`; the last is the repository's own key. */
  #keysOf(repo: RepoPath): string[] {
    let keys = this.#keys.get(repo);
    if (!keys) {
      keys = Array.from(
        { length: repo.length + 1 },
        (_, depth) => formatRepo(repo.slice(0, depth)),
      );
      this.#keys.set(repo, keys);
    }
    return keys;
  }

  #stats(repo: RepoPath): RepoStats {
    const key = this.#keysOf(repo).at(-1)!;
    let stats = this.#repos.get(key);
    if (!stats) this.#repos.set(key, stats = emptyStats());
    return stats;
  }

  #addBytes(repo: RepoPath, delta: number, totals = this.#bytesUnder): void {
    for (const key of this.#keysOf(repo)) totals.set(key, (totals.get(key) ?? 0) + delta);
  }

  /**
   * Records that a repository exists (created, or found with a config);
   * recording it again changes nothing.
   *
   * @param repo The repository.
   */
  repoCreated(repo: RepoPath): void {
    const stats = this.#stats(repo);
    if (stats.exists) return;
    stats.exists = true;
    this.#addBytes(repo, 1, this.#reposUnder);
  }

  /**
   * Tells whether a repository is known to exist.
   *
   * @param repo The repository.
   * @returns `true` once created or found.
   */
  hasRepo(repo: RepoPath): boolean {
    return this.#repos.get(formatRepo(repo))?.exists ?? false;
  }

  /**
   * Repositories at or below a folder.
   *
   * @param scope The folder as repository segments; `[]` is the whole data directory.
   * @returns How many.
   */
  reposUnder(scope: RepoPath): number {
    return this.#reposUnder.get(formatRepo(scope)) ?? 0;
  }

  /**
   * Records a stored object.
   *
   * @param ref The object.
   * @param size Its size.
   * @param mtimeMs When it was written.
   */
  added(ref: ObjectRef, size: number, mtimeMs: number): void {
    this.#objects++;
    const stats = this.#stats(ref.repo);
    stats.count++;
    stats.bytes += size;
    if (mtimeMs > stats.lastWriteMs) stats.lastWriteMs = mtimeMs;
    this.#addBytes(ref.repo, size);
    if (ref.type === "config") return;
    stats.objects[ref.type]++;
    if (ref.type !== "snapshots") return;
    if (stats.forgotten.delete(ref.name)) return;
    stats.snapshots.set(ref.name, mtimeMs);
  }

  /**
   * Records a write that just happened (for the last-write gauge).
   *
   * @param repo The repository.
   * @param nowMs The time.
   */
  touched(repo: RepoPath, nowMs: number): void {
    this.#stats(repo).lastWriteMs = nowMs;
  }

  /**
   * Records a deleted object.
   *
   * @param ref The object.
   * @param size Its size.
   */
  removed(ref: ObjectRef, size: number): void {
    this.#objects--;
    const stats = this.#stats(ref.repo);
    stats.count--;
    stats.bytes -= size;
    this.#addBytes(ref.repo, -size);
    if (ref.type === "config") return;
    // No floor at 0: servers sharing a location may learn of a delete before the store it
    // undoes (a lock stored through one server, deleted through another); the sums stay exact.
    stats.objects[ref.type]--;
    if (ref.type === "snapshots" && !stats.snapshots.delete(ref.name)) {
      stats.forgotten.add(ref.name); // its store, arriving later, is then not counted
    }
  }

  /**
   * Forgets a removed repository; those nested below it stay.
   *
   * @param repo The repository.
   */
  removedRepo(repo: RepoPath): void {
    const key = formatRepo(repo);
    const stats = this.#repos.get(key);
    if (!stats) return;
    this.#addBytes(repo, -stats.bytes);
    if (stats.exists) this.#addBytes(repo, -1, this.#reposUnder);
    this.#objects -= stats.count;
    this.#repos.delete(key);
  }

  /**
   * Bytes stored at or below a folder.
   *
   * @param scope The folder as repository segments; `[]` is the whole data directory.
   * @returns The bytes.
   */
  bytesUnder(scope: RepoPath): number {
    return this.#bytesUnder.get(formatRepo(scope)) ?? 0;
  }

  /** Whether the scan of what was stored before the server started has finished. */
  get complete(): boolean {
    return this.#complete;
  }

  /** Objects (and configs) counted so far. */
  get objects(): number {
    return this.#objects;
  }

  /**
   * Takes over everything another inventory counted (a fresh listing), in
   * one step, so that readers never see a half-built one.
   *
   * @param other The inventory to copy; not used afterwards.
   */
  adopt(other: Inventory): void {
    for (
      const [mine, theirs] of [
        [this.#repos, other.#repos],
        [this.#bytesUnder, other.#bytesUnder],
        [this.#reposUnder, other.#reposUnder],
      ] as [Map<string, unknown>, Map<string, unknown>][]
    ) {
      mine.clear();
      for (const [key, value] of theirs) mine.set(key, value);
    }
    this.#objects = other.#objects;
  }

  /** Marks the scan of what was stored before the start as finished. */
  markComplete(): void {
    this.#complete = true;
  }

  /**
   * Every repository seen, with its stats.
   *
   * @returns Pairs of formatted path (`/a/b/`) and stats.
   */
  repos(): IterableIterator<[string, RepoStats]> {
    return this.#repos.entries();
  }
}

/** A change to what is stored, as this server made it (for servers sharing a location). */
export interface StoredChange {
  /** When, epoch ms. */
  t: number;
  /** `+` object stored, `-` object deleted, `c` repository created, `d` repository removed. */
  op: "+" | "-" | "c" | "d";
  /** The repository. */
  r: RepoPath;
  /** The object's type (`config` too), for `+` and `-`. */
  k?: string;
  /** The object's name (none for the config). */
  n?: string;
  /** The object's size, for `+` and `-`. */
  z?: number;
}

function objectChange(op: "+" | "-", ref: ObjectRef, size: number, t: number): StoredChange {
  return ref.type === "config"
    ? { t, op, r: ref.repo, k: ref.type, z: size }
    : { t, op, r: ref.repo, k: ref.type, n: ref.name, z: size };
}

/**
 * Wraps a storage so that its scan fills the inventory and every write and
 * delete updates it.
 *
 * @param inner The storage that holds the bytes.
 * @param inventory The inventory to keep.
 * @param now The clock, for the last-write time.
 * @param onChange Told of every change made through this storage (a shared view publishes them).
 * @returns The wrapped storage.
 */
export function withInventory(
  inner: Storage,
  inventory: Inventory,
  now: () => number = Date.now,
  onChange: (change: StoredChange) => void = () => {},
): Storage {
  return {
    ...delegate(inner),
    scan: (onObject, options) =>
      inner.scan((found) => {
        inventory.added(found.ref, found.size, found.mtimeMs);
        onObject(found);
      }, {
        ...options,
        onRepo: (repo) => {
          inventory.repoCreated(repo);
          options?.onRepo?.(repo);
        },
      }),
    async createRepo(repo, options) {
      await inner.createRepo(repo, options);
      inventory.repoCreated(repo);
      onChange({ t: now(), op: "c", r: repo });
    },
    async save(ref, body, options): Promise<SaveResult> {
      const result = await inner.save(ref, body, options);
      if (result.created) {
        const time = now();
        inventory.added(ref, result.size, time);
        inventory.touched(ref.repo, time);
        inventory.repoCreated(ref.repo); // a store into a repository nobody created makes it
        onChange(objectChange("+", ref, result.size, time));
      }
      return result;
    },
    async removeRepo(repo, options) {
      const removed = await inner.removeRepo(repo, options);
      inventory.removedRepo(repo);
      if (removed) onChange({ t: now(), op: "d", r: repo });
      return removed;
    },
    async remove(ref, options) {
      const result = await inner.remove(ref, options);
      if (result.existed !== false && result.size !== null) {
        inventory.removed(ref, result.size);
        onChange(objectChange("-", ref, result.size, now()));
      }
      return result;
    },
  };
}
