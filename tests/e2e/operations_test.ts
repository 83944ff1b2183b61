/** Metrics, access log, health, permissions and rest-server's command line, on a real process. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { formatCombinedLog } from "../../lib/base/log.ts";
import { listFiles, pseudoRandomBytes, sha256, tempDir } from "../helpers/files.ts";
import { E2E, runCommand, serveNoAuth, startServerProcess } from "../helpers/process.ts";
import { restic, resticOk } from "../helpers/restic.ts";

const PASSWORD = "Tr0ub4dor-secret-pw";

/** Apache's combined log format. */
const COMBINED =
  /^(\S+) (\S+) (\S+) \[(\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "([A-Z]+) (\S+) (HTTP\/\d\.\d)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$/;

async function promtool(text: string): Promise<{ code: number; output: string }> {
  const result = await runCommand("promtool", ["check", "metrics"], text);
  return { code: result.code, output: result.stdout + result.stderr };
}

function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return total;
}

Deno.test("formatCombinedLog() writes lines the combined-format pattern parses, escaping quotes", () => {
  const line = formatCombinedLog({
    remote: "127.0.0.1",
    user: "alice",
    time: new Date(Date.UTC(2026, 10, 27, 9, 5, 3)),
    method: "GET",
    target: "/alice/data/",
    status: 200,
    bytes: 1234,
    referer: null,
    userAgent: 'restic/0.14 "quoted"\n',
  });
  assert.equal(
    line,
    '127.0.0.1 - alice [27/Nov/2026:09:05:03 +0000] "GET /alice/data/ HTTP/1.1" 200 1234 "-" "restic/0.14 \\"quoted\\"\\x0a"',
  );
  assert.match(line, COMBINED);
});

Deno.test({
  ...E2E,
  name: "metrics pass promtool and follow real restic backups; the log never holds the password",
  async fn() {
    await using data = await tempDir();
    await using work = await tempDir();
    const logFile = join(work.path, "access.log");
    const hash = await new Deno.Command("htpasswd", { args: ["-nbB", "-C", "5", "anna", PASSWORD] })
      .output();
    await Deno.writeTextFile(join(data.path, ".htpasswd"), new TextDecoder().decode(hash.stdout));
    await using server = await startServerProcess([
      data.path,
      "--prometheus",
      "--log",
      logFile,
      "--debug",
    ]);
    const host = server.url.slice(7);
    const repo = `rest:http://anna:${PASSWORD}@${host}/anna/`;
    const auth = { authorization: `Basic ${btoa(`anna:${PASSWORD}`)}` };
    const scrape = async (): Promise<string> => {
      const response = await fetch(`${server.url}/metrics`, { headers: auth });
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      return await response.text();
    };
    const unauthenticated = await fetch(`${server.url}/metrics`);
    await unauthenticated.body?.cancel();
    assert.equal(
      unauthenticated.status,
      401,
      "metrics are behind auth without --prometheus-no-auth",
    );

    const source = join(work.path, "src");
    await Deno.mkdir(source);
    for (let i = 0; i < 30; i++) {
      await Deno.writeFile(join(source, `f${i}`), pseudoRandomBytes(50_000 + i, i + 1));
    }
    await resticOk(repo, ["init"]);
    await resticOk(repo, ["backup", "--quiet", source]);
    await Deno.writeTextFile(join(source, "more"), "more\n");
    await resticOk(repo, ["backup", "--quiet", source]);
    await resticOk(repo, ["check", "--read-data"]);

    const text = await scrape();
    const checked = await promtool(text);
    assert.equal(checked.code, 0, checked.output + "\n" + text);

    // What restic left on disk, by type.
    const files = (await listFiles(join(data.path, "anna"))).filter((f) => /[0-9a-f]{64}$/.test(f));
    const sizes: Record<string, { count: number; bytes: number }> = {};
    for (const f of files) {
      const type = f.split("/")[0];
      const size = (await Deno.stat(join(data.path, "anna", f))).size;
      sizes[type] ??= { count: 0, bytes: 0 };
      sizes[type].count++;
      sizes[type].bytes += size;
    }
    const config = (await Deno.stat(join(data.path, "anna", "config"))).size;
    const objectBytes = Object.values(sizes).reduce((sum, s) => sum + s.bytes, 0);
    const written = sample(text, "rest_server_blob_write_bytes_total", {
      repo: "anna",
      user: "anna",
    });
    const deleted = sample(text, "rest_server_blob_delete_bytes_total", {
      repo: "anna",
      user: "anna",
    });
    assert.equal(written - deleted, objectBytes, "bytes written minus deleted = bytes stored");
    assert.ok(
      sample(text, "rest_server_blob_delete_total", { type: "locks" }) >= 2,
      "locks were released",
    );
    assert.equal(sample(text, "rest_server_blob_write_total", { type: "snapshots" }), 2);
    assert.ok(
      sample(text, "rest_server_blob_read_bytes_total", { type: "data" }) > 0,
      "check read packs",
    );
    assert.equal(
      sample(text, "restic_rest_repo_stored_bytes", { repo: "anna" }),
      objectBytes + config,
    );
    for (const [type, { count }] of Object.entries(sizes)) {
      assert.equal(sample(text, "restic_rest_repo_objects", { repo: "anna", type }), count, type);
    }
    const newest = sample(text, "restic_rest_repo_newest_snapshot_timestamp_seconds", {
      repo: "anna",
    });
    assert.ok(Math.abs(newest - Date.now() / 1000) < 120, `newest snapshot at ${newest}`);

    // forget --prune: the gauges drop with the deletes.
    await resticOk(repo, ["forget", "--keep-last", "1", "--prune"]);
    const after = await scrape();
    assert.equal(sample(after, "restic_rest_repo_objects", { repo: "anna", type: "snapshots" }), 1);
    const storedAfter = (await listFiles(join(data.path, "anna")))
      .filter((f) => /[0-9a-f]{64}$|^config$/.test(f));
    let bytesAfter = 0;
    for (const f of storedAfter) bytesAfter += (await Deno.stat(join(data.path, "anna", f))).size;
    assert.equal(sample(after, "restic_rest_repo_stored_bytes", { repo: "anna" }), bytesAfter);

    // A failed login, then the logs.
    const wrong = await restic(`rest:http://anna:wrong-one@${host}/anna/`, ["snapshots"]);
    assert.notEqual(wrong.code, 0);
    assert.equal(await server.stop("SIGTERM"), 0);
    const lines = (await Deno.readTextFile(logFile)).trim().split("\n");
    assert.ok(lines.length > 20);
    for (const line of lines) assert.match(line, COMBINED, line);
    const parsed = lines.map((line) => COMBINED.exec(line)!);
    assert.ok(parsed.some((m) => m[3] === "anna" && m[8] === "200" && m[5] === "POST"));
    assert.ok(
      parsed.some((m) => m[1] === "127.0.0.1" && m[3] === "anna" && m[8] === "401"),
      "failed login",
    );
    assert.ok(server.stderr.some((l) => /failed login for user "anna" from 127\.0\.0\.1/.test(l)));
    const everything = (await Deno.readTextFile(logFile)) + server.stderr.join("\n");
    assert.ok(!everything.includes(PASSWORD), "the password is never logged");
    assert.ok(!everything.includes("wrong-one"), "nor a wrong one");
    assert.ok(!everything.includes(btoa(`anna:${PASSWORD}`)), "nor the Basic header");
  },
});

Deno.test({
  ...E2E,
  name: "--prometheus-no-auth serves /metrics openly; without --prometheus /metrics is no endpoint",
  async fn() {
    await using data = await tempDir();
    await using open = await serveNoAuth(data, "--prometheus --prometheus-no-auth");
    const response = await fetch(`${open.url}/metrics`);
    const text = await response.text();
    assert.equal(response.status, 200);
    assert.equal((await promtool(text)).code, 0);
    await using off = await startServerProcess([data.path, "--no-auth"]);
    const none = await fetch(`${off.url}/metrics`);
    await none.body?.cancel();
    assert.equal(none.status, 404);
  },
});

Deno.test({
  ...E2E,
  name: "/healthz answers 200 with JSON, needs no auth, and 503 when the data directory is gone",
  async fn() {
    await using work = await tempDir();
    const dataDir = join(work.path, "data");
    await Deno.mkdir(dataDir);
    await Deno.writeTextFile(join(dataDir, ".htpasswd"), "u:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n");
    await using server = await startServerProcess([dataDir]);
    const ok = await fetch(`${server.url}/healthz`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { status: "ok", inventory: "complete" });
    const repo = await fetch(`${server.url}/healthz/`);
    await repo.body?.cancel();
    assert.equal(repo.status, 401, "only the exact path skips authentication");
    assert.deepEqual(await listFiles(dataDir), [".htpasswd"], "the probe file is gone");
    await Deno.remove(dataDir, { recursive: true });
    const down = await fetch(`${server.url}/healthz`);
    assert.equal(down.status, 503);
    const body = await down.json();
    assert.deepEqual(
      body,
      {
        status: "unavailable",
        reason: "look up the data folder: not found",
        inventory: "complete",
      },
      "says why, and nothing about repositories",
    );
  },
});

Deno.test({
  ...E2E,
  name: "--group-accessible-repos makes folders 0770 and files 0660; the default is 0700/0600",
  async fn() {
    for (
      const [flags, dirMode, fileMode] of [[["--group-accessible-repos"], 0o770, 0o660], [
        [],
        0o700,
        0o600,
      ]] as const
    ) {
      await using data = await tempDir();
      await using server = await startServerProcess([data.path, "--no-auth", ...flags]);
      const blob = new TextEncoder().encode("blob");
      for (
        const [method, path, body] of [
          ["POST", "/g/?create=true", null],
          ["POST", `/g/data/${sha256(blob)}`, blob],
          ["POST", "/g/config", blob],
        ] as const
      ) {
        const response = await fetch(`${server.url}${path}`, { method, body });
        await response.body?.cancel();
        assert.equal(response.status, 200);
      }
      const id = sha256(blob);
      assert.equal(
        (await Deno.stat(join(data.path, "g", "data", id.slice(0, 2)))).mode! & 0o777,
        dirMode,
      );
      assert.equal((await Deno.stat(join(data.path, "g", "keys"))).mode! & 0o777, dirMode);
      assert.equal(
        (await Deno.stat(join(data.path, "g", "data", id.slice(0, 2), id))).mode! & 0o777,
        fileMode,
      );
      assert.equal((await Deno.stat(join(data.path, "g", "config"))).mode! & 0o777, fileMode);
    }
  },
});

Deno.test({
  ...E2E,
  name: "a typical rest-server command line works unchanged and behaves the same",
  async fn() {
    await using data = await tempDir();
    await using work = await tempDir();
    const htpasswd = join(work.path, "users");
    const line = await new Deno.Command("htpasswd", { args: ["-nbm", "alice", "pw-a"] }).output();
    const line2 = await new Deno.Command("htpasswd", { args: ["-nbs", "metrics", "pw-m"] })
      .output();
    await Deno.writeTextFile(
      htpasswd,
      new TextDecoder().decode(line.stdout) + new TextDecoder().decode(line2.stdout),
    );
    await using server = await startServerProcess([
      "--path",
      data.path,
      "--listen",
      "127.0.0.1:0",
      "--append-only",
      "--private-repos",
      "--htpasswd-file",
      htpasswd,
      "--prometheus",
      "--no-verify-upload=false",
      "--debug=true",
    ]);
    const host = server.url.slice(7);
    await using source = await tempDir();
    await Deno.writeFile(join(source.path, "f"), pseudoRandomBytes(100_000, 3));
    const own = `rest:http://alice:pw-a@${host}/alice/`;
    await resticOk(own, ["init"]);
    await resticOk(own, ["backup", "--quiet", source.path]);
    const foreign = await restic(`rest:http://alice:pw-a@${host}/bob/`, ["init"]);
    assert.notEqual(foreign.code, 0, "private repos");
    const snapshot = JSON.parse(await resticOk(own, ["snapshots", "--json"]))[0].id;
    const del = await fetch(`${server.url}/alice/snapshots/${snapshot}`, {
      method: "DELETE",
      headers: { authorization: `Basic ${btoa("alice:pw-a")}` },
    });
    await del.body?.cancel();
    assert.equal(del.status, 403, "append-only");
    const asAlice = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Basic ${btoa("alice:pw-a")}` },
    });
    await asAlice.body?.cancel();
    assert.equal(asAlice.status, 401, "with private repos only the metrics user reads /metrics");
    const asMetrics = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Basic ${btoa("metrics:pw-m")}` },
    });
    assert.match(
      await asMetrics.text(),
      /rest_server_blob_write_total\{repo="alice",type="snapshots",user="alice"\} 1/,
    );
    assert.ok(server.stderr.some((l) => l.startsWith("debug: ")), "--debug=true took effect");
  },
});

Deno.test("rest-server flags Deno cannot honour are refused with one clear line", async () => {
  const { parseCommand } = await import("../../lib/cli/command.ts");
  const { ConfigError } = await import("../../lib/base/errors.ts");
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["--cpu-profile", "x.prof"], {}, /--cpu-prof/],
    [["--tls-min-ver", "1.3"], {}, /only "1\.2"/],
    [["--path", "/x"], { LISTEN_FDS: "1" }, /systemd/],
    [["--prometheus-no-auth"], {}, /add --prometheus/],
    [["--max-size", "lots"], {}, /Cannot read size/],
  ];
  for (const [args, env, message] of cases) {
    assert.throws(
      () => parseCommand(args, env),
      (err) => err instanceof ConfigError && message.test(err.message),
    );
  }
  const ok = parseCommand(["--path", "/x", "--tls-min-ver", "1.2", "--max-size", "1000", "-v"], {});
  assert.equal(ok.kind, "version", "-v is rest-server's version flag");
  const config = parseCommand(["--path", "/x", "--max-size", "1000", "--append-only=false"], {});
  assert.ok(config.kind === "serve" && config.config.maxSize === 1000 && !config.config.appendOnly);
});
