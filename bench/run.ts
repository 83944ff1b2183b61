/**
 * `deno task bench`: restic-rest side by side with `rclone serve restic` on
 * loopback, driven by the same client, with ratios from one run.
 *
 *   deno task bench            # the full run (about 8 GiB of scratch disk)
 *   deno task bench --quick    # every scenario at toy sizes, to check the harness
 *   deno task bench --dir D    # scratch space in D (default: a temp folder)
 *   deno task bench --no-guard # restic-rest with --header-timeout 0 (no connection guard)
 *
 * Prints one Markdown table and writes it, with the machine's description,
 * to bench/results/latest.md (full runs), quick.md or partial.md (--only).
 *
 * @module
 */

// A command-line tool: printing its report is its job.
// deno-lint-ignore-file no-console

import { parseArgs } from "node:util";
import {
  BlobSet,
  diskLimit,
  download,
  fillListRepo,
  FULL_SCALE,
  list,
  makeResticTree,
  QUICK_SCALE,
  ranges,
  resticBackup,
  smallObjects,
  upload,
} from "./scenarios.ts";
import { type BenchServer, startRclone, startResticRest } from "./servers.ts";
import { median } from "./stats.ts";

interface Row {
  scenario: string;
  unit: string;
  ours: number;
  rclone: number | null;
  /** What the issue asks, and whether this run met it. */
  target?: { label: string; met: boolean };
}

const MiB = 1 << 20;

async function versionOf(command: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout).split("\n")[0].trim();
  } catch {
    return "missing";
  }
}

async function machine(): Promise<string> {
  const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
  const memKb = Number(
    (await Deno.readTextFile("/proc/meminfo")).match(/MemTotal:\s+(\d+)/)?.[1] ?? 0,
  );
  return [
    `${navigator.hardwareConcurrency} cores (${cpu}), ${
      (memKb / 1024 / 1024).toFixed(0)
    } GiB RAM, ${Deno.build.os} ${Deno.osRelease()}`,
    `deno ${Deno.version.deno}; ${await versionOf("rclone", ["version"])}; ${await versionOf(
      "restic",
      ["version"],
    )}`,
  ].join("\n");
}

function format(value: number | null, digits = 1): string {
  if (value === null || Number.isNaN(value)) return "–";
  return value >= 100 ? value.toFixed(0) : value.toFixed(digits);
}

function table(rows: Row[]): string {
  const header = ["scenario", "unit", "restic-rest", "rclone", "ratio", "target", "met"];
  const lines = rows.map((r) => [
    r.scenario,
    r.unit,
    format(r.ours),
    format(r.rclone),
    r.rclone === null || r.rclone === 0 ? "–" : `${(r.ours / r.rclone).toFixed(2)}×`,
    r.target?.label ?? "",
    r.target ? (r.target.met ? "yes" : "**no**") : "",
  ]);
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((line) => line[i].length)));
  const render = (cells: string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [render(header), render(widths.map((w) => "-".repeat(w))), ...lines.map(render)].join(
    "\n",
  );
}

/**
 * Runs a scenario on each server in turn (never both at once), each on a
 * freshly started process, so every peak RSS belongs to its own scenario.
 */
async function both<T>(
  servers: BenchServer[],
  run: (server: BenchServer) => Promise<T>,
): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < servers.length; i++) {
    servers[i] = await servers[i].restart();
    results.push(await run(servers[i]));
  }
  return results;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      dir: { type: "string" },
      only: { type: "string" },
      "no-guard": { type: "boolean" },
    },
  });
  // --only upload,download,range,small,list,restic: a subset, for profiling.
  const only = values.only?.split(",") ?? null;
  const wanted = (name: string): boolean => only === null || only.includes(name);
  const missing = [];
  for (const [command, pkg] of [["rclone", "rclone"], ["restic", "restic"]]) {
    if ((await versionOf(command, ["version"])) === "missing") missing.push(pkg);
  }
  if (missing.length > 0) {
    console.error(
      `The benchmark needs ${missing.join(" and ")}: apt-get install -y ${missing.join(" ")}`,
    );
    return 1;
  }
  const scale = values.quick ? QUICK_SCALE : FULL_SCALE;
  const work = values.dir ?? await Deno.makeTempDir({ prefix: "restic-rest-bench-" });
  const log = (message: string): void => console.error(`[bench] ${message}`);
  const rows: Row[] = [];
  const servers: BenchServer[] = [];
  try {
    await Deno.mkdir(`${work}/ours`, { recursive: true });
    await Deno.mkdir(`${work}/rclone`, { recursive: true });
    const ourFlags = values["no-guard"] ? ["--header-timeout", "0"] : [];
    servers.push(
      await startResticRest(`${work}/ours`, ourFlags),
      await startRclone(`${work}/rclone`),
    );
    log(`restic-rest and rclone serve ${work}/ours and ${work}/rclone`);

    log(`generating ${scale.blobs} blobs of ${scale.blobBytes / MiB} MiB`);
    const blobs = new BlobSet(scale.blobs, scale.blobBytes);
    log("disk limit: files with an fsync after each");
    const disk = await diskLimit(work, blobs);
    rows.push({ scenario: "disk limit (write + fsync)", unit: "MB/s", ours: disk, rclone: null });

    /** Peak RSS of each server per scenario, for the memory rows. */
    const peaks = new Map<string, Record<string, number>>();
    const note = (scenario: string, server: BenchServer, peak: number): void => {
      peaks.set(scenario, { ...peaks.get(scenario), [server.name]: peak });
    };
    /** Runs a scenario on both servers and notes each one's peak RSS. */
    const measure = <T extends { peakRss: number }>(
      scenario: string,
      run: (server: BenchServer) => Promise<T>,
    ): Promise<T[]> =>
      both(servers, async (s) => {
        const result = await run(s);
        note(scenario, s, result.peakRss);
        return result;
      });
    /** A row with one figure of restic-rest's and rclone's results. */
    const compare = <T>(
      scenario: string,
      unit: string,
      [ours, theirs]: T[],
      pick: (result: T) => number,
      target?: (ours: number, rclone: number) => Row["target"],
    ): void => {
      rows.push({
        scenario,
        unit,
        ours: pick(ours),
        rclone: pick(theirs),
        target: target?.(pick(ours), pick(theirs)),
      });
    };
    const latencies = <T extends { p50Ms: number; p99Ms: number }>(scenario: string, pair: T[]) => {
      compare(`${scenario} p50`, "ms", pair, (r) => r.p50Ms);
      compare(`${scenario} p99`, "ms", pair, (r) => r.p99Ms);
    };
    const timesRclone = (factor: number) => (ours: number, rclone: number) => ({
      label: `≥ ${factor}× rclone`,
      met: ours >= factor * rclone,
    });
    const timesDisk = (factor: number) => (ours: number) => ({
      label: `≥ ${factor}× disk (${format(factor * disk)})`,
      met: ours >= factor * disk,
    });
    let idle = NaN;

    // Downloads and range reads read what the c1 upload stored.
    if (wanted("upload") || wanted("download") || wanted("range")) {
      log("upload, concurrency 1");
      const up1 = await measure("upload c1", (s) => upload(s, "up1", blobs, 1));
      idle = up1[0].idleRss;
      if (wanted("upload")) {
        compare("upload c1", "MB/s", up1, (r) => r.mbPerSecond, timesDisk(0.9));
        latencies("upload c1", up1);
      }
    }
    if (wanted("upload")) {
      log("upload, concurrency 8");
      const up8 = await measure("upload c8", (s) => upload(s, "up8", blobs, 8));
      compare("upload c8", "MB/s", up8, (r) => r.mbPerSecond, timesDisk(1.2));
      latencies("upload c8", up8);
      const rise = (up8[0].peakRss - up8[0].idleRss) / MiB;
      rows.push({
        scenario: "RSS rise, 8 uploads over idle",
        unit: "MiB",
        ours: rise,
        rclone: null,
        target: { label: "≤ 40 MiB", met: rise <= 40 },
      });
    }

    if (wanted("download")) {
      for (const concurrency of [1, 8]) {
        log(`download, concurrency ${concurrency}`);
        const scenario = `download c${concurrency}`;
        const down = await measure(scenario, (s) => download(s, "up1", blobs, concurrency));
        compare(scenario, "MB/s", down, (r) => r.mbPerSecond, timesRclone(1.6));
      }
    }

    if (wanted("range")) {
      log("range reads, concurrency 8");
      const range = await measure("range c8", (s) => ranges(s, "up1", blobs, scale.rangeReads, 8));
      compare("range c8", "req/s", range, (r) => r.requestsPerSecond, timesRclone(1.8));
      compare("range c8", "MB/s", range, (r) => r.mbPerSecond);
    }

    if (wanted("small")) {
      log(`small objects, concurrency 32, ${scale.smallSeconds} s`);
      const small = await measure(
        "small c32",
        (s) => smallObjects(s, "small", scale.smallSeconds, 32),
      );
      const scenario = "small c32 (POST/HEAD/GET/DELETE)";
      compare(scenario, "req/s", small, (r) => r.requestsPerSecond, timesRclone(0.75));
      compare("small c32 p99", "ms", small, (r) => r.p99Ms);
    }

    if (wanted("list")) {
      log(`list: writing ${scale.listObjects} objects for each server`);
      await fillListRepo(`${work}/ours`, "big", scale.listObjects);
      await fillListRepo(`${work}/rclone`, "big", scale.listObjects);
      for (const v2 of [false, true]) {
        const runs = await both(servers, async (s) => {
          const tries = [];
          for (let i = 0; i < 3; i++) {
            const run = await list(s, "big", v2, scale.listObjects);
            if (run === null) return { seconds: null, firstByteMs: null }; // no v1 listing
            tries.push(run);
          }
          note(`list ${v2 ? "v2" : "v1"}`, s, Math.max(...tries.map((t) => t.peakRss)));
          return {
            seconds: median(tries.map((t) => t.seconds)),
            firstByteMs: median(tries.map((t) => t.firstByteMs)),
          };
        });
        const name = `list ${scale.listObjects / 1000}k ${v2 ? "v2" : "v1"}`;
        rows.push({
          scenario: v2 ? name : `${name} (rclone: v2 only)`,
          unit: "s",
          ours: runs[0].seconds!,
          rclone: runs[1].seconds,
          target: v2
            ? { label: "≤ 0.5× rclone", met: runs[0].seconds! <= 0.5 * runs[1].seconds! }
            : undefined,
        });
        rows.push({
          scenario: `${name} first byte`,
          unit: "ms",
          ours: runs[0].firstByteMs!,
          rclone: runs[1].firstByteMs,
          target: v2 ? { label: "< 50 ms", met: runs[0].firstByteMs! < 50 } : undefined,
        });
      }
    }

    if (wanted("restic")) {
      log(`restic backup of a ${scale.resticBytes / MiB} MiB tree: local, restic-rest, rclone`);
      await makeResticTree(`${work}/tree`, scale.resticBytes);
      const local = await resticBackup(`${work}/local-repo`, `${work}/tree`, `${work}/cache-local`);
      const [viaOurs, viaRclone] = await both(servers, async (s) => {
        const seconds = await resticBackup(
          `rest:${s.url}/restic/`,
          `${work}/tree`,
          `${work}/cache-${s.name}`,
        );
        note("restic backup", s, await s.peakRss());
        return seconds;
      });
      rows.push({
        scenario: "restic backup, local repository",
        unit: "s",
        ours: local,
        rclone: null,
      });
      rows.push({
        scenario: "restic backup through the server",
        unit: "s",
        ours: viaOurs,
        rclone: viaRclone,
        target: {
          label: `≤ 1.15× local (${format(1.15 * local, 2)})`,
          met: viaOurs <= 1.15 * local,
        },
      });
    }

    rows.push({
      scenario: "RSS at idle (fresh process)",
      unit: "MiB",
      ours: idle / MiB,
      rclone: null,
    });
    for (const [scenario, peak] of peaks) {
      const mine = (peak["restic-rest"] ?? NaN) / MiB;
      rows.push({
        scenario: `peak RSS, ${scenario}`,
        unit: "MiB",
        ours: mine,
        rclone: (peak.rclone ?? NaN) / MiB,
        target: { label: "≤ 80 MiB", met: mine <= 80 },
      });
    }
  } finally {
    for (const server of servers) await server.stop();
    if (!values.dir) await Deno.remove(work, { recursive: true }).catch(() => {});
  }

  const report = [
    `# restic-rest benchmark${values.quick ? " (quick: toy sizes, figures mean nothing)" : ""}${
      only ? ` (only ${only.join(", ")})` : ""
    }${values["no-guard"] ? " (no connection guard)" : ""}`,
    "",
    `Run on ${new Date().toISOString()} with \`deno task bench${values.quick ? " --quick" : ""}${
      values["no-guard"] ? " --no-guard" : ""
    }\`.`,
    "",
    "```",
    await machine(),
    "```",
    "",
    "Ratios are restic-rest / rclone from this one run; each scenario runs on freshly started",
    "servers (same data), so each peak RSS is that scenario's. Targets from issue 5.",
    "",
    table(rows),
    "",
  ].join("\n");
  console.log(report);
  const kind = values.quick
    ? "quick"
    : only
    ? "partial"
    : values["no-guard"]
    ? "no-guard"
    : "latest";
  const resultFile = new URL(`./results/${kind}.md`, import.meta.url);
  await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
  await Deno.writeTextFile(resultFile, report);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
