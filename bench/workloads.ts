/**
 * What a restic user does, timed with the real restic against restic-rest,
 * the Deno.serve ceiling and rest-server on the same data, rounds
 * interleaved: init, backup, a
 * second backup after changes, restore, `check --read-data`,
 * `forget --prune`, with the server's peak memory in each phase (sampled
 * every 20 ms, and the kernel's high-water mark over the whole run); then
 * several clients backing up and restoring at once, each checked clean.
 *
 * @module
 */

// Each round's figures go to stderr as they come.
// deno-lint-ignore-file no-console

import { join } from "node:path";
import type { Sample } from "./report.ts";
import { randomBytes, runRestic, type Scale } from "./scenarios.ts";
import { type BenchServer, procStatusKib, type ServerKind, startServer } from "./servers.ts";
import type { Tools } from "./tools.ts";

/** Drops the page cache where allowed (root), so reads come from the disk as a user's would. */
async function dropCaches(): Promise<boolean> {
  try {
    await Deno.writeTextFile("/proc/sys/vm/drop_caches", "3");
    return true;
  } catch {
    return false;
  }
}

/** Four large random files and many small ones (`mib` in all), made once. */
async function makeSource(dir: string, mib: number, smallFiles: number): Promise<void> {
  try {
    await Deno.stat(join(dir, "done"));
    return;
  } catch { /* make it */ }
  await Deno.mkdir(join(dir, "small"), { recursive: true });
  const smallBytes = 8 << 10;
  const large = Math.floor(((mib << 20) - smallFiles * smallBytes) / 4);
  for (let i = 0; i < 4; i++) {
    await Deno.writeFile(join(dir, `large-${i}`), randomBytes(large));
  }
  for (let i = 0; i < smallFiles; i++) {
    await Deno.writeFile(join(dir, "small", `f${i}`), randomBytes(smallBytes));
  }
  await Deno.writeTextFile(join(dir, "done"), "");
}

/** Samples a server's resident memory until stopped; the highest seen, in MiB. */
function watchMemory(server: BenchServer): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const kib = await server.rssKib().catch(() => 0);
      peak = Math.max(peak, kib);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak / 1024;
    },
  };
}

/**
 * One phase of restic work through a server, the page cache dropped first
 * when `cold`: its seconds and the server's peak memory meanwhile.
 */
async function timedPhase(
  kind: string,
  server: BenchServer,
  name: string,
  work: () => Promise<void>,
  cold: boolean,
): Promise<Sample[]> {
  if (cold) await dropCaches();
  const memory = watchMemory(server);
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  return [
    { kind, row: `user ${name} s`, value: seconds },
    { kind, row: `user RSS during ${name} MiB`, value: await memory.stop() },
  ];
}

/** One user's workload through one server: each phase's seconds and peak memory. */
async function oneClient(
  kind: ServerKind,
  tools: Tools,
  dir: string,
  source: string,
): Promise<Sample[]> {
  const data = join(dir, "runs", `workload-${kind}`);
  const target = join(dir, "runs", `restore-${kind}`);
  await Deno.remove(data, { recursive: true }).catch(() => {});
  await Deno.remove(target, { recursive: true }).catch(() => {});
  const server = await startServer(kind, tools, data);
  const repo = `rest:${server.url}/user/`;
  const changed = join(source, "changed");
  const samples: Sample[] = [];
  const phase = async (name: string, work: () => Promise<void>, cold = false) => {
    samples.push(...await timedPhase(kind, server, name, work, cold));
  };
  try {
    await Deno.remove(changed, { recursive: true }).catch(() => {});
    await phase("init", () => runRestic(repo, ["init"]));
    await phase("backup", () => runRestic(repo, ["backup", source]), true);
    // About 5% new: one new file of random bytes.
    const total = [...Deno.readDirSync(source)].length;
    await Deno.mkdir(changed);
    const fresh = Math.max(1 << 20, (Deno.statSync(join(source, "large-0")).size * 4) / 20);
    await Deno.writeFile(join(changed, `new-${total}`), randomBytes(fresh));
    await phase("second backup", () => runRestic(repo, ["backup", source]), true);
    await phase("restore", () => runRestic(repo, ["restore", "latest", "--target", target]), true);
    await phase("check --read-data", () => runRestic(repo, ["check", "--read-data"]), true);
    await phase("forget --prune", () => runRestic(repo, ["forget", "--keep-last", "1", "--prune"]));
    samples.push({
      kind,
      row: "user RSS peak MiB",
      value: (await procStatusKib(server.pid, "VmHWM")) / 1024,
    });
  } finally {
    await server.stop();
    await Deno.remove(changed, { recursive: true }).catch(() => {});
    await Deno.remove(data, { recursive: true }).catch(() => {});
    await Deno.remove(target, { recursive: true }).catch(() => {});
  }
  return samples;
}

/** `clients` users at once through one server: backups, then restores; every repository checked. */
async function manyClients(
  kind: ServerKind,
  tools: Tools,
  dir: string,
  sources: string[],
): Promise<Sample[]> {
  const data = join(dir, "runs", `clients-${kind}`);
  await Deno.remove(data, { recursive: true }).catch(() => {});
  const server = await startServer(kind, tools, data);
  const repos = sources.map((_, i) => `rest:${server.url}/client${i}/`);
  const n = sources.length;
  const samples: Sample[] = [];
  try {
    await Promise.all(repos.map((repo) => runRestic(repo, ["init"])));
    const memory = watchMemory(server);
    let started = performance.now();
    await Promise.all(repos.map((repo, i) => runRestic(repo, ["backup", sources[i]])));
    samples.push({
      kind,
      row: `${n} clients backup s`,
      value: (performance.now() - started) / 1000,
    });
    await dropCaches();
    started = performance.now();
    await Promise.all(
      repos.map((repo, i) =>
        runRestic(repo, ["restore", "latest", "--target", join(data, "..", `restore-${kind}-${i}`)])
      ),
    );
    samples.push({
      kind,
      row: `${n} clients restore s`,
      value: (performance.now() - started) / 1000,
    });
    samples.push({ kind, row: `${n} clients RSS peak MiB`, value: await memory.stop() });
    for (const repo of repos) await runRestic(repo, ["check"]); // throws unless clean
  } finally {
    await server.stop();
    await Deno.remove(data, { recursive: true }).catch(() => {});
    for (let i = 0; i < n; i++) {
      await Deno.remove(join(data, "..", `restore-${kind}-${i}`), { recursive: true }).catch(
        () => {},
      );
    }
  }
  return samples;
}

/**
 * The user's workloads on restic-rest, the Deno.serve ceiling (what the
 * runtime itself reaches doing the same work) and rest-server, interleaved
 * over the rounds; each round's times are printed as they come, so a spread
 * shows beside the medians.
 *
 * @param tools The instruments and peers.
 * @param scale Sizes and rounds.
 * @param dir Scratch space.
 * @returns The samples.
 */
export async function workloadRounds(tools: Tools, scale: Scale, dir: string): Promise<Sample[]> {
  if (!tools.restic) return [];
  const kinds = ([
    "restic-rest",
    ...(tools.ceiling ? ["ceiling" as const] : []),
    ...(tools.restServer ? ["rest-server" as const] : []),
  ] as ServerKind[]).filter((kind) => !tools.servers || tools.servers.includes(kind));
  const source = join(dir, "templates", `workload-${scale.workloadMib}`);
  await makeSource(source, scale.workloadMib, scale.workloadSmallFiles);
  const clientSources = Array.from(
    { length: scale.clients },
    (_, i) => join(dir, "templates", `client-${scale.clientMib}-${i}`),
  );
  for (const client of clientSources) await makeSource(client, scale.clientMib, 50);
  const samples: Sample[] = [];
  for (let round = 1; round <= scale.rounds; round++) {
    for (const kind of round % 2 === 0 ? [...kinds].reverse() : kinds) {
      const got = [
        ...await oneClient(kind, tools, dir, source),
        ...await manyClients(kind, tools, dir, clientSources),
      ];
      samples.push(...got);
      const times = got.filter((sample) => sample.row.endsWith(" s"));
      console.error(
        `round ${round}: ${kind}: ` +
          times.map((sample) => `${sample.row} ${sample.value.toFixed(2)}`).join(", "),
      );
    }
  }
  return samples;
}

/**
 * A data folder holding the workload's source backed up into `/user/`
 * (made once, by the server at `main`), for runs that only read it.
 *
 * @returns The template folder; link-copy it (`linkCopy`) before each use.
 */
export async function restoreTemplate(
  tools: Tools,
  scale: Scale,
  dir: string,
  main?: string,
): Promise<string> {
  const data = join(dir, "templates", `restore-${scale.workloadMib}`);
  try {
    await Deno.stat(join(data, ".complete"));
    return data;
  } catch { /* make it */ }
  const source = join(dir, "templates", `workload-${scale.workloadMib}`);
  await makeSource(source, scale.workloadMib, scale.workloadSmallFiles);
  await Deno.remove(data, { recursive: true }).catch(() => {});
  const server = await startServer("restic-rest", tools, data, main);
  try {
    await runRestic(`rest:${server.url}/user/`, ["init"]);
    await runRestic(`rest:${server.url}/user/`, ["backup", source]);
  } finally {
    await server.stop();
  }
  await Deno.writeTextFile(join(data, ".complete"), "");
  return data;
}

/**
 * A restore and a `check --read-data` of `/user/`, each with the page cache
 * dropped: seconds and the server's peak memory.
 *
 * @param kind The column the samples go to.
 * @param server The server, serving a copy of {@link restoreTemplate}.
 * @param dir Scratch space for the restored files.
 */
export async function restoreRun(kind: string, server: BenchServer, dir: string) {
  const repo = `rest:${server.url}/user/`;
  const target = join(dir, "runs", "restored");
  await Deno.remove(target, { recursive: true }).catch(() => {});
  const samples: Sample[] = [];
  for (
    const [name, args] of [
      ["restore", ["restore", "latest", "--target", target]],
      ["check --read-data", ["check", "--read-data"]],
    ] as const
  ) {
    samples.push(...await timedPhase(kind, server, name, () => runRestic(repo, [...args]), true));
  }
  await Deno.remove(target, { recursive: true }).catch(() => {});
  return samples;
}
