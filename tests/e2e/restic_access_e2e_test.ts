/**
 * Access control end to end with the real restic client: credentials in the
 * URL, append-only, a policy with an append-only user and a full admin, TLS
 * with --cacert, a unix socket, SIGHUP reload and the user command.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pseudoRandomBytes, sha256, tempDir } from "../helpers/files.ts";
import { addUser, E2E, runMain, startServerProcess } from "../helpers/process.ts";
import { restic, resticOk } from "../helpers/restic.ts";
import { makeCertificate } from "../helpers/tls.ts";

async function makeSource(root: string): Promise<string> {
  const source = join(root, "source");
  await Deno.mkdir(join(source, "sub"), { recursive: true });
  for (let i = 0; i < 20; i++) {
    await Deno.writeFile(
      join(source, "sub", `file-${i}`),
      pseudoRandomBytes(1000 + i * 3000, i + 11),
    );
  }
  return source;
}

function snapshotCount(json: string): number {
  return (JSON.parse(json) as unknown[]).length;
}

Deno.test({
  ...E2E,
  name: "restic with credentials in the URL; a wrong password and none are refused",
  async fn() {
    await using data = await tempDir();
    await using work = await tempDir();
    await addUser(data.path, "alice", "alice-pw");
    await using server = await startServerProcess([data.path]);
    const host = server.url.slice("http://".length);
    const repo = `rest:http://alice:alice-pw@${host}/alice/`;
    const source = await makeSource(work.path);
    await resticOk(repo, ["init"]);
    await resticOk(repo, ["backup", "--quiet", source]);
    assert.match(await resticOk(repo, ["check", "--read-data"]), /no errors were found/);
    const target = join(work.path, "restore");
    await resticOk(repo, ["restore", "latest", "--target", target]);
    const restored = await Deno.readFile(join(target, source, "sub", "file-7"));
    assert.deepEqual(restored, await Deno.readFile(join(source, "sub", "file-7")));
    const wrong = await restic(`rest:http://alice:nope@${host}/alice/`, ["snapshots"]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr + wrong.stdout, /401|Unauthorized/);
    const none = await restic(`rest:http://${host}/alice/`, ["snapshots"]);
    assert.notEqual(none.code, 0);
    assert.ok(server.stderr.some((l) => /failed login for user "alice" from 127\.0\.0\.1/.test(l)));
    assert.ok(server.stderr.every((l) => !l.includes("nope") && !l.includes("alice-pw")));
  },
});

Deno.test({
  ...E2E,
  name: "restic in --append-only mode: backup and unlock work, forget --prune is refused",
  async fn() {
    await using data = await tempDir();
    await using work = await tempDir();
    await addUser(data.path, "client", "pw");
    const source = await makeSource(work.path);
    {
      await using setup = await startServerProcess([data.path]);
      const repo = `rest:http://client:pw@${setup.url.slice(7)}/client/`;
      await resticOk(repo, ["init"]);
      await resticOk(repo, ["backup", "--quiet", source]);
    }
    await using server = await startServerProcess([data.path, "--append-only"]);
    const repo = `rest:http://client:pw@${server.url.slice(7)}/client/`;
    await Deno.writeTextFile(join(source, "new-file"), "appended\n");
    await resticOk(repo, ["backup", "--quiet", source]);
    // A stale lock, as a crashed client leaves it: unlock may remove locks.
    const lockBody = new TextEncoder().encode("stale");
    const lockId = sha256(lockBody);
    const auth = { authorization: `Basic ${btoa("client:pw")}` };
    const planted = await fetch(`${server.url}/client/locks/${lockId}`, {
      method: "POST",
      body: lockBody,
      headers: auth,
    });
    await planted.body?.cancel();
    assert.equal(planted.status, 200);
    await resticOk(repo, ["unlock", "--remove-all"]);
    const locks = await fetch(`${server.url}/client/locks/`, { headers: auth }).then((r) =>
      r.json()
    );
    assert.deepEqual(locks, []);
    assert.equal(snapshotCount(await resticOk(repo, ["snapshots", "--json"])), 2);
    const forget = await restic(repo, ["forget", "--keep-last", "1", "--prune"]);
    assert.notEqual(forget.code, 0, "forget --prune must fail in append-only mode");
    assert.equal(
      snapshotCount(await resticOk(repo, ["snapshots", "--json"])),
      2,
      "nothing was removed",
    );
    assert.match(await resticOk(repo, ["check", "--read-data"]), /no errors were found/);
  },
});

Deno.test({
  ...E2E,
  name: "restic with a policy: the append-only client cannot prune, the full admin can",
  async fn() {
    await using data = await tempDir();
    await using work = await tempDir();
    await addUser(data.path, "laptop", "laptop-pw");
    await addUser(data.path, "admin", "admin-pw");
    const policyFile = join(work.path, "policy.json");
    await Deno.writeTextFile(
      policyFile,
      JSON.stringify({ users: { "*": { "/{user}/": "append-only" }, admin: { "/": "full" } } }),
    );
    await using server = await startServerProcess([data.path, "--policy", policyFile]);
    const host = server.url.slice(7);
    const asClient = `rest:http://laptop:laptop-pw@${host}/laptop/`;
    const asAdmin = `rest:http://admin:admin-pw@${host}/laptop/`;
    const source = await makeSource(work.path);
    await resticOk(asClient, ["init"]);
    await resticOk(asClient, ["backup", "--quiet", source]);
    await Deno.writeTextFile(join(source, "second"), "2\n");
    await resticOk(asClient, ["backup", "--quiet", source]);
    const clientPrune = await restic(asClient, ["forget", "--keep-last", "1", "--prune"]);
    assert.notEqual(clientPrune.code, 0);
    assert.equal(snapshotCount(await resticOk(asAdmin, ["snapshots", "--json"])), 2);
    const other = await restic(`rest:http://laptop:laptop-pw@${host}/admin/`, ["init"]);
    assert.notEqual(other.code, 0, "the client has no access outside /laptop/");
    await resticOk(asAdmin, ["forget", "--keep-last", "1", "--prune"]);
    assert.equal(snapshotCount(await resticOk(asClient, ["snapshots", "--json"])), 1);
    assert.match(await resticOk(asAdmin, ["check", "--read-data"]), /no errors were found/);
  },
});

Deno.test({
  ...E2E,
  name: "restic over TLS with --cacert",
  async fn() {
    await using data = await tempDir();
    await using work = await tempDir();
    const { ca: cert } = await makeCertificate(data.path);
    await using server = await startServerProcess([data.path, "--no-auth", "--tls"]);
    const repo = `rest:https://${server.address}/tls/`;
    const source = await makeSource(work.path);
    await resticOk(repo, ["--cacert", cert, "init"]);
    await resticOk(repo, ["--cacert", cert, "backup", "--quiet", source]);
    assert.match(
      await resticOk(repo, ["--cacert", cert, "check", "--read-data"]),
      /no errors were found/,
    );
    const untrusted = await restic(repo, ["snapshots"]);
    assert.notEqual(untrusted.code, 0, "without --cacert the certificate is not trusted");
    const plain = await restic(`rest:http://${server.address}/tls/`, ["snapshots"]);
    assert.notEqual(plain.code, 0, "plain HTTP is not served on the TLS port");
  },
});

/** Forwards loopback TCP connections to a unix socket (restic 0.14 has no http+unix). */
function bridgeToUnixSocket(path: string): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const tcp of listener) {
      (async () => {
        const unix = await Deno.connect({ transport: "unix", path });
        await Promise.allSettled([
          tcp.readable.pipeTo(unix.writable),
          unix.readable.pipeTo(tcp.writable),
        ]);
      })().catch(() => {});
    }
  })().catch(() => {});
  return { port: listener.addr.port, close: () => listener.close() };
}

Deno.test({
  ...E2E,
  name: "restic through a unix socket; a stale socket file is replaced, and removed on shutdown",
  async fn() {
    await using data = await tempDir();
    await using work = await tempDir();
    const socket = join(work.path, "restic-rest.sock");
    // A stale socket, as a crashed server leaves it.
    const stale = Deno.listen({ transport: "unix", path: socket });
    stale.close();
    await Deno.writeTextFile(socket + ".probe", "").then(() => Deno.remove(socket + ".probe"));
    await using server = await startServerProcess([
      data.path,
      "--no-auth",
      "--listen",
      `unix:${socket}`,
    ]);
    assert.equal(server.address, `unix:${socket}`);
    const bridge = bridgeToUnixSocket(socket);
    try {
      const repo = `rest:http://127.0.0.1:${bridge.port}/over/unix/`;
      const source = await makeSource(work.path);
      await resticOk(repo, ["init"]);
      await resticOk(repo, ["backup", "--quiet", source]);
      assert.match(await resticOk(repo, ["check", "--read-data"]), /no errors were found/);
    } finally {
      bridge.close();
    }
    assert.equal(await server.stop("SIGTERM"), 0);
    await assert.rejects(Deno.lstat(socket), Deno.errors.NotFound);
  },
});

Deno.test({
  ...E2E,
  name: "a second server on a live unix socket is refused",
  async fn() {
    await using data = await tempDir();
    const socket = join(data.path, "..", `${data.path.split("/").pop()}.sock`);
    await using first = await startServerProcess([
      data.path,
      "--no-auth",
      "--listen",
      `unix:${socket}`,
    ]);
    const second = await runMain(["serve", data.path, "--no-auth", "--listen", `unix:${socket}`]);
    assert.equal(second.code, 2);
    assert.match(second.stderr, /another server is listening/);
    assert.equal(await first.stop("SIGTERM"), 0);
  },
});

Deno.test({
  ...E2E,
  name: "SIGHUP reloads the htpasswd file without a restart",
  async fn() {
    await using data = await tempDir();
    await addUser(data.path, "first", "pw1");
    await using server = await startServerProcess([data.path]);
    const asSecond = { authorization: `Basic ${btoa("second:pw2")}` };
    const before = await fetch(`${server.url}/second/?create=true`, {
      method: "POST",
      headers: asSecond,
    });
    await before.body?.cancel();
    assert.equal(before.status, 401);
    await addUser(data.path, "second", "pw2");
    server.process.kill("SIGHUP");
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const response = await fetch(`${server.url}/second/?create=true`, {
        method: "POST",
        headers: asSecond,
      });
      await response.body?.cancel();
      status = response.status;
    }
    assert.equal(status, 200);
    assert.ok(server.stderr.some((l) => /reloaded .*\(SIGHUP\): 2 user/.test(l)));
  },
});

Deno.test({
  ...E2E,
  name: "user add/list/remove manage a 0600 htpasswd file that Apache's htpasswd reads",
  async fn() {
    await using data = await tempDir();
    const run = async (
      args: string[],
      stdin = "",
    ): Promise<{ code: number; out: string; err: string }> => {
      const result = await runMain(["user", ...args, "--path", data.path], stdin);
      return { code: result.code, out: result.stdout, err: result.stderr };
    };
    assert.equal((await run(["add", "anna", "--password-stdin"], "pw-anna\n")).code, 0);
    assert.equal((await run(["add", "ben"], "pw-ben\npw-ben\n")).code, 0, "prompted twice");
    const mismatch = await run(["add", "carl"], "one\ntwo\n");
    assert.equal(mismatch.code, 2);
    assert.match(mismatch.err, /passwords differ/);
    assert.equal((await run(["add", "bad name", "--password-stdin"], "x\n")).code, 2);
    assert.equal((await run(["list"])).out, "anna\nben\n");
    const file = join(data.path, ".htpasswd");
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const verify = await new Deno.Command("htpasswd", { args: ["-vb", file, "ben", "pw-ben"] })
      .output();
    assert.equal(verify.code, 0);
    assert.equal((await run(["add", "anna", "--password-stdin"], "new-pw\n")).code, 0, "change");
    assert.equal((await run(["remove", "ben"])).code, 0);
    assert.equal((await run(["remove", "ben"])).code, 2, "removing a missing user fails");
    assert.equal((await run(["list"])).out, "anna\n");
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const text = await Deno.readTextFile(file);
    assert.ok(!text.includes("new-pw") && !text.includes("pw-anna"), "no plain password on disk");
  },
});
