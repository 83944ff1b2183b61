/**
 * Hostile clients against the real server process, with the real restic
 * client: lock ownership under a policy, a spoofed proxy header, a full
 * budget that `forget --prune` can still free.
 */
import assert from "node:assert/strict";
import { pseudoRandomBytes, sha256, tempDir } from "../helpers/files.ts";
import { addUser, E2E, runMain, startServerProcess } from "../helpers/process.ts";
import { resticOk } from "../helpers/restic.ts";
import { FsStorage } from "../../lib/storage/fs/storage.ts";

async function status(url: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(url, init);
  await response.body?.cancel();
  return response.status;
}

Deno.test({
  ...E2E,
  name:
    "restic: read-only and append-only users work as before; a read-only unlock --remove-all leaves admin's lock",
  async fn() {
    await using data = await tempDir();
    await using work = await tempDir();
    for (const user of ["admin", "alice", "bob"]) await addUser(data.path, user, `${user}-pw`);
    const policy = `${work.path}/policy.json`;
    await Deno.writeTextFile(
      policy,
      JSON.stringify({
        users: {
          admin: { "/shared/": "full" },
          alice: { "/shared/": "read-only" },
          bob: { "/shared/": "append-only" },
        },
      }),
    );
    await using server = await startServerProcess([data.path, "--policy", policy, "--debug"]);
    const repo = (user: string) => server.url.replace("://", `://${user}:${user}-pw@`);
    const source = `${work.path}/source`;
    await Deno.mkdir(source);
    await Deno.writeFile(`${source}/a`, pseudoRandomBytes(300_000, 1));
    await resticOk(`rest:${repo("admin")}/shared/`, ["init"]);
    await resticOk(`rest:${repo("admin")}/shared/`, ["backup", "--quiet", source]);
    await Deno.writeFile(`${source}/b`, pseudoRandomBytes(200_000, 2));
    await resticOk(`rest:${repo("bob")}/shared/`, ["backup", "--quiet", source]);
    await resticOk(`rest:${repo("alice")}/shared/`, [
      "restore",
      "latest",
      "--target",
      `${work.path}/r`,
    ]);
    await resticOk(`rest:${repo("alice")}/shared/`, ["check", "--read-data"]);
    const restored = await Deno.readFile(`${work.path}/r${source}/b`);
    assert.equal(sha256(restored), sha256(pseudoRandomBytes(200_000, 2)));

    // admin holds a lock (as a long prune would); alice tries to clear every lock.
    const lock = new TextEncoder().encode(JSON.stringify({
      time: new Date().toISOString(),
      exclusive: true,
      hostname: "admin-host",
      username: "admin",
      pid: 4242,
    }));
    const lockUrl = `${server.url}/shared/locks/${sha256(lock)}`;
    const asAdmin = { authorization: `Basic ${btoa("admin:admin-pw")}` };
    assert.equal(await status(lockUrl, { method: "POST", body: lock, headers: asAdmin }), 200);
    // restic retries a refused delete for about a minute before it gives up: 8 s show enough.
    const unlock = await new Deno.Command("restic", {
      args: ["-r", `rest:${repo("alice")}/shared/`, "--no-cache", "unlock", "--remove-all"],
      env: { RESTIC_PASSWORD: "test-password-1" },
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(8000),
    }).output();
    assert.notEqual(unlock.code, 0, "restic did not manage to remove every lock");
    const refused = server.stderr.filter((l) =>
      l.includes(`DELETE /shared/locks/${sha256(lock)} 403`)
    );
    assert.ok(refused.length >= 2, `restic asked again and was refused again: ${refused.length}`);
    assert.equal(await status(lockUrl, { headers: asAdmin }), 200, "admin's lock is still there");
    assert.ok(
      server.stderr.every((line) => !line.startsWith("error:")),
      server.stderr.join("\n"),
    );
    await resticOk(`rest:${repo("admin")}/shared/`, ["unlock", "--remove-all"]);
    assert.equal(await status(lockUrl, { headers: asAdmin }), 404, "full rights remove any");
  },
});

Deno.test({
  ...E2E,
  name: "--proxy-auth-username: a client that is not the trusted proxy cannot name a user",
  async fn() {
    await using data = await tempDir();
    await Deno.mkdir(`${data.path}/bob/keys`, { recursive: true });
    await Deno.writeTextFile(`${data.path}/bob/config`, "bob's config");
    await using server = await startServerProcess([
      data.path,
      "--proxy-auth-username",
      "X-Forwarded-User",
      "--trusted-proxy",
      "10.0.0.1",
      "--private-repos",
      "--prometheus",
    ]);
    for (const [path, user] of [["/bob/config", "bob"], ["/metrics", "metrics"]]) {
      assert.equal(
        await status(`${server.url}${path}`, { headers: { "x-forwarded-user": user } }),
        401,
        `${path} as ${user} from 127.0.0.1`,
      );
    }
    const refused = await runMain([
      "serve",
      data.path,
      "--proxy-auth-username",
      "X-Forwarded-User",
      "--listen",
      "127.0.0.1:0",
    ]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /add --trusted-proxy ADDR/);
    assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);
  },
});

Deno.test({
  ...E2E,
  name:
    "a full budget: nothing more is stored, yet restic forget --prune frees it and check is clean",
  async fn() {
    await using data = await tempDir();
    await using work = await tempDir();
    const maxSize = 4 << 20;
    await using server = await startServerProcess([
      data.path,
      "--no-auth",
      "--prometheus",
      "--max-size",
      String(maxSize),
    ]);
    const repo = `rest:${server.url}/r/`;
    const source = `${work.path}/source`;
    await Deno.mkdir(source);
    await resticOk(repo, ["init"]);
    for (let i = 0; i < 3; i++) {
      for await (const old of Deno.readDir(source)) await Deno.remove(`${source}/${old.name}`);
      await Deno.writeFile(`${source}/f${i}`, pseudoRandomBytes(600_000, 10 + i));
      await resticOk(repo, ["backup", "--quiet", source]);
    }
    const stored = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(/^restic_rest_stored_bytes (\d+)$/m.exec(text)![1]);
    };
    // Fill what is left but 10 bytes, as a backup cut off by the budget would.
    const footprint = new FsStorage(data.path).repoFootprintBytes;
    const filler = pseudoRandomBytes(maxSize - footprint - (await stored()) - 10, 99);
    assert.equal(
      await status(`${server.url}/r/data/${sha256(filler)}`, { method: "POST", body: filler }),
      200,
    );
    const more = pseudoRandomBytes(1000, 98);
    assert.equal(
      await status(`${server.url}/r/data/${sha256(more)}`, { method: "POST", body: more }),
      507,
      "the budget is spent",
    );
    const full = await stored();
    await resticOk(repo, ["forget", "--keep-last", "1", "--prune"]);
    assert.ok((await stored()) < full / 2, `${await stored()} bytes left of ${full}`);
    assert.match(await resticOk(repo, ["check", "--read-data"]), /no errors were found/);
    const snapshots = JSON.parse(await resticOk(repo, ["snapshots", "--json"]));
    assert.equal(snapshots.length, 1);
  },
});
