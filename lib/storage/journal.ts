/**
 * The journals of servers sharing a location: what one change looks like,
 * how it applies to an inventory, and the keys a listing saw (to tell
 * which changes a listing already counted).
 *
 * @module
 */

import { formatRepo, type RepoPath } from "../base/repo_path.ts";
import { isObjectType } from "../base/restic.ts";
import type { Inventory, StoredChange } from "./inventory.ts";
import type { ObjectRef } from "./types.ts";

/** One change, as journals carry it: numbered in its server's journal from 1. */
export interface Change extends StoredChange {
  s: number;
}

/** A server's journal note: who, whether alive, and its recent changes. */
export interface Journal {
  v: 1;
  server: string;
  started: number;
  /** When it was written: a server that stops writing has stopped. */
  beat: number;
  /** Written at a graceful shutdown: nothing of it is lost, no listing needed. */
  closed?: boolean;
  changes: Change[];
}

/** A change's object key, as the listing knows it. */
export function changeKey(change: Change): string {
  return `${formatRepo(change.r)}${change.k}/${change.n ?? ""}`;
}

export function refKey(ref: ObjectRef): string {
  return `${formatRepo(ref.repo)}${ref.type}/${ref.type === "config" ? "" : ref.name}`;
}

/** 52 bits of two FNV-1a hashes: a key's place in a listing without the key's string. */
function hashKey(key: string): number {
  let a = 0x811c9dc5, b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193 + 0x10000);
  }
  return (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff);
}

/**
 * The keys a listing saw, as sorted 52-bit hashes: 8 bytes a key, kept only
 * until the changes that raced the listing have arrived (a collision, about
 * 1 in 10,000 at a million keys, miscounts one object until the next listing).
 */
export class ListedKeys {
  #chunks: Float64Array[] = [];
  #current = new Float64Array(65536);
  #fill = 0;
  #sorted: Float64Array | null = null;

  add(key: string): void {
    if (this.#fill === this.#current.length) {
      this.#chunks.push(this.#current);
      this.#current = new Float64Array(65536);
      this.#fill = 0;
    }
    this.#current[this.#fill++] = hashKey(key);
  }

  /** Sorts what was added; `has` works from then on. */
  seal(): void {
    const total = this.#chunks.length * 65536 + this.#fill;
    const all = new Float64Array(total);
    this.#chunks.forEach((chunk, i) => all.set(chunk, i * 65536));
    all.set(this.#current.subarray(0, this.#fill), this.#chunks.length * 65536);
    this.#chunks = [];
    this.#current = new Float64Array(0);
    this.#sorted = all.sort();
  }

  has(key: string): boolean {
    const sorted = this.#sorted!;
    const hash = hashKey(key);
    let low = 0, high = sorted.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (sorted[mid] === hash) return true;
      if (sorted[mid] < hash) low = mid + 1;
      else high = mid - 1;
    }
    return false;
  }

  get bytes(): number {
    return (this.#sorted?.length ?? this.#chunks.length * 65536 + this.#fill) * 8;
  }
}

/** Applies a change to an inventory without any check. */
export function applyChange(inventory: Inventory, change: Change): void {
  const repo: RepoPath = change.r;
  if (change.op === "c") return inventory.repoCreated(repo);
  if (change.op === "d") return inventory.removedRepo(repo);
  const type = change.k ?? "";
  if (type !== "config" && !isObjectType(type)) return;
  const ref =
    (type === "config" ? { repo, type } : { repo, type, name: change.n ?? "" }) as ObjectRef;
  if (change.op === "+") {
    inventory.added(ref, change.z ?? 0, change.t);
    inventory.repoCreated(repo);
  } else inventory.removed(ref, change.z ?? 0);
}

/** What an inventory counts of one key that changes raced a listing on. */
interface KeyCount {
  /** Times the key is counted now: 1 present, 0 absent, -1 a delete counted before its store. */
  counted: number;
  /** The latest change known for the key: whether it left the key present, and when. */
  present: boolean;
  t: number;
}

/** Takes a change as the key's latest unless a later one is known already. */
function noteLatest(count: KeyCount, change: Change): void {
  if (change.t < count.t) return;
  count.present = change.op === "+";
  count.t = change.t;
}

/**
 * The last listing: when it ran, what it saw, and what the inventory counts
 * for each key that changes touched while changes that raced it may still
 * arrive. Changes before it are in it; later ones apply as they are; those
 * in between are checked key by key, so that, in whatever order they
 * arrive, each key ends counted as the latest change left it.
 */
export class Listing {
  readonly #keys = new Map<string, KeyCount>();

  /**
   * @param started When the listing began (epoch ms).
   * @param ended When it ended.
   * @param keys What it saw, until {@link forget}.
   * @param marginMs Clocks of servers, and a store's listing, may lag this much.
   */
  constructor(
    readonly started: number,
    readonly ended: number,
    public keys: ListedKeys | null,
    readonly marginMs: number,
  ) {}

  #raced(change: Change): boolean {
    return change.t <= this.ended + this.marginMs && (change.op === "+" || change.op === "-");
  }

  #count(change: Change): KeyCount | null {
    const key = changeKey(change);
    let count = this.#keys.get(key);
    if (!count && this.keys) {
      const listed = this.keys.has(key);
      count = { counted: listed ? 1 : 0, present: listed, t: 0 };
      this.#keys.set(key, count);
    }
    return count ?? null;
  }

  /**
   * What to apply of a change to what this listing counted: `1` the store
   * (its bytes once more), `-1` the delete (once less), `0` nothing.
   */
  wants(change: Change): -1 | 0 | 1 {
    if (change.t < this.started - this.marginMs) return 0;
    const plain = change.op === "-" ? -1 : 1;
    if (!this.#raced(change)) return plain;
    const count = this.#count(change);
    if (!count) return plain; // the window has long closed
    noteLatest(count, change);
    const step = Math.sign((count.present ? 1 : 0) - count.counted) as -1 | 0 | 1;
    count.counted += step;
    return step;
  }

  /** Notes a change the inventory counted as it is (this server's own). */
  counts(change: Change): void {
    if (!this.#raced(change)) return;
    const count = this.#count(change);
    if (!count) return;
    count.counted += change.op === "+" ? 1 : -1;
    noteLatest(count, change);
  }

  /** Drops what the listing saw: changes that raced it have all arrived. */
  forget(): void {
    this.keys = null;
    this.#keys.clear();
  }
}
