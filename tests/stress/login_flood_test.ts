/**
 * Authentication under attack, against the real server process: a password
 * flood from its own loopback address (127.0.0.2) neither slows a real user
 * nor gets more than a few guesses, and the real restic client keeps
 * working; mistyped passwords, timing of unknown users, trusted proxies.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pseudoRandomBytes, tempDir } from "../helpers/files.ts";
import { addUser, E2E, runFlood, startServerProcess } from "../helpers/process.ts";
import { resticOk } from "../helpers/restic.ts";
import type { FloodReport } from "../../tools/flood.ts";

const FLOOD_SECONDS = 15;
const FLOOD_CLIENTS = 16;

function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${btoa(`${user}:${password}`)}` };
}

async function status(url: string, headers: Record<string, string> = {}): Promise<Response> {
  const response = await fetch(url, { headers });
  await response.body?.cancel();
  return response;
}

/** Floods `url` as `user` from 127.0.0.2 for `seconds`. */
function startFlood(url: string, user: string, seconds: number): Promise<FloodReport> {
  return runFlood(url, [
    "--user",
    user,
    "--clients",
    String(FLOOD_CLIENTS),
    "--seconds",
    String(seconds),
    "--from",
    "127.0.0.2",
  ]);
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1] ?? NaN);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

Deno.test({
  ...E2E,
  name:
    "a 16-client password flood: the real user stays fast, the attacker gets 5 guesses and 429s",
  async fn() {
    await using data = await tempDir();
    await using work = await tempDir();
    await addUser(data.path, "real", "real-pw");
    await addUser(data.path, "backup", "backup-pw");
    await addUser(data.path, "metrics", "metrics-pw");
    await using server = await startServerProcess([data.path, "--prometheus"]);
    const keys = `${server.url}/real/keys/`;
    const real = basic("real", "real-pw");
    assert.equal(
      (await fetch(`${server.url}/real/?create=true`, { method: "POST", headers: real }))
        .status,
      200,
    );
    assert.equal((await status(keys, real)).status, 200, "the real user's credentials are cached");

    // How fast the real user is served meanwhile is timed by the benchmark (bench/logins.ts).
    const flood = startFlood(keys, "real", FLOOD_SECONDS);
    let served = 0;
    const until = Date.now() + FLOOD_SECONDS * 1000;
    await new Promise((r) => setTimeout(r, 300));
    while (Date.now() < until - 300) {
      assert.equal((await status(keys, real)).status, 200, "the real user is let in");
      served++;
      await new Promise((r) => setTimeout(r, 300));
    }
    const report = await flood;
    const summary = `${served} real requests served; flood ${JSON.stringify(report)}`;
    assert.ok(served >= 20, summary);
    assert.ok((report.statuses["429"] ?? 0) > 100, `the attacker is answered 429: ${summary}`);
    assert.equal(report.missingRetryAfter, 0, "every 429 says when to retry");
    // The default limit: 5 failed logins per address per 60 s window.
    assert.equal(report.statuses["401"], 5, `5 passwords checked for the attacker: ${summary}`);
    const scraped = await (await fetch(`${server.url}/metrics`, {
      headers: basic("metrics", "metrics-pw"),
    })).text();
    assert.equal(metric(scraped, "restic_rest_failed_logins_total"), 5);
    assert.equal(metric(scraped, "restic_rest_throttled_requests_total"), report.statuses["429"]);
    const throttled = server.stderr.filter((l) => l.includes("login throttled"));
    assert.equal(throttled.length, 1, "logged once per window");
    assert.match(
      throttled[0],
      /5 failed logins from 127\.0\.0\.2 within 60s \(last user tried "real"\)/,
    );
    assert.equal(server.stderr.filter((l) => l.includes("failed login for")).length, 5);

    // The real restic client, from another address, backs up and checks through a second flood.
    const source = join(work.path, "source");
    await Deno.mkdir(source);
    for (let i = 0; i < 6; i++) {
      await Deno.writeFile(join(source, `f${i}`), pseudoRandomBytes(300_000 + i, i + 40));
    }
    const second = startFlood(keys, "backup", 20);
    const repo = `rest:http://backup:backup-pw@${server.url.slice(7)}/backup/`;
    await resticOk(repo, ["init"]);
    await resticOk(repo, ["backup", "--quiet", source]);
    assert.match(await resticOk(repo, ["check", "--read-data"]), /no errors were found/);
    const secondReport = await second;
    assert.ok((secondReport.statuses["429"] ?? 0) > 0, JSON.stringify(secondReport));
    assert.ok(server.stderr.every((l) => !l.includes("real-pw") && !l.includes("backup-pw")));
  },
});

Deno.test({
  ...E2E,
  name: "a mistyped password gets in once the window passes; a correct login clears the address",
  async fn() {
    await using data = await tempDir();
    await addUser(data.path, "anna", "anna-pw");
    await addUser(data.path, "ben", "ben-pw");
    await using server = await startServerProcess([
      data.path,
      "--login-failures",
      "3",
      "--login-window",
      "2s",
    ]);
    const url = `${server.url}/anna/keys/`;
    for (let i = 0; i < 3; i++) {
      assert.equal((await status(url, basic("anna", `typo-${i}`))).status, 401);
    }
    const refused = await status(url, basic("anna", "anna-pw"));
    assert.equal(refused.status, 429, "even the right password waits for the window");
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 2, `Retry-After ${retryAfter}`);
    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 100));
    assert.equal((await status(url, basic("anna", "anna-pw"))).status, 404, "in (no repository)");

    // Two typos, a success (checked, not cached: ben's first), then three more tries are checked.
    const benUrl = `${server.url}/ben/keys/`;
    await new Promise((r) => setTimeout(r, 2100)); // a fresh window for the address
    assert.equal((await status(benUrl, basic("ben", "typo-1"))).status, 401);
    assert.equal((await status(benUrl, basic("ben", "typo-2"))).status, 401);
    assert.equal((await status(benUrl, basic("ben", "ben-pw"))).status, 404);
    for (const typo of ["typo-3", "typo-4", "typo-5"]) {
      assert.equal((await status(benUrl, basic("ben", typo))).status, 401, typo);
    }
    assert.equal((await status(benUrl, basic("ben", "typo-6"))).status, 429);
  },
});

Deno.test({
  ...E2E,
  name: "an unknown user costs the same time as a known user's wrong password (50 tries each)",
  async fn() {
    await using data = await tempDir();
    await addUser(data.path, "anna", "anna-pw");
    await using server = await startServerProcess([
      data.path,
      "--login-failures",
      "1000",
      "--login-failures-per-user",
      "1000",
    ]);
    const url = `${server.url}/anna/keys/`;
    await status(url, basic("nobody", "warm-up"));
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 50; i++) {
      for (const [user, times] of [["anna", known], [`ghost${i}`, unknown]] as const) {
        const started = performance.now();
        assert.equal((await status(url, basic(user, `wrong-${i}`))).status, 401);
        times.push(performance.now() - started);
      }
    }
    const [a, b] = [percentile(known, 0.5), percentile(unknown, 0.5)];
    const difference = Math.abs(a - b) / Math.max(a, b);
    assert.ok(
      difference < 0.1,
      `known ${a.toFixed(1)} ms, unknown ${b.toFixed(1)} ms (median): ${
        (difference * 100).toFixed(1)
      }%`,
    );
    assert.ok(a > 5, `a wrong password runs bcrypt (${a.toFixed(1)} ms)`);
  },
});

Deno.test({
  ...E2E,
  name:
    "behind a named proxy clients are throttled apart; without --trusted-proxy the header is ignored",
  async fn() {
    await using data = await tempDir();
    await addUser(data.path, "anna", "anna-pw");
    const forwarded = (from: string, password: string) => ({
      ...basic("anna", password),
      "x-forwarded-for": from,
    });
    {
      await using server = await startServerProcess([
        data.path,
        "--login-failures",
        "2",
        "--trusted-proxy",
        "127.0.0.1",
        "--trusted-proxy",
        "::1",
      ]);
      const url = `${server.url}/anna/keys/`;
      assert.equal((await status(url, forwarded("10.0.0.1", "x"))).status, 401);
      assert.equal((await status(url, forwarded("10.0.0.1", "y"))).status, 401);
      assert.equal((await status(url, forwarded("10.0.0.1", "z"))).status, 429);
      assert.equal((await status(url, forwarded("10.0.0.2", "x"))).status, 401, "another client");
      assert.ok(server.stderr.some((l) => /login throttled: .* from 10\.0\.0\.1 /.test(l)));
      assert.ok(server.stderr.some((l) => /failed login for user "anna" from 10\.0\.0\.2/.test(l)));
    }
    {
      await using server = await startServerProcess([data.path, "--login-failures", "2"]);
      const url = `${server.url}/anna/keys/`;
      assert.equal((await status(url, forwarded("10.0.0.1", "x"))).status, 401);
      assert.equal((await status(url, forwarded("10.0.0.1", "y"))).status, 401);
      assert.equal(
        (await status(url, forwarded("10.0.0.2", "x"))).status,
        429,
        "the header is not believed: both are 127.0.0.1",
      );
    }
  },
});
