/**
 * End to end with the real restic binary against a server process: init,
 * backup, snapshots, ls, check --read-data, restore (byte for byte), a
 * second backup, diff, copy, forget --prune, check, keys and unlock, at the
 * root repository and at a nested one.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pseudoRandomBytes, sha256, tempDir, tempFiles } from "../helpers/files.ts";
import { E2E, startServerProcess } from "../helpers/process.ts";
import { restic, resticOk } from "../helpers/restic.ts";
import { describeTree, makeTree } from "../helpers/tree.ts";

function snapshotIds(json: string): string[] {
  return (JSON.parse(json) as { id: string }[]).map((s) => s.id);
}

for (const repoPath of ["/", "/a/b/c/"]) {
  Deno.test({
    name: `restic against the server at ${repoPath}: the full life of a repository`,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn(t) {
      await using data = await tempDir();
      await using work = await tempDir();
      await using server = await startServerProcess([data.path, "--no-auth"]);
      const repo = `rest:${server.url}${repoPath}`;
      const source = join(work.path, "source");
      await Deno.mkdir(source);
      await makeTree(source);

      await t.step("init", async () => {
        assert.match(await resticOk(repo, ["init"]), /created restic repository/);
        assert.ok((await Deno.stat(join(data.path, repoPath, "config"))).isFile);
      });

      let first = "";
      await t.step("backup and snapshots", async () => {
        await resticOk(repo, ["backup", "--quiet", source]);
        const ids = snapshotIds(await resticOk(repo, ["snapshots", "--json"]));
        assert.equal(ids.length, 1);
        first = ids[0];
        const ls = await resticOk(repo, ["ls", first]);
        assert.match(ls, /Ünïcødé ñame 🎉\.txt/);
        assert.match(ls, /big-31MiB\.bin/);
      });

      await t.step("check --read-data", async () => {
        assert.match(await resticOk(repo, ["check", "--read-data"]), /no errors were found/);
      });

      await t.step("restore is identical byte for byte", async () => {
        const target = join(work.path, "restore-1");
        await resticOk(repo, ["restore", first, "--target", target]);
        const restored = await describeTree(join(target, source));
        const original = await describeTree(source);
        assert.equal(restored.size, original.size);
        assert.deepEqual(restored, original);
      });

      let second = "";
      await t.step("a second backup and diff", async () => {
        await Deno.writeTextFile(join(source, "added after first.txt"), "new\n");
        await Deno.writeFile(join(source, "small", "d0", "f0.bin"), pseudoRandomBytes(9000, 4242));
        await resticOk(repo, ["backup", "--quiet", source]);
        const ids = snapshotIds(await resticOk(repo, ["snapshots", "--json"]));
        assert.equal(ids.length, 2);
        second = ids.find((id) => id !== first)!;
        const diff = await resticOk(repo, ["diff", first, second]);
        assert.match(diff, /\+\s+.*added after first\.txt/);
        assert.match(diff, /M\s+.*small\/d0\/f0\.bin/);
      });

      await t.step("copy to another repository on the same server", async () => {
        const other = `rest:${server.url}${repoPath}copy-target/`;
        await resticOk(other, ["init"]);
        await resticOk(other, ["copy", "--from-repo", repo, second], {
          RESTIC_FROM_PASSWORD: "test-password-1",
        });
        assert.equal(snapshotIds(await resticOk(other, ["snapshots", "--json"])).length, 1);
        assert.match(await resticOk(other, ["check", "--read-data"]), /no errors were found/);
      });

      await t.step("forget --keep-last 1 --prune, then check", async () => {
        await resticOk(repo, ["forget", "--keep-last", "1", "--prune"]);
        assert.deepEqual(snapshotIds(await resticOk(repo, ["snapshots", "--json"])), [second]);
        assert.match(await resticOk(repo, ["check", "--read-data"]), /no errors were found/);
        const target = join(work.path, "restore-2");
        await resticOk(repo, ["restore", "latest", "--target", target]);
        assert.deepEqual(await describeTree(join(target, source)), await describeTree(source));
      });

      await t.step("key add, list, remove", async () => {
        const passwordFile = join(work.path, "new-password");
        await Deno.writeTextFile(passwordFile, "second-password\n");
        await resticOk(repo, ["key", "add", "--new-password-file", passwordFile]);
        const keys = JSON.parse(await resticOk(repo, ["key", "list", "--json"])) as {
          current: boolean;
          id: string;
        }[];
        assert.equal(keys.length, 2);
        const added = keys.find((k) => !k.current)!;
        const withNew = await restic(repo, ["snapshots"], { RESTIC_PASSWORD: "second-password" });
        assert.equal(withNew.code, 0, withNew.stderr);
        await resticOk(repo, ["key", "remove", added.id]);
        const afterRemove = await restic(repo, ["snapshots"], {
          RESTIC_PASSWORD: "second-password",
        });
        assert.notEqual(afterRemove.code, 0);
      });

      await t.step("unlock removes a stale lock", async () => {
        const lockId = sha256("stale lock");
        const response = await fetch(`${server.url}${repoPath}locks/${lockId}`, {
          method: "POST",
          body: "stale lock",
        });
        await response.body?.cancel();
        assert.equal(response.status, 200);
        await resticOk(repo, ["unlock", "--remove-all"]);
        const locks = await fetch(`${server.url}${repoPath}locks/`).then((r) => r.json());
        assert.deepEqual(locks, []);
      });

      await t.step("no temp file is left anywhere", async () => {
        assert.deepEqual(await tempFiles(data.path), []);
      });
      assert.equal(await server.stop("SIGTERM"), 0);
    },
  });
}

Deno.test({
  name: "restic reports a wrong password and a missing repository as errors",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    await using server = await startServerProcess([data.path, "--no-auth"]);
    const repo = `rest:${server.url}/r/`;
    const missing = await restic(repo, ["snapshots"]);
    assert.notEqual(missing.code, 0);
    await resticOk(repo, ["init"]);
    const wrong = await restic(repo, ["snapshots"], { RESTIC_PASSWORD: "not the password" });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /wrong password|no key found/);
    const again = await restic(repo, ["init"]);
    assert.notEqual(again.code, 0, "init of an existing repository must fail");
  },
});
