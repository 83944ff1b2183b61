// Reports progress on stderr: printing is its job.
// deno-lint-ignore-file no-console
/**
 * The order of a benchmark run: every server fresh for every scenario set,
 * rounds interleaved (the second in reverse order, so no server always runs
 * first or last), then restic backups, memory at rest and the million-object
 * start, each measured the same way on every server.
 *
 * @module
 */

import { join } from "node:path";
import { type Sample, samplesOf } from "./report.ts";
import {
  fillRepository,
  idleRssMib,
  linkCopy,
  makeBackupSource,
  millionRun,
  resticBackup,
  runScenarios,
  type Scale,
} from "./scenarios.ts";
import { type ServerKind, startServer } from "./servers.ts";
import { loginRounds } from "./logins.ts";
import { storeRounds } from "./store.ts";
import { workloadRounds } from "./workloads.ts";
import type { Tools } from "./tools.ts";

/** The scenarios the `+auth+log` variant runs: its rows are compared with the plain ones. */
const AUTH_LOG_SCENARIOS = ["upload-c8", "small-c32"];

/** The servers of this run: those whose tools are here, and (`--servers`) were asked for. */
function available(tools: Tools): ServerKind[] {
  const kinds: ServerKind[] = [
    "restic-rest",
    ...(tools.ceiling ? ["ceiling" as const] : []),
    ...(tools.restServer ? ["rest-server" as const] : []),
    ...(tools.rclone ? ["rclone" as const] : []),
    "restic-rest+auth+log",
  ];
  return tools.servers ? kinds.filter((k) => tools.servers!.includes(k)) : kinds;
}

/** What a scenario reads that an earlier one must have written. */
const NEEDS: Record<string, string> = {
  "download-c1": "upload-c1",
  "download-c8": "upload-c8",
  "range-c8": "upload-c8",
};

/**
 * The scenarios to run for `only`, with the uploads the reads need, in plan order.
 *
 * @param only Scenario labels; `undefined` for all.
 * @returns The labels to run.
 */
export function withNeeds(only: string[] | undefined): string[] | undefined {
  if (!only) return undefined;
  return [...new Set([...only.map((l) => NEEDS[l]).filter(Boolean), ...only])];
}

function wanted(only: string[] | undefined, part: string): boolean {
  return !only || only.includes(part);
}

/**
 * A filled repository of `count` objects under `dir`, made once and kept
 * (servers get hard-linked copies).
 *
 * @param dir Scratch space.
 * @param name What it is for.
 * @param count How many objects.
 * @returns Its folder.
 */
export async function template(dir: string, name: string, count: number): Promise<string> {
  const repo = join(dir, "templates", `${name}-${count}`, "bench");
  const done = join(repo, "..", ".complete");
  try {
    await Deno.stat(done);
  } catch {
    await Deno.remove(join(repo, ".."), { recursive: true }).catch(() => {});
    await fillRepository(repo, count);
    await Deno.writeTextFile(done, "");
  }
  return repo;
}

/** One fresh server per kind and round: memory at rest with objects stored, then the scenarios. */
async function scenarioRounds(
  tools: Tools,
  scale: Scale,
  dir: string,
  only: string[] | undefined,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  const listRepo = await template(dir, "list", scale.listObjects);
  const kinds = available(tools);
  for (let round = 1; round <= scale.rounds; round++) {
    const order = round % 2 === 0 ? [...kinds].reverse() : kinds;
    for (const kind of order) {
      const labels = kind === "restic-rest+auth+log" ? AUTH_LOG_SCENARIOS : undefined;
      const scenarios = (only ?? labels)?.filter((l) => !labels || labels.includes(l));
      if (scenarios?.length === 0) continue;
      const data = join(dir, "runs", `${kind}-${round}`);
      await Deno.remove(data, { recursive: true }).catch(() => {});
      await linkCopy(listRepo, join(data, "bench"));
      const server = await startServer(kind, tools, data);
      try {
        const rss = await idleRssMib(server);
        samples.push({ kind, row: "idle RSS, objects stored MiB", value: rss });
        console.error(`round ${round}: ${kind}`);
        const seed = Date.now() % 1_000_000_000;
        const results = await runScenarios(tools.restbench!, server, scale, join(data, "bench"), {
          seed,
          only: scenarios,
        });
        for (const result of results) samples.push(...samplesOf(kind, result));
      } finally {
        await server.stop();
        await Deno.remove(data, { recursive: true }).catch(() => {});
      }
    }
  }
  return samples;
}

/** Memory of a fresh server on an empty folder. */
async function idleEmpty(tools: Tools, scale: Scale, dir: string): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let round = 1; round <= scale.rounds; round++) {
    for (const kind of available(tools).filter((k) => k !== "restic-rest+auth+log")) {
      const data = join(dir, "runs", `idle-${kind}`);
      await Deno.remove(data, { recursive: true }).catch(() => {});
      const server = await startServer(kind, tools, data);
      samples.push({ kind, row: "idle RSS, empty MiB", value: await idleRssMib(server) });
      await server.stop();
    }
  }
  return samples;
}

/** A restic backup into a local repository and through each server that restic can use. */
async function resticRounds(tools: Tools, scale: Scale, dir: string): Promise<Sample[]> {
  if (!tools.restic) return [];
  const source = join(dir, "templates", `restic-source-${scale.resticMib}`);
  try {
    await Deno.stat(join(source, "file-0"));
  } catch {
    await makeBackupSource(source, scale.resticMib);
  }
  const kinds = available(tools).filter((k) =>
    k === "restic-rest" || k === "rest-server" || k === "rclone"
  );
  const samples: Sample[] = [];
  for (let round = 1; round <= scale.rounds; round++) {
    const local = join(dir, "runs", "restic-local");
    await Deno.remove(local, { recursive: true }).catch(() => {});
    samples.push({
      kind: "local restic",
      row: "restic backup s",
      value: await resticBackup(local, source),
    });
    await Deno.remove(local, { recursive: true }).catch(() => {});
    for (const kind of round % 2 === 0 ? [...kinds].reverse() : kinds) {
      const data = join(dir, "runs", `restic-${kind}`);
      await Deno.remove(data, { recursive: true }).catch(() => {});
      const server = await startServer(kind, tools, data);
      try {
        const seconds = await resticBackup(`rest:${server.url}/restic/`, source);
        samples.push({ kind, row: "restic backup s", value: seconds });
      } finally {
        await server.stop();
        await Deno.remove(data, { recursive: true }).catch(() => {});
      }
    }
  }
  return samples;
}

/** A start with a million objects stored, and a listing of them, on restic-rest and rest-server. */
async function millionRounds(tools: Tools, scale: Scale, dir: string): Promise<Sample[]> {
  const repo = await template(dir, "million", scale.millionObjects);
  const kinds = available(tools).filter((k) => k === "restic-rest" || k === "rest-server");
  const samples: Sample[] = [];
  for (let round = 1; round <= scale.rounds; round++) {
    for (const kind of round % 2 === 0 ? [...kinds].reverse() : kinds) {
      const server = await startServer(kind, tools, join(repo, ".."));
      try {
        const result = await millionRun(tools.restbench!, server, repo, scale.millionObjects);
        samples.push(...samplesOf(kind, { ...result, label: "million" }));
      } finally {
        await server.stop();
      }
    }
  }
  return samples;
}

/**
 * Runs every part of the benchmark the options ask for.
 *
 * @param tools The instruments and peers.
 * @param scale Sizes and rounds.
 * @param dir Scratch space.
 * @param only Scenario labels (or `idle`, `workloads`, `restic`, `million`, `store`, `logins`) to run; all
 *   when absent.
 * @returns Every sample.
 */
export async function runAll(
  tools: Tools,
  scale: Scale,
  dir: string,
  only?: string[],
): Promise<Sample[]> {
  const scenarioLabels = withNeeds(
    only?.filter((l) => !["idle", "workloads", "restic", "million", "store", "logins"].includes(l)),
  );
  return [
    ...(only && scenarioLabels?.length === 0
      ? []
      : await scenarioRounds(tools, scale, dir, scenarioLabels)),
    ...(wanted(only, "idle") ? await idleEmpty(tools, scale, dir) : []),
    ...(wanted(only, "workloads") ? await workloadRounds(tools, scale, dir) : []),
    ...(wanted(only, "restic") ? await resticRounds(tools, scale, dir) : []),
    ...(wanted(only, "million") ? await millionRounds(tools, scale, dir) : []),
    ...(wanted(only, "logins") ? await loginRounds(tools, scale, dir) : []),
    ...(wanted(only, "store") && tools.swift && tools.rclone
      ? await storeRounds(tools.restbench!, scale)
      : []),
  ];
}

async function versionOf(command: string | null, args: string[]): Promise<string> {
  if (!command) return "missing";
  try {
    const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return text.split("\n").find((l) => l.trim())?.trim() ?? "?";
  } catch {
    return "missing";
  }
}

/**
 * The machine and the versions in the run, for the report's header.
 *
 * @param tools The instruments and peers.
 * @returns A few lines.
 */
export async function describeMachine(tools: Tools): Promise<string> {
  const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
  const memKb = Number((await Deno.readTextFile("/proc/meminfo")).match(/MemTotal:\s+(\d+)/)?.[1]);
  return [
    `${navigator.hardwareConcurrency} cores (${cpu}), ${(memKb / 2 ** 20).toFixed(0)} GiB RAM, ` +
    `${Deno.build.os} ${Deno.osRelease()}`,
    `deno ${Deno.version.deno}; ${await versionOf(tools.restServer, ["--version"])}; ` +
    `${await versionOf(tools.rclone, ["version"])}; ${await versionOf(tools.restic, ["version"])}`,
  ].join("\n");
}
