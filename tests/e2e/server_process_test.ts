/** The program as a process: start-up lines, refusals, leftovers, signals. */
import assert from "node:assert/strict";
import { eventually, pseudoRandomBytes, sha256, tempDir, tempFiles } from "../helpers/files.ts";
import { E2E, runMain, serveNoAuth, startServerProcess } from "../helpers/process.ts";
import { TEMP_FILE_PREFIX } from "../../lib/base/restic.ts";

Deno.test("main refuses to start without authentication, naming the fix", async () => {
  await using data = await tempDir();
  const result = await runMain(["serve", data.path, "--listen", "127.0.0.1:0"]);
  assert.equal(result.code, 2);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], /--no-auth/);
  assert.match(lines[0], /restic-rest user add NAME/);
});

Deno.test("main prints --version from deno.json and --help on stdout", async () => {
  const version = await runMain(["--version"]);
  assert.equal(version.code, 0);
  const { default: denoJson } = await import("../../deno.json", { with: { type: "json" } });
  assert.equal(version.stdout.trim(), `restic-rest ${denoJson.version}`);
  const help = await runMain(["serve", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage:/);
  const bad = await runMain(["serve", "--nonsense"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /nonsense/);
});

Deno.test({
  name: "a taken address is refused in one line, with and without the connection guard",
  sanitizeResources: false,
  async fn() {
    await using data = await tempDir();
    await using first = await startServerProcess([data.path, "--no-auth"]);
    for (const extra of [[], ["--header-timeout", "0"]]) {
      const result = await runMain([
        "serve",
        data.path,
        "--no-auth",
        "--listen",
        first.address,
        ...extra,
      ]);
      assert.equal(result.code, 2, result.stderr);
      const last = result.stderr.trim().split("\n").at(-1) ?? "";
      assert.match(
        last,
        new RegExp(`^restic-rest: Cannot listen on ${first.address}: .*in use`, "i"),
      );
    }
    const response = await fetch(`${first.url}/?create=true`, { method: "POST" });
    await response.body?.cancel();
    assert.equal(response.status, 200, "the first server still serves");
  },
});

Deno.test({
  name: "server prints its real bound address last and serves there",
  sanitizeResources: false,
  async fn() {
    await using data = await tempDir();
    await using server = await startServerProcess([data.path, "--no-auth"]);
    assert.match(server.address, /^127\.0\.0\.1:[1-9]\d*$/);
    // Last of the start-up lines; the inventory's line may follow at any moment.
    const started = server.stderr.indexOf(`start server on ${server.address}`);
    assert.ok(started >= 0, server.stderr.join("\n"));
    assert.ok(
      server.stderr.slice(started + 1).every((line) => line.startsWith("inventory complete")),
      server.stderr.join("\n"),
    );
    assert.ok(server.stderr.every((line) => !/^\d{4}[-/]\d\d/.test(line)), "no timestamps");
    const response = await fetch(`${server.url}/?create=true`, { method: "POST" });
    await response.body?.cancel();
    assert.equal(response.status, 200);
    assert.equal(await server.stop("SIGINT"), 0);
  },
});

Deno.test({
  name: "server removes leftover temp files at start-up, while it already serves",
  sanitizeResources: false,
  async fn() {
    await using data = await tempDir();
    await Deno.mkdir(`${data.path}/r/data/ab`, { recursive: true });
    await Deno.writeTextFile(`${data.path}/r/data/ab/${TEMP_FILE_PREFIX}abc-1`, "half");
    await Deno.writeTextFile(`${data.path}/r/${TEMP_FILE_PREFIX}config-2`, "half");
    await using server = await startServerProcess([data.path, "--no-auth"]);
    assert.ok(await eventually(async () => (await tempFiles(data.path)).length === 0));
    assert.ok(
      await eventually(() => server.stderr.some((l) => /removed 2 unfinished upload/.test(l))),
    );
    assert.ok(server.stderr.some((l) => /inventory complete: 0 object\(s\), 0 bytes/.test(l)));
  },
});

Deno.test({
  name: "SIGTERM lets a running upload finish within the grace period, then exits 0",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    await using server = await serveNoAuth(data, "--shutdown-timeout 5");
    const body = pseudoRandomBytes(3 << 20, 3);
    const id = sha256(body);
    let sent = 0;
    // A slow upload: 3 MiB in 48 chunks over about one second.
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent >= body.length) return controller.close();
        await new Promise((r) => setTimeout(r, 20));
        controller.enqueue(body.subarray(sent, sent + 65536));
        sent += 65536;
      },
    });
    const upload = fetch(`${server.url}/data/${id}`, {
      method: "POST",
      body: stream,
      headers: { "content-length": String(body.length) },
    });
    assert.ok(await eventually(() => sent > 0));
    const exited = server.stop("SIGTERM");
    const response = await upload;
    await response.body?.cancel();
    assert.equal(response.status, 200);
    assert.equal(await exited, 0);
    const stored = await Deno.readFile(`${data.path}/data/${id.slice(0, 2)}/${id}`);
    assert.equal(sha256(stored), id);
    assert.deepEqual(await tempFiles(data.path), []);
  },
});

Deno.test({
  name: "SIGTERM aborts an upload that outlives the grace period and removes its temp file",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    await using server = await serveNoAuth(data, "--shutdown-timeout 1");
    const port = Number(server.address.split(":").pop());
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const id = sha256("never finished");
    await conn.write(new TextEncoder().encode(
      `POST /data/${id} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n` + "x".repeat(1000),
    ));
    assert.ok(await eventually(async () => (await tempFiles(data.path)).length === 1));
    const started = Date.now();
    assert.equal(await server.stop("SIGTERM"), 0);
    assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
    conn.close();
    assert.deepEqual(await tempFiles(data.path), []);
  },
});

Deno.test({
  name: "SIGTERM with --shutdown-delay: /healthz says 503 at once while requests are still served",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    await using server = await serveNoAuth(data, "--shutdown-delay 2");
    const before = await fetch(`${server.url}/healthz`);
    assert.equal(before.status, 200, await before.text());
    const started = Date.now();
    const exited = server.stop("SIGTERM");
    assert.ok(
      await eventually(async () => (await fetch(`${server.url}/healthz`)).status === 503, 1500),
    );
    const health = await fetch(`${server.url}/healthz`);
    assert.deepEqual(await health.json(), {
      status: "unavailable",
      reason: "shutting down",
      inventory: "complete",
    });
    // Still serving restic meanwhile: a repository is created, not refused.
    const created = await fetch(`${server.url}/late/?create=true`, { method: "POST" });
    await created.body?.cancel();
    assert.equal(created.status, 200);
    assert.ok(Date.now() - started < 2000, "checked within the delay");
    assert.equal(await exited, 0);
    assert.ok(Date.now() - started >= 2000, "served for the whole delay");
    assert.ok(server.stderr.some((l) => /\/healthz answers 503; serving 2s more/.test(l)));
  },
});
