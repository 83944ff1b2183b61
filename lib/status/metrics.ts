/**
 * Prometheus metrics: rest-server's blob counters (same names and labels, so
 * existing dashboards work) and per-repository gauges read from the
 * {@link Inventory}, which is kept up to date incrementally: a scrape never
 * walks the data directory.
 *
 * @module
 */

import { type Inventory, type RepoStats, shownObjects } from "../storage/inventory.ts";
import { formatRepo, type RepoPath } from "../base/repo_path.ts";
import { OBJECT_TYPES, type ObjectType } from "../base/restic.ts";

/** A blob operation that is counted. */
export type BlobOperation = "read" | "write" | "delete";

const OPERATIONS: readonly BlobOperation[] = ["read", "write", "delete"];
const HELP: Record<BlobOperation, [string, string]> = {
  read: ["Total number of blobs read", "Total number of bytes read from blobs"],
  write: ["Total number of blobs written", "Total number of bytes written to blobs"],
  delete: ["Total number of blobs deleted", "Total number of bytes of blobs deleted"],
};

/** The media type of the Prometheus text format. */
export const METRICS_MEDIA_TYPE = "text/plain; version=0.0.4; charset=utf-8";

interface Series {
  labels: string;
  /** The repository (`/a/b/`) and user the series counts; `null` for the overflow series. */
  repo: string | null;
  user: string | null;
  count: Record<BlobOperation, number>;
  bytes: Record<BlobOperation, number>;
}

/**
 * Label text kept at most for blob counters. Users and repositories come
 * from clients, so past this the new ones are counted together in one
 * series labelled {@link OVERFLOW_LABEL}, and the memory stays bounded.
 */
export const MAX_SERIES_LABEL_BYTES = 256 << 10;
/** The label value of the series that counts what no longer fits. */
export const OVERFLOW_LABEL = "(other)";

/** Who reads the metrics, and what they may see (as the status page decides it). */
export interface MetricsViewer {
  /** Whether the caller may read a repository. */
  mayRead(repo: RepoPath): boolean;
  /** Whether the caller may see every repository and the server's own figures. */
  seesEverything: boolean;
  /** The caller: a restricted one sees only the blob counters of their own requests. */
  user: string | null;
}

const EVERYTHING: MetricsViewer = { mayRead: () => true, seesEverything: true, user: null };

function parseRepoKey(key: string): RepoPath {
  return key === "/" ? [] : key.slice(1, -1).split("/");
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function labelSet(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
}

/** rest-server's `repo` label: the segments joined by `/`, empty for the root. */
function repoLabel(repo: RepoPath | string): string {
  return typeof repo === "string" ? repo.replace(/^\/|\/$/g, "") : repo.join("/");
}

function newest(times: Iterable<number>): number {
  let max = 0;
  for (const time of times) if (time > max) max = time;
  return max;
}

/** Connections open and closed, as the front counts them. */
export interface ConnectionCounts {
  open(): number;
  /** Connections the server closed, by reason. */
  closed(): Record<string, number>;
}

/** Logins refused, as the login throttle counts them. */
export interface LoginCounts {
  readonly failedLogins: number;
  readonly throttledRequests: number;
}

/** Counters of blob operations, and the gauges of what is stored. */
export class Metrics {
  readonly #series = new Map<string, Series>();
  #labelBytes = 0;
  #connections: ConnectionCounts | null = null;
  #logins: LoginCounts | null = null;
  readonly #inventory: Inventory;
  readonly #maxBytes: number | null;

  /**
   * @param inventory What is stored, for the gauges.
   * @param maxBytes The data directory budget (`--max-size`), if any.
   */
  constructor(inventory: Inventory, maxBytes: number | null = null) {
    this.#inventory = inventory;
    this.#maxBytes = maxBytes;
  }

  /**
   * Counts one blob operation.
   *
   * @param operation Read, write or delete.
   * @param user The user (empty without authentication).
   * @param repo The repository.
   * @param type The object type.
   * @param bytes The bytes read, written or freed.
   */
  record(
    operation: BlobOperation,
    user: string,
    repo: RepoPath,
    type: ObjectType,
    bytes: number,
  ): void {
    let labels = labelSet({ repo: repoLabel(repo), type, user });
    let series = this.#series.get(labels);
    if (!series) {
      let [key, owner]: [string | null, string | null] = [formatRepo(repo), user];
      if (this.#labelBytes + labels.length > MAX_SERIES_LABEL_BYTES) {
        labels = labelSet({ repo: OVERFLOW_LABEL, type: OVERFLOW_LABEL, user: OVERFLOW_LABEL });
        [key, owner] = [null, null];
        series = this.#series.get(labels);
      }
      if (!series) {
        const zero = (): Record<BlobOperation, number> => ({ read: 0, write: 0, delete: 0 });
        series = { labels, repo: key, user: owner, count: zero(), bytes: zero() };
        this.#series.set(labels, series);
        this.#labelBytes += labels.length;
      }
    }
    series.count[operation]++;
    series.bytes[operation] += bytes;
  }

  /**
   * Reports failed and throttled logins from now on.
   *
   * @param counts The login throttle.
   */
  countLogins(counts: LoginCounts): void {
    this.#logins = counts;
  }

  /**
   * Reports connections from now on (when the front counts them).
   *
   * @param counts The front's open and closed connections.
   */
  countConnections(counts: ConnectionCounts): void {
    this.#connections = counts;
  }

  /**
   * Renders the metrics in the Prometheus text format: all of them, or for a
   * restricted viewer only the repositories they may read (and of the blob
   * counters only their own), as the status page shows them.
   *
   * @param viewer Who asks; everything when absent.
   * @returns The exposition text.
   */
  render(viewer: MetricsViewer = EVERYTHING): string {
    const series = [...this.#series.values()];
    const repos = [...this.#inventory.repos()];
    if (!viewer.seesEverything) {
      return [
        ...blobFamilies(
          series.filter((s) =>
            s.repo !== null && s.user === viewer.user && viewer.mayRead(parseRepoKey(s.repo))
          ),
        ),
        ...repoFamilies(repos.filter(([path]) => viewer.mayRead(parseRepoKey(path)))),
      ].flat().join("\n") + "\n";
    }
    const families = [
      ...blobFamilies(series),
      ...repoFamilies(repos),
      family("restic_rest_stored_bytes", "gauge", "Bytes stored in the whole data directory", [
        `restic_rest_stored_bytes ${this.#inventory.bytesUnder([])}`,
      ]),
      family(
        "restic_rest_inventory_complete",
        "gauge",
        "1 once what was stored before the start is counted; until then sizes and limits see only part of it",
        [`restic_rest_inventory_complete ${this.#inventory.complete ? 1 : 0}`],
      ),
      ...(this.#connections ? connectionFamilies(this.#connections) : []),
      ...(this.#logins ? loginFamilies(this.#logins) : []),
      ...(this.#maxBytes === null ? [] : [
        family("restic_rest_max_size_bytes", "gauge", "The data directory budget (--max-size)", [
          `restic_rest_max_size_bytes ${this.#maxBytes}`,
        ]),
      ]),
    ];
    return families.flat().join("\n") + "\n";
  }
}

/** One metric family's lines: help, type and samples. */
function family(name: string, type: string, help: string, samples: string[]): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples];
}

/** rest-server's counters, with its names and labels. */
function blobFamilies(series: Series[]): string[][] {
  return OPERATIONS.flatMap((op) => [
    family(
      `rest_server_blob_${op}_total`,
      "counter",
      HELP[op][0],
      series.map((s) => `rest_server_blob_${op}_total{${s.labels}} ${s.count[op]}`),
    ),
    family(
      `rest_server_blob_${op}_bytes_total`,
      "counter",
      HELP[op][1],
      series.map((s) => `rest_server_blob_${op}_bytes_total{${s.labels}} ${s.bytes[op]}`),
    ),
  ]);
}

/** The per-repository gauges, from the inventory. */
function repoFamilies(repos: [string, RepoStats][]): string[][] {
  const repo = (path: string): string => labelSet({ repo: repoLabel(path) });
  return [
    family(
      "restic_rest_repo_stored_bytes",
      "gauge",
      "Bytes stored in the repository (objects and config)",
      repos.map(([path, s]) => `restic_rest_repo_stored_bytes{${repo(path)}} ${s.bytes}`),
    ),
    family(
      "restic_rest_repo_objects",
      "gauge",
      "Objects stored in the repository, by type",
      repos.flatMap(([path, s]) => {
        const objects = shownObjects(s);
        return OBJECT_TYPES.map((type: ObjectType) =>
          `restic_rest_repo_objects{${labelSet({ repo: repoLabel(path), type })}} ${objects[type]}`
        );
      }),
    ),
    family(
      "restic_rest_repo_newest_snapshot_timestamp_seconds",
      "gauge",
      "Modification time of the newest snapshot object, for alerts on stale backups",
      repos.filter(([, s]) => s.snapshots.size > 0).map(([path, s]) =>
        `restic_rest_repo_newest_snapshot_timestamp_seconds{${repo(path)}} ${
          newest(s.snapshots.values()) / 1000
        }`
      ),
    ),
    family(
      "restic_rest_repo_last_write_timestamp_seconds",
      "gauge",
      "Time of the newest object written (by its modification time)",
      repos.filter(([, s]) => s.lastWriteMs > 0).map(([path, s]) =>
        `restic_rest_repo_last_write_timestamp_seconds{${repo(path)}} ${s.lastWriteMs / 1000}`
      ),
    ),
  ];
}

/** Failed and throttled logins. */
function loginFamilies(logins: LoginCounts): string[][] {
  return [
    family(
      "restic_rest_failed_logins_total",
      "counter",
      "Logins whose password was checked and refused (unknown users included)",
      [`restic_rest_failed_logins_total ${logins.failedLogins}`],
    ),
    family(
      "restic_rest_throttled_requests_total",
      "counter",
      "Requests answered 429 without a password check: too many failed logins (--login-failures)",
      [`restic_rest_throttled_requests_total ${logins.throttledRequests}`],
    ),
  ];
}

/** The front's connection counts. */
function connectionFamilies(connections: ConnectionCounts): string[][] {
  return [
    family(
      "restic_rest_connections_closed_total",
      "counter",
      "Connections closed by the server: request head too slow, or idle too long",
      Object.entries(connections.closed()).map(([reason, count]) =>
        `restic_rest_connections_closed_total{${labelSet({ reason })}} ${count}`
      ),
    ),
    family("restic_rest_open_connections", "gauge", "Client connections open now", [
      `restic_rest_open_connections ${connections.open()}`,
    ]),
  ];
}
