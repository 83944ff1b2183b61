/**
 * From the load generator's results to one Markdown table: medians over the
 * rounds per server, and each performance target with the ratio this run
 * achieved.
 *
 * @module
 */

import type { Result } from "./scenarios.ts";
import { median } from "./stats.ts";

/** One measured value of one server. */
export interface Sample {
  kind: string;
  /** `upload-c8 MB/s`, `idle RSS, 100k objects MiB`, … */
  row: string;
  value: number;
}

/** The columns, in order. */
export const COLUMNS = ["restic-rest", "ceiling", "rest-server", "rclone", "restic-rest+auth+log"];

const METRICS: Record<string, [string, string][]> = {
  upload: [["MB_s", "MB/s"], ["p50_ms", "p50 ms"], ["p99_ms", "p99 ms"]],
  download: [["MB_s", "MB/s"], ["p50_ms", "p50 ms"], ["p99_ms", "p99 ms"]],
  range: [["req_s", "req/s"], ["MB_s", "MB/s"], ["p50_ms", "p50 ms"], ["p99_ms", "p99 ms"]],
  small: [["req_s", "req/s"], ["p50_ms", "p50 ms"], ["p99_ms", "p99 ms"]],
  list: [["v1_secs_median", "v1 s"], ["v2_secs_median", "v2 s"]],
};

function num(result: Result, key: string): number | null {
  const value = result[key];
  return typeof value === "number" ? value : null;
}

/** The samples a load-generator result gives: throughput, latency, CPU, peak memory. */
export function samplesOf(kind: string, result: Result): Sample[] {
  // A failed run, or one with failed requests, measures nothing worth a median.
  if ("error" in result || (typeof result.errors === "number" && result.errors > 0)) return [];
  const scenario = String(result.scenario ?? "");
  const label = result.label;
  const out: Sample[] = [];
  const add = (row: string, value: number | null) => {
    if (value !== null && Number.isFinite(value)) out.push({ kind, row, value });
  };
  for (const [key, unit] of METRICS[scenario] ?? []) add(`${label} ${unit}`, num(result, key));
  const cpu = num(result, "server_cpu_s");
  if (cpu !== null && (scenario === "upload" || scenario === "download" || scenario === "range")) {
    const bytes = scenario === "range"
      ? (num(result, "MB_s") ?? 0) * (num(result, "secs") ?? 0) * 1e6
      : (num(result, "blobs") ?? 0) * (num(result, "blob_mib") ?? 0) * 2 ** 20;
    if (bytes > 0) add(`${label} CPU s/GB`, cpu / (bytes / 1e9));
  }
  if (cpu !== null && scenario === "small") {
    add(`${label} CPU µs/req`, cpu * 1e6 / (num(result, "reqs") ?? NaN));
  }
  if (cpu !== null && scenario === "list") add(`${label} CPU s`, cpu);
  add(`${label} first answer ms`, num(result, "first_answer_ms"));
  const hwm = num(result, "server_vmhwm_kb");
  add(`${label} peak RSS MiB`, hwm === null ? null : hwm / 1024);
  return out;
}

/** Medians by server and row. */
export function medians(samples: Sample[]): Map<string, number> {
  const groups = new Map<string, number[]>();
  for (const { kind, row, value } of samples) {
    const key = `${kind}\u0000${row}`;
    groups.set(key, [...(groups.get(key) ?? []), value]);
  }
  return new Map([...groups].map(([key, values]) => [key, median(values)]));
}

type Lookup = (kind: string, row: string) => number | undefined;

/** A target on one row: a bound relative to another server's figure, or absolute. */
interface Target {
  row: string;
  text: string;
  /** The achieved ratio or value, and whether it meets the target; `null` when not measurable. */
  judge(get: Lookup): { shown: string; met: boolean } | null;
}

function relative(
  row: string,
  other: string,
  factor: number,
  atLeast: boolean,
  otherRow = row,
): Target {
  return {
    row,
    text: `${atLeast ? "≥" : "≤"} ${factor}× ${other}`,
    judge(get) {
      const ours = get("restic-rest", row);
      const theirs = get(other, otherRow);
      if (ours === undefined || theirs === undefined || theirs === 0) return null;
      const ratio = ours / theirs;
      return { shown: `${ratio.toFixed(2)}×`, met: atLeast ? ratio >= factor : ratio <= factor };
    },
  };
}

function absolute(row: string, bound: number, unit: string, kind = "restic-rest"): Target {
  return {
    row,
    text: `≤ ${bound} ${unit}`,
    judge(get) {
      const value = get(kind, row);
      return value === undefined ? null : { shown: format(value), met: value <= bound };
    },
  };
}

/** The targets of the performance issue (docs/performance.md). */
export const TARGETS: Target[] = [
  ...[
    "upload-c1 MB/s",
    "upload-c8 MB/s",
    "download-c1 MB/s",
    "download-c8 MB/s",
    "range-c8 req/s",
    "small-c32 req/s",
  ]
    .map((row) => relative(row, "ceiling", 0.9, true)),
  relative("list v2 s", "ceiling", 1.1, false),
  relative("upload-c1 MB/s", "rest-server", 1.0, true),
  relative("small-c32 req/s", "rest-server", 0.85, true),
  relative("list v1 s", "rest-server", 1.0, false),
  relative("small-c32 CPU µs/req", "ceiling", 1.15, false),
  relative("download-c8 CPU s/GB", "ceiling", 1.15, false),
  absolute("idle RSS, objects stored MiB", 48, "MiB"),
  ...["upload-c1", "upload-c8", "download-c1", "download-c8", "range-c8", "small-c32", "list"]
    .map((label) => absolute(`${label} peak RSS MiB`, 96, "MiB")),
  relative("restic backup s", "local restic", 1.05, false),
  relative("user backup s", "rest-server", 1.05, false),
  relative("user restore s", "rest-server", 1.15, false),
  relative("user check --read-data s", "rest-server", 1.10, false),
  relative("user forget --prune s", "rest-server", 1.10, false),
  absolute("user RSS peak MiB", 96, "MiB"),
  absolute("8 clients RSS peak MiB", 128, "MiB"),
  absolute("million first answer ms", 1000, "ms"),
  relative("million v2 s", "rest-server", 1.0, false),
  absolute("million peak RSS MiB", 96, "MiB"),
  ...[
    "store upload-c1 MB/s",
    "store upload-c8 MB/s",
    "store download-c1 MB/s",
    "store download-c8 MB/s",
  ]
    .map((row) => relative(row, "rclone", 1.0, true)),
  relative("store list v2 s", "rclone", 1.0, false),
  absolute("password flood: real user p50 ms", 10, "ms", "restic-rest+auth+log"),
  absolute("password flood: real user max ms", 100, "ms", "restic-rest+auth+log"),
  absolute("name flood: real user p50 ms", 10, "ms", "restic-rest+auth+log"),
  absolute("name flood: RSS growth MiB", 32, "MiB", "restic-rest+auth+log"),
  {
    row: "small-c32 req/s",
    text: "+auth+log ≥ 0.9× no auth",
    judge: (get) => withinTenPercent(get, "small-c32 req/s"),
  },
  {
    row: "upload-c8 MB/s",
    text: "+auth+log ≥ 0.9× no auth",
    judge: (get) => withinTenPercent(get, "upload-c8 MB/s"),
  },
];

function withinTenPercent(get: Lookup, row: string) {
  const plain = get("restic-rest", row);
  const logged = get("restic-rest+auth+log", row);
  if (plain === undefined || logged === undefined) return null;
  const ratio = logged / plain;
  return { shown: `${ratio.toFixed(2)}×`, met: ratio >= 0.9 };
}

/** A figure with sensible precision. */
export function format(value: number): string {
  if (!Number.isFinite(value)) return "–";
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(value >= 1 ? 2 : 3);
}

/**
 * The Markdown table: one row per measured figure, one column per server,
 * and the targets of each row with what this run achieved.
 *
 * @param samples Every sample of the run.
 * @returns The table.
 */
export function table(samples: Sample[]): string {
  const mid = medians(samples);
  const get: Lookup = (kind, row) => mid.get(`${kind}\u0000${row}`);
  const rows = [...new Set(samples.map((s) => s.row))];
  const columns = COLUMNS.filter((kind) => samples.some((s) => s.kind === kind));
  const extra = [...new Set(samples.map((s) => s.kind))].filter((k) => !COLUMNS.includes(k));
  const all = [...columns, ...extra];
  const lines = [
    `| figure | ${all.join(" | ")} | target | this run | met |`,
    `| --- | ${all.map(() => "---:").join(" | ")} | --- | ---: | :-: |`,
  ];
  for (const row of rows) {
    const cells = all.map((kind) => {
      const value = get(kind, row);
      return value === undefined ? "" : format(value);
    });
    const targets = TARGETS.filter((t) => t.row === row);
    if (targets.length === 0) lines.push(`| ${row} | ${cells.join(" | ")} | | | |`);
    for (const [i, target] of targets.entries()) {
      const judged = target.judge(get);
      const shown = i === 0 ? cells : cells.map(() => "〃");
      lines.push(
        `| ${row} | ${shown.join(" | ")} | ${target.text} | ${judged?.shown ?? "–"} | ${
          judged === null ? "–" : judged.met ? "yes" : "**no**"
        } |`,
      );
    }
  }
  return lines.join("\n");
}
