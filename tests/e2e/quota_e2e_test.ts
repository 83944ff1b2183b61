/**
 * Size limits on the running server: a real restic backup into a budget too
 * small for it, and the policy's per-folder limits over HTTP.
 */
import assert from "node:assert/strict";
import { pseudoRandomBytes, sha256, tempDir, tempFiles } from "../helpers/files.ts";
import { E2E, startServerProcess } from "../helpers/process.ts";
import { restic, resticOk } from "../helpers/restic.ts";

const blob = (n: number, seed: number): { body: Uint8Array<ArrayBuffer>; id: string } => {
  const body = pseudoRandomBytes(n, seed);
  return { body, id: sha256(body) };
};

Deno.test({
  name:
    "quota: a real restic backup into a too-small budget fails cleanly; what was stored stays clean",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    await using work = await tempDir();
    const small = `${work.path}/small`;
    const big = `${work.path}/big`;
    await Deno.mkdir(small);
    await Deno.mkdir(big);
    await Deno.writeFile(`${small}/a`, pseudoRandomBytes(200_000, 1));
    await Deno.writeFile(`${big}/b`, pseudoRandomBytes(12 << 20, 2));
    await using server = await startServerProcess([data.path, "--no-auth", "--max-size", "4M"]);
    const repo = `rest:${server.url}/q/`;
    await resticOk(repo, ["init"]);
    await resticOk(repo, ["backup", "--quiet", small]);
    const result = await restic(repo, ["backup", "--quiet", big]);
    assert.notEqual(result.code, 0, "the second backup must fail");
    await resticOk(repo, ["unlock"]);
    const check = await resticOk(repo, ["check", "--read-data"]);
    assert.match(check, /no errors were found/);
    const snapshots = JSON.parse(await resticOk(repo, ["snapshots", "--json"]));
    assert.equal(snapshots.length, 1);
    assert.deepEqual(await tempFiles(data.path), []);
  },
});

Deno.test({
  name: "quota: a policy file's maxSize limits each matched folder on a running server",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    await using work = await tempDir();
    await Deno.writeTextFile(
      `${data.path}/.htpasswd`,
      "anna:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\nben:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n",
    );
    const policy = `${work.path}/policy.json`;
    // Each user's folder holds one repository's folders (1048 KiB on a disk) and 100 KiB more.
    await Deno.writeTextFile(
      policy,
      JSON.stringify({
        users: { "*": { "/{user}/": "full" } },
        repositories: { "/*/": { maxSize: "1148K" } },
      }),
    );
    await using server = await startServerProcess([data.path, "--policy", policy]);
    const post = async (
      user: string,
      path: string,
      body?: Uint8Array<ArrayBuffer>,
    ): Promise<number> => {
      const response = await fetch(`${server.url}${path}`, {
        method: "POST",
        body,
        headers: { authorization: `Basic ${btoa(`${user}:secret`)}` },
      });
      await response.body?.cancel();
      return response.status;
    };
    const first = blob(80_000, 11);
    const second = blob(30_000, 12);
    assert.equal(await post("anna", "/anna/laptop/?create=true"), 200);
    assert.equal(await post("anna", `/anna/laptop/data/${first.id}`, first.body), 200);
    assert.equal(
      await post("anna", `/anna/laptop/data/${second.id}`, second.body),
      507,
      "/anna/ is full",
    );
    assert.equal(
      await post("anna", "/anna/phone/?create=true"),
      507,
      "no room in /anna/ for another repository's folders",
    );
    assert.equal(
      await post("anna", `/anna/phone/data/${second.id}`, second.body),
      507,
      "nor by storing into it uncreated",
    );
    assert.equal(await post("ben", "/ben/?create=true"), 200);
    assert.equal(
      await post("ben", `/ben/data/${second.id}`, second.body),
      200,
      "ben has his own 100K",
    );
    assert.deepEqual(await tempFiles(data.path), []);
  },
});
