/**
 * The status page's facts, as data: for each repository a viewer may read,
 * its size, objects, snapshots and staleness; for the server, its totals.
 * Made from the inventory alone, never a walk of the storage. Pure.
 *
 * @module
 */

import { type Inventory, type RepoStats, shownObjects } from "../storage/inventory.ts";
import { formatRepo, type RepoPath } from "../base/repo_path.ts";
import type { ObjectType } from "../base/restic.ts";
import type { Health } from "../storage/types.ts";
import type { LimitsFor } from "../storage/quota.ts";

/** Days shown on each repository's timeline, today included. */
export const TIMELINE_DAYS = 30;

const DAY_MS = 86_400_000;

/** One repository as the page and the JSON show it. */
export interface RepoStatus {
  /** `/office/anna/`. */
  path: string;
  /** Bytes of its objects and config, as `/metrics` counts them. */
  storedBytes: number;
  objects: Record<ObjectType, number>;
  /** Snapshot objects stored. */
  snapshots: number;
  /** ISO time of the newest snapshot object, or `null` when there is none. */
  newestSnapshot: string | null;
  /** ISO time of the newest object written, or `null`. */
  lastWrite: string | null;
  /** No snapshot, or the newest older than `--stale-after`. */
  stale: boolean;
  /** Snapshots made on each of the last {@link TIMELINE_DAYS} days (UTC), oldest first. */
  timeline: { day: string; snapshots: number }[];
  /** The policy's size limit that leaves it the least room, or `null` when none applies. */
  limit: RepoLimit | null;
}

/** A policy size limit as a repository's page shows it. */
export interface RepoLimit {
  /** The folder the limit counts: the repository itself, or a folder it shares the limit with. */
  scope: string;
  maxBytes: number;
  /** Bytes stored under `scope`; `null` when that folder holds repositories the viewer may not see. */
  usedBytes: number | null;
}

/** The server as a caller may see it. */
export interface ServerStatus {
  version: string;
  startedAt: string;
  uptimeSeconds: number;
  generatedAt: string;
  /** Bytes stored in the whole server; `null` for a caller who may not see every repository. */
  storedBytes: number | null;
  /** `--max-size`, shown with the server total only. */
  maxSizeBytes: number | null;
  /** Free space of the medium, where it has a bound it knows. */
  freeBytes: number | null;
  staleAfterSeconds: number;
  /** Whether what was stored before the start has been counted. */
  inventoryComplete: boolean;
}

/** Everything the page shows. */
export interface StatusReport {
  server: ServerStatus;
  repositories: RepoStatus[];
}

/** What the status page is built from. */
export interface StatusSource {
  inventory: Inventory;
  /** The medium's cached health, for the free space. */
  health(): Promise<Health>;
  version: string;
  startedMs: number;
  staleAfterSeconds: number;
  maxSizeBytes: number | null;
  /** The policy's size limits for a repository (`--max-size` is the server's, not these). */
  limitsFor?: LimitsFor;
  now?: () => number;
}

/** Who asks, and what they may see. */
export interface Viewer {
  /** Whether the caller may read a repository. */
  mayRead(repo: RepoPath): boolean;
  /** Whether the caller may see every repository (no private repositories, no policy). */
  seesEverything: boolean;
}

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function timelineOf(snapshotTimes: Iterable<number>, nowMs: number): RepoStatus["timeline"] {
  const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
  const first = today - (TIMELINE_DAYS - 1) * DAY_MS;
  const counts = new Array<number>(TIMELINE_DAYS).fill(0);
  for (const time of snapshotTimes) {
    if (time >= first && time < today + DAY_MS) counts[Math.floor((time - first) / DAY_MS)]++;
  }
  return counts.map((snapshots, index) => ({ day: utcDay(first + index * DAY_MS), snapshots }));
}

/** The limit with the least room left, as the viewer may see it. */
function limitOf(source: StatusSource, viewer: Viewer, repo: RepoPath): RepoLimit | null {
  let tightest: RepoLimit | null = null;
  let room = Infinity;
  for (const { scope, maxBytes } of source.limitsFor?.(repo) ?? []) {
    const used = source.inventory.bytesUnder(scope);
    if (maxBytes - used >= room) continue;
    room = maxBytes - used;
    // A shared folder's total would tell of repositories the viewer cannot see.
    const own = scope.length >= repo.length || viewer.seesEverything;
    tightest = { scope: formatRepo(scope), maxBytes, usedBytes: own ? used : null };
  }
  return tightest;
}

function repoStatus(
  path: string,
  stats: RepoStats,
  nowMs: number,
  staleMs: number,
  limit: RepoLimit | null,
): RepoStatus {
  let newest = 0;
  for (const time of stats.snapshots.values()) if (time > newest) newest = time;
  return {
    path,
    storedBytes: stats.bytes,
    objects: shownObjects(stats),
    snapshots: stats.snapshots.size,
    newestSnapshot: newest > 0 ? new Date(newest).toISOString() : null,
    lastWrite: stats.lastWriteMs > 0 ? new Date(stats.lastWriteMs).toISOString() : null,
    stale: newest === 0 || nowMs - newest > staleMs,
    timeline: timelineOf(stats.snapshots.values(), nowMs),
    limit,
  };
}

function hasConfig(stats: RepoStats): boolean {
  let objects = 0;
  for (const count of Object.values(stats.objects)) objects += count;
  return stats.count > objects;
}

function parsePath(path: string): RepoPath {
  return path.split("/").filter((segment) => segment !== "");
}

/**
 * The report for a viewer: the repositories at or below `scope` that the
 * viewer may read, by path.
 *
 * @param source The inventory and server facts.
 * @param viewer Who asks.
 * @param scope `[]` for the whole server, or a repository's segments.
 * @returns The report; `repositories` is empty when nothing is visible.
 */
export async function buildReport(
  source: StatusSource,
  viewer: Viewer,
  scope: RepoPath,
): Promise<StatusReport> {
  const nowMs = (source.now ?? Date.now)();
  const prefix = formatRepo(scope);
  const staleMs = source.staleAfterSeconds * 1000;
  const repositories: RepoStatus[] = [];
  for (const [path, stats] of source.inventory.repos()) {
    // A repository exists while its config does; objects without one are
    // the remains of a removal or of a repository never initialised.
    if (!hasConfig(stats) || !path.startsWith(prefix)) continue;
    const repo = parsePath(path);
    if (!viewer.mayRead(repo)) continue;
    const limit = limitOf(source, viewer, repo);
    repositories.push(repoStatus(path, stats, nowMs, staleMs, limit));
  }
  repositories.sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const health = await source.health().catch(() => null);
  return {
    server: {
      version: source.version,
      startedAt: new Date(source.startedMs).toISOString(),
      uptimeSeconds: Math.max(0, Math.floor((nowMs - source.startedMs) / 1000)),
      generatedAt: new Date(nowMs).toISOString(),
      storedBytes: viewer.seesEverything ? source.inventory.bytesUnder([]) : null,
      maxSizeBytes: viewer.seesEverything ? source.maxSizeBytes : null,
      freeBytes: health?.freeBytes ?? null,
      staleAfterSeconds: source.staleAfterSeconds,
      inventoryComplete: source.inventory.complete,
    },
    repositories,
  };
}
