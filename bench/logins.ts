// Reports progress on stderr: printing is its job.
// deno-lint-ignore-file no-console
/**
 * Logins under attack, timed: restic-rest with authentication (the bench
 * user's cached credentials) while `tools/flood.ts` floods it from another
 * loopback address, first with wrong passwords for a real user, then with
 * 40 KiB random user names. A real user's request every 50 ms is timed
 * (latency at a low rate: a Deno client times single requests well enough);
 * the server's memory growth is read from /proc. The tests check what these
 * floods may not do (more guesses, memory, a crash); the times are judged here.
 *
 * @module
 */

import { join } from "node:path";
import type { Sample } from "./report.ts";
import type { Scale } from "./scenarios.ts";
import { BENCH_USER, startServer } from "./servers.ts";
import { median } from "./stats.ts";
import type { Tools } from "./tools.ts";

const FLOOD = new URL("../tools/flood.ts", import.meta.url).pathname;

/** Runs the flood tool as its own process; settles when it is done. */
function flood(url: string, args: string[]): Promise<void> {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FLOOD, "--url", url, "--from", "127.0.0.2", ...args],
    stdout: "null",
    stderr: "null",
  }).output().then(() => {});
}

/** A real user's request every 50 ms while `attack` runs; their latencies, ms. */
async function whileFlooded(url: string, attack: Promise<void>): Promise<number[]> {
  const headers = {
    authorization: `Basic ${btoa(`${BENCH_USER.name}:${BENCH_USER.password}`)}`,
  };
  let done = false;
  attack.finally(() => done = true);
  await new Promise((r) => setTimeout(r, 200)); // the flood is under way
  const latencies: number[] = [];
  while (!done) {
    const started = performance.now();
    const response = await fetch(url, { headers });
    await response.body?.cancel();
    if (response.status !== 200) throw new Error(`the real user got ${response.status}`);
    latencies.push(performance.now() - started);
    await new Promise((r) => setTimeout(r, 50));
  }
  return latencies;
}

/**
 * The login rows: a 16-client password flood and a 20,000-request flood of
 * 40 KiB user names (scaled down for `--quick`).
 *
 * @param tools The instruments.
 * @param scale Sizes and rounds.
 * @param dir Scratch space.
 * @returns The samples.
 */
export async function loginRounds(tools: Tools, scale: Scale, dir: string): Promise<Sample[]> {
  const samples: Sample[] = [];
  const kind = "restic-rest+auth+log";
  for (let round = 1; round <= scale.rounds; round++) {
    const data = join(dir, "runs", `logins-${round}`);
    await Deno.remove(data, { recursive: true }).catch(() => {});
    const server = await startServer(kind, tools, data);
    try {
      const url = `${server.url}/bench/keys/`;
      const headers = {
        authorization: `Basic ${btoa(`${BENCH_USER.name}:${BENCH_USER.password}`)}`,
      };
      await fetch(`${server.url}/bench/?create=true`, { method: "POST", headers })
        .then((r) => r.body?.cancel());
      const passwords = await whileFlooded(
        url,
        flood(url, ["--user", BENCH_USER.name, "--clients", "16", "--seconds", "10"]),
      );
      samples.push(
        { kind, row: "password flood: real user p50 ms", value: median(passwords) },
        { kind, row: "password flood: real user max ms", value: Math.max(...passwords) },
      );
      const before = (await server.rssKib()) / 1024;
      let peak = before;
      const sampler = setInterval(async () => {
        peak = Math.max(peak, (await server.rssKib()) / 1024);
      }, 50);
      const requests = scale.blobs >= 64 ? 20_000 : 2_000;
      const names = await whileFlooded(
        url,
        flood(url, ["--clients", "8", "--requests", String(requests), "--user-bytes", "40960"]),
      );
      clearInterval(sampler);
      samples.push(
        { kind, row: "name flood: real user p50 ms", value: median(names) },
        { kind, row: "name flood: RSS growth MiB", value: peak - before },
      );
      console.error(`round ${round}: logins`);
    } finally {
      await server.stop();
      await Deno.remove(data, { recursive: true }).catch(() => {});
    }
  }
  return samples;
}
