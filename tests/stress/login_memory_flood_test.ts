/**
 * A memory attack on the login path, against the real server process at its
 * default settings: 20,000 logins, each with a new random 40 KiB user name,
 * from one address. Nothing of it may be kept: the server's memory barely
 * grows, it keeps answering a real user, and it is alive afterwards. (How
 * fast that user is served is timed by the benchmark, bench/logins.ts.)
 */
import assert from "node:assert/strict";
import { tempDir } from "../helpers/files.ts";
import { addUser, E2E, runFlood, startServerProcess } from "../helpers/process.ts";
import type { FloodReport } from "../../tools/flood.ts";

const REQUESTS = 20_000;
const USER_BYTES = 40 << 10;

/** The resident memory of a process, MiB. */
function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]) / 1024;
}

function flood(url: string): Promise<FloodReport> {
  return runFlood(url, [
    "--clients",
    "8",
    "--seconds",
    "120",
    "--requests",
    String(REQUESTS),
    "--user-bytes",
    String(USER_BYTES),
    "--from",
    "127.0.0.3",
  ]);
}

Deno.test({
  ...E2E,
  name:
    "20,000 logins with 40 KiB random user names: RSS grows under 32 MiB, a real user is let in throughout",
  async fn() {
    await using data = await tempDir();
    await addUser(data.path, "real", "real-pw");
    await using server = await startServerProcess([data.path]);
    const pid = server.process.pid;
    const keys = `${server.url}/real/keys/`;
    const real = { authorization: `Basic ${btoa("real:real-pw")}` };
    const get = async (): Promise<number> => {
      const response = await fetch(keys, { headers: real });
      await response.body?.cancel();
      return response.status;
    };
    await fetch(`${server.url}/real/?create=true`, { method: "POST", headers: real })
      .then((r) => r.body?.cancel());
    for (let i = 0; i < 20; i++) assert.equal(await get(), 200);
    const before = rssMiB(pid);
    let peak = before;
    const sampler = setInterval(() => peak = Math.max(peak, rssMiB(pid)), 50);
    let served = 0;
    let done = false;
    const attack = flood(keys).finally(() => done = true);
    while (!done) {
      assert.equal(await get(), 200, "the real user is let in");
      served++;
      await new Promise((r) => setTimeout(r, 50));
    }
    const report = await attack;
    clearInterval(sampler);
    peak = Math.max(peak, rssMiB(pid));
    const summary = `RSS ${before.toFixed(1)} -> peak ${
      peak.toFixed(1)
    } MiB; ${served} real requests served; flood ${JSON.stringify(report)}`;
    assert.ok(report.requests >= REQUESTS, summary);
    assert.deepEqual(
      report.statuses,
      { "401": report.requests },
      `every one refused unchecked: ${summary}`,
    );
    assert.ok(peak - before <= 32, summary);
    assert.ok(served >= 10, summary);
    assert.equal(await get(), 200, "alive afterwards");
    assert.equal(server.stderr.filter((l) => l.includes("failed login")).length, 0, "no log flood");
  },
});
