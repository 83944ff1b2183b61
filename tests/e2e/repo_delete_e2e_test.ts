/**
 * DELETE {repo}/ with the real restic client and a real server process:
 * repositories made by `restic backup`, the refusals, and a SIGKILL in the
 * middle of removing a repository with many objects.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { existsSync } from "../../lib/base/fs_util.ts";
import { REMOVAL_MARKER } from "../../lib/base/restic.ts";
import { listFiles, pseudoRandomBytes, sha256, tempDir } from "../helpers/files.ts";
import { addUser, E2E, startServerProcess } from "../helpers/process.ts";
import { restic, resticOk } from "../helpers/restic.ts";

const POLICY = {
  users: {
    admin: { "/": "full" },
    bob: { "/a/": "append-only" },
    carol: { "/a/": "read-only" },
  },
};

function basic(user: string): Record<string, string> {
  return { authorization: `Basic ${btoa(`${user}:${user}-pw`)}` };
}

async function del(url: string, user?: string): Promise<number> {
  const response = await fetch(url, { method: "DELETE", headers: user ? basic(user) : {} });
  await response.body?.cancel();
  return response.status;
}

Deno.test({
  ...E2E,
  name: "DELETE /a/ after real backups: 403s, 409 for a fresh lock, 200 for admin; /a/b/ intact",
  async fn() {
    await using data = await tempDir();
    await using work = await tempDir();
    for (const user of ["admin", "bob", "carol"]) await addUser(data.path, user, `${user}-pw`);
    const policyFile = join(work.path, "policy.json");
    await Deno.writeTextFile(policyFile, JSON.stringify(POLICY));
    const source = join(work.path, "source");
    await Deno.mkdir(source);
    for (let i = 0; i < 12; i++) {
      await Deno.writeFile(join(source, `f${i}`), pseudoRandomBytes(50_000 + i * 7_000, i + 3));
    }
    const serve = (flags: string[]) =>
      startServerProcess([data.path, "--policy", policyFile, ...flags]);
    {
      await using server = await serve(["--allow-repo-delete"]);
      const host = server.url.slice("http://".length);
      const repo = (path: string) => `rest:http://admin:admin-pw@${host}${path}`;
      for (const path of ["/a/", "/a/b/"]) {
        await resticOk(repo(path), ["init"]);
        await resticOk(repo(path), ["backup", "--quiet", source]);
      }
      assert.equal(await del(`${server.url}/a/`, "bob"), 403, "append-only user");
      assert.equal(await del(`${server.url}/a/`, "carol"), 403, "read-only user");
      assert.equal(await del(`${server.url}/nope/`, "admin"), 404, "missing repository");
      // A lock as a running backup holds it (the server reads only its time).
      const lock = new TextEncoder().encode("a lock\n");
      const locked = await fetch(`${server.url}/a/locks/${sha256(lock)}`, {
        method: "POST",
        body: lock,
        headers: basic("admin"),
      });
      assert.equal(locked.status, 200);
      await locked.body?.cancel();
      assert.equal(await del(`${server.url}/a/`, "admin"), 409, "a fresh lock");
      assert.ok(existsSync(join(data.path, "a", "config")), "nothing removed on 409");
      await resticOk(repo("/a/"), ["unlock", "--remove-all"]);

      assert.equal(await del(`${server.url}/a/`, "admin"), 200);
      const left = await listFiles(join(data.path, "a"));
      assert.ok(left.length > 0 && left.every((f) => f.startsWith("b/")), left.join(" "));
      assert.match(
        await resticOk(repo("/a/b/"), ["check", "--read-data"]),
        /no errors were found/,
      );
      const gone = await restic(repo("/a/"), ["snapshots"]);
      assert.notEqual(gone.code, 0);
      assert.match(gone.stderr, /does not exist|unable to open config/i);
      assert.ok(server.stderr.some((l) => /deleted repository \/a\/ \(user "admin"\)/.test(l)));
    }
    for (const flags of [[], ["--allow-repo-delete", "--append-only"]]) {
      await using server = await startServerProcess([data.path, ...flags]);
      assert.equal(await del(`${server.url}/a/b/`, "admin"), 403, flags.join(" ") || "no flag");
    }
    assert.ok(existsSync(join(data.path, "a", "b", "config")));
  },
});

/** Plants `count` small objects in a repository's data folder, straight on disk. */
async function plant(repoDir: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - i) }, (_, j) => {
        const name = sha256(`object ${i + j}`);
        return Deno.writeTextFile(join(repoDir, "data", name.slice(0, 2), name), `object ${i + j}`);
      }),
    );
  }
}

Deno.test({
  ...E2E,
  name: "SIGKILL while a repository is being deleted: no repository after restart, a clean init",
  async fn() {
    await using data = await tempDir();
    let cutMidway = false;
    for (let attempt = 0; attempt < 4 && !cutMidway; attempt++) {
      const count = 20_000 * (attempt + 1);
      const repoDir = join(data.path, "big");
      {
        await using server = await startServerProcess([
          data.path,
          "--no-auth",
          "--allow-repo-delete",
        ]);
        const repo = `rest:${server.url}/big/`;
        await resticOk(repo, ["init"]);
        await plant(repoDir, count);
        const deleting = fetch(`${server.url}/big/`, { method: "DELETE" }).catch(() => null);
        // Kill as soon as the config is gone and objects are still there.
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline && existsSync(join(repoDir, "config"))) {
          await new Promise((r) => setTimeout(r, 1));
        }
        await server.stop("SIGKILL");
        await deleting;
        cutMidway = existsSync(join(repoDir, REMOVAL_MARKER)) &&
          existsSync(join(repoDir, "data"));
      }
      assert.ok(!existsSync(join(repoDir, "config")), "the config went first");
      await using again = await startServerProcess([data.path, "--no-auth"]);
      for (const type of ["keys", "data", "snapshots", "locks", "index"]) {
        const list = await fetch(`${again.url}/big/${type}/`);
        await list.body?.cancel();
        assert.equal(list.status, 404, `no listing of ${type} in a half-deleted repository`);
      }
      const repo = `rest:${again.url}/big/`;
      assert.notEqual((await restic(repo, ["snapshots"])).code, 0, "restic sees no repository");
      const created = await fetch(`${again.url}/big/?create=true`, { method: "POST" });
      await created.body?.cancel();
      assert.equal(created.status, 200);
      await resticOk(repo, ["init"]);
      const files = await listFiles(repoDir);
      assert.ok(files.every((f) => !f.startsWith("data/")), "no old object survives");
      assert.match(await resticOk(repo, ["check"]), /no errors were found/);
      await Deno.remove(repoDir, { recursive: true });
    }
    assert.ok(cutMidway, "one of the kills landed in the middle of the removal");
  },
});
