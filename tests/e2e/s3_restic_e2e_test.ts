/**
 * restic-rest on a real object store (Swift's S3 API on loopback) with the
 * real restic client: the life of a repository at the root and nested,
 * access control, restic's own `s3:` backend on the very same keys both
 * ways, and two servers on one bucket.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pseudoRandomBytes, tempDir } from "../helpers/files.ts";
import { addUser, serveOnStore, storeTest } from "../helpers/process.ts";
import { restic, resticOk } from "../helpers/restic.ts";
import { freshBucket, sharedStore, storedKeys, storeEnv } from "../helpers/object_store.ts";
import { describeTree, makeTree } from "../helpers/tree.ts";

/** restic-rest serving `url` (an `s3:` location) with the store's credentials in its environment. */
async function restoreMatches(repo: string, source: string, target: string, env = {}) {
  await resticOk(repo, ["restore", "latest", "--target", target], env);
  assert.deepEqual(await describeTree(join(target, source)), await describeTree(source));
}

storeTest(
  "restic on the object store at / and at /a/b/: init, backup, check, restore, prune, keys",
  async () => {
    await using work = await tempDir();
    const source = join(work.path, "source");
    await makeTree(source);
    const store = await sharedStore();
    const { url, client } = await freshBucket(store, "backups/");
    await using server = await serveOnStore(store, url, ["--no-auth"]);
    for (const path of ["/", "/a/b/"]) {
      const repo = `rest:${server.url}${path}`;
      await resticOk(repo, ["init"]);
      await resticOk(repo, ["backup", "--quiet", source]);
      assert.match(await resticOk(repo, ["check", "--read-data"]), /no errors were found/);
      await restoreMatches(repo, source, join(work.path, `restore${path.replaceAll("/", "-")}`));
      await Deno.writeFile(join(source, "changed.bin"), pseudoRandomBytes(300_000, path.length));
      await resticOk(repo, ["backup", "--quiet", source]);
      await resticOk(repo, ["forget", "--keep-last", "1", "--prune"]);
      assert.match(await resticOk(repo, ["check", "--read-data"]), /no errors were found/);
      const passwordFile = join(work.path, "second-password");
      await Deno.writeTextFile(passwordFile, "second-password\n");
      await resticOk(repo, ["key", "add", "--new-password-file", passwordFile]);
      const keys = await resticOk(repo, ["key", "list", "--json"]);
      const ids = (JSON.parse(keys) as { id: string; current: boolean }[]).filter((k) =>
        !k.current
      );
      assert.equal(ids.length, 1, "a second key");
      await resticOk(repo, ["key", "remove", ids[0].id]);
      await Deno.remove(join(source, "changed.bin"));
    }
    const keys = await storedKeys(client, "backups/");
    assert.ok(keys.includes("config") && keys.includes("a/b/config"), "restic's own layout");
    assert.ok(
      keys.some((k) => /^data\/([0-9a-f]{2})\/\1[0-9a-f]{62}$/.test(k)),
      "data fanned out by two digits",
    );
    assert.ok(keys.some((k) => /^a\/b\/snapshots\/[0-9a-f]{64}$/.test(k)));
    assert.ok(!server.stderr.some((l) => l.includes(store.secretKey)), "no secret in the log");
  },
);

storeTest(
  "restic on the object store: append-only refuses prune, private repositories and a policy user",
  async () => {
    await using work = await tempDir();
    await using users = await tempDir();
    for (const user of ["anna", "admin"]) await addUser(users.path, user, `${user}-pw`);
    const htpasswd = join(users.path, ".htpasswd");
    const source = join(work.path, "source");
    await Deno.mkdir(source);
    await Deno.writeFile(join(source, "a.bin"), pseudoRandomBytes(2 << 20, 5));
    const store = await sharedStore();
    const { url } = await freshBucket(store, "office/");
    const policy = join(work.path, "policy.json");
    await Deno.writeTextFile(
      policy,
      JSON.stringify({ users: { admin: { "/": "full" }, "*": { "/{user}/": "append-only" } } }),
    );
    await using server = await serveOnStore(store, url, [
      "--htpasswd-file",
      htpasswd,
      "--policy",
      policy,
    ]);
    const host = server.url.slice("http://".length);
    const anna = `rest:http://anna:anna-pw@${host}/anna/`;
    await resticOk(anna, ["init"]);
    await resticOk(anna, ["backup", "--quiet", source]);
    await resticOk(anna, ["backup", "--quiet", source]);
    const pruned = await restic(anna, ["forget", "--keep-last", "1", "--prune"]);
    assert.notEqual(pruned.code, 0, "append-only: forget --prune is refused");
    assert.equal(
      (JSON.parse(await resticOk(anna, ["snapshots", "--json"])) as unknown[]).length,
      2,
    );
    const other = await restic(`rest:http://anna:anna-pw@${host}/bob/`, ["init"]);
    assert.notEqual(other.code, 0, "anna has no rule for /bob/");
    const admin = `rest:http://admin:admin-pw@${host}/anna/`;
    await resticOk(admin, ["forget", "--keep-last", "1", "--prune"]);
    assert.match(await resticOk(admin, ["check", "--read-data"]), /no errors were found/);
    await using privateServer = await serveOnStore(store, url, [
      "--htpasswd-file",
      htpasswd,
      "--private-repos",
    ]);
    const privateHost = privateServer.url.slice("http://".length);
    assert.notEqual(
      (await restic(`rest:http://anna:anna-pw@${privateHost}/admin/`, ["init"])).code,
      0,
    );
    await resticOk(`rest:http://anna:anna-pw@${privateHost}/anna/`, ["snapshots"]);
  },
);

storeTest(
  "restic's own s3: backend reads what restic-rest wrote, and restic-rest serves what restic wrote",
  async () => {
    await using work = await tempDir();
    const source = join(work.path, "source");
    await Deno.mkdir(join(source, "sub"), { recursive: true });
    for (let i = 0; i < 30; i++) {
      await Deno.writeFile(
        join(source, "sub", `f${i}`),
        pseudoRandomBytes(5_000 + i * 40_000, i + 3),
      );
    }
    const store = await sharedStore(true); // restic 0.14 speaks S3 to Swift only over https
    const { url } = await freshBucket(store, "shared/");
    const direct = (name: string) => `${url}/${name}`;
    const s3Env = storeEnv(store);
    const cacert = ["--cacert", store.caFile!];
    await using server = await serveOnStore(store, url, ["--no-auth"]);

    await resticOk(`rest:${server.url}/via-rest/`, ["init"]);
    await resticOk(`rest:${server.url}/via-rest/`, ["backup", "--quiet", source]);
    assert.match(
      await resticOk(direct("via-rest"), [...cacert, "check", "--read-data"], s3Env),
      /no errors were found/,
    );
    await resticOk(direct("via-rest"), [
      ...cacert,
      "restore",
      "latest",
      "--target",
      join(work.path, "r1"),
    ], s3Env);
    assert.deepEqual(await describeTree(join(work.path, "r1", source)), await describeTree(source));

    await resticOk(direct("direct"), [...cacert, "init"], s3Env);
    await resticOk(direct("direct"), [...cacert, "backup", "--quiet", source], s3Env);
    const through = `rest:${server.url}/direct/`;
    assert.match(await resticOk(through, ["check", "--read-data"]), /no errors were found/);
    await restoreMatches(through, source, join(work.path, "r2"));
  },
);

storeTest(
  "two restic-rest processes on one bucket: backups through both at once, then check --read-data",
  async () => {
    await using work = await tempDir();
    const sources = [join(work.path, "one"), join(work.path, "two")];
    for (const [i, dir] of sources.entries()) {
      await Deno.mkdir(dir);
      for (let j = 0; j < 8; j++) {
        await Deno.writeFile(
          join(dir, `f${j}`),
          pseudoRandomBytes(1_500_000 + j * 1000, i * 100 + j + 1),
        );
      }
    }
    const store = await sharedStore();
    const { url } = await freshBucket(store, "");
    await using first = await serveOnStore(store, url, ["--no-auth"]);
    await using second = await serveOnStore(store, url, ["--no-auth"]);
    await resticOk(`rest:${first.url}/shared/`, ["init"]);
    await Promise.all([
      resticOk(`rest:${first.url}/shared/`, ["backup", "--quiet", sources[0]]),
      resticOk(`rest:${second.url}/shared/`, ["backup", "--quiet", sources[1]]),
    ]);
    const snapshots = JSON.parse(
      await resticOk(`rest:${second.url}/shared/`, ["snapshots", "--json"]),
    );
    assert.equal(snapshots.length, 2);
    assert.match(
      await resticOk(`rest:${second.url}/shared/`, ["check", "--read-data"]),
      /no errors were found/,
    );
    await resticOk(`rest:${first.url}/shared/`, ["prune"]);
    assert.match(
      await resticOk(`rest:${second.url}/shared/`, ["check", "--read-data"]),
      /no errors were found/,
    );
  },
);
