/**
 * DELETE {repo}/ in-process, on every storage medium: off by default, only
 * for full rights, 404 for nothing there, 409 while a fresh lock exists, and
 * a removal that takes the repository's own objects and no others.
 */
import assert from "node:assert/strict";
import { type Authenticator, refused } from "../../lib/auth/types.ts";
import { appOn, call, MEDIA, mediumTest, testApp } from "../helpers/app.ts";
import { sha256, tempDir } from "../helpers/files.ts";
import { MemoryStorage } from "../helpers/memory_storage.ts";
import { Inventory, withInventory } from "../../lib/storage/inventory.ts";
import { Metrics } from "../../lib/status/metrics.ts";
import { parsePolicy } from "../../lib/access/policy.ts";
import { withQuota } from "../../lib/storage/quota.ts";

const BLOB = new TextEncoder().encode("a blob\n");
const ID = sha256(BLOB);

/** A repository at `repo` with a config, a key, a data object and a snapshot. */
async function fill(app: Parameters<typeof call>[0], repo: string): Promise<void> {
  assert.equal((await call(app, "POST", `${repo}?create=true`)).status, 200);
  assert.equal((await call(app, "POST", `${repo}config`, { body: "config" })).status, 200);
  for (const type of ["data", "keys", "snapshots"]) {
    assert.equal((await call(app, "POST", `${repo}${type}/${ID}`, { body: BLOB })).status, 200);
  }
}

for (const medium of MEDIA) {
  const test = mediumTest(medium);
  test(`DELETE {repo}/ answers 403 unless --allow-repo-delete, also without auth (${medium})`, async () => {
    await using t = await testApp({ medium });
    await fill(t.app, "/a/");
    const before = await t.files();
    assert.equal((await call(t.app, "DELETE", "/a/")).status, 403);
    assert.deepEqual(await t.files(), before);
  });

  test(`DELETE {repo}/ removes the repository and leaves nested ones (${medium})`, async () => {
    await using t = await testApp({ medium, allowRepoDelete: true });
    await fill(t.app, "/a/");
    await fill(t.app, "/a/b/");
    await fill(t.app, "/c/");
    const response = await call(t.app, "DELETE", "/a/");
    assert.deepEqual([response.status, response.text], [200, ""]);
    const left = await t.files();
    assert.ok(left.every((f) => !f.startsWith("a/") || f.startsWith("a/b/")), left.join(" "));
    assert.equal(left.filter((f) => f.startsWith("a/b/")).length, 4, "a/b/ keeps its four");
    assert.equal(left.filter((f) => f.startsWith("c/")).length, 4, "c/ keeps its four");
    assert.equal((await call(t.app, "GET", "/a/config")).status, 404);
    assert.equal((await call(t.app, "GET", "/a/keys/")).status, 404, "no repository to list");
    assert.equal((await call(t.app, "GET", `/a/b/data/${ID}`)).text, "a blob\n");
    assert.equal((await call(t.app, "DELETE", "/a/")).status, 404, "gone");
    assert.equal((await call(t.app, "DELETE", "/nothing/here/")).status, 404);
    assert.ok(t.log.lines.some((l) => /deleted repository \/a\/ \(user -\)/.test(l)), "logged");
    // A new repository at the same path starts empty.
    assert.equal((await call(t.app, "POST", "/a/?create=true")).status, 200);
    assert.equal((await call(t.app, "GET", "/a/data/")).text, "[]");
  });

  test(`DELETE {repo}/ of the root repository keeps every nested one (${medium})`, async () => {
    await using t = await testApp({ medium, allowRepoDelete: true });
    await fill(t.app, "/");
    await fill(t.app, "/x/");
    assert.equal((await call(t.app, "DELETE", "/")).status, 200);
    assert.deepEqual((await t.files()).filter((f) => !f.startsWith("x/")), []);
    assert.equal((await t.files()).length, 4);
  });

  test(`DELETE {repo}/ answers 409 while a lock is younger than 30 minutes (${medium})`, async () => {
    let clock = Date.now();
    await using t = await testApp({ medium, allowRepoDelete: true, now: () => clock });
    await fill(t.app, "/a/");
    assert.equal((await call(t.app, "POST", `/a/locks/${ID}`, { body: BLOB })).status, 200);
    const before = await t.files();
    assert.equal((await call(t.app, "DELETE", "/a/")).status, 409);
    assert.deepEqual(await t.files(), before, "nothing removed");
    clock += 31 * 60 * 1000; // 31 minutes later, the lock is stale
    assert.equal((await call(t.app, "DELETE", "/a/")).status, 200);
  });

  test(`DELETE {repo}/ answers 403 in append-only mode and for read-only or denied users (${medium})`, async () => {
    const policy = parsePolicy(
      JSON.stringify({
        users: {
          admin: { "/": "full" },
          bob: { "/a/": "append-only" },
          carol: { "/a/": "read-only" },
        },
      }),
      "policy.json",
    );
    await using t = await testApp({ medium, allowRepoDelete: true, appendOnly: true });
    await fill(t.app, "/a/");
    assert.equal((await call(t.app, "DELETE", "/a/")).status, 403, "--append-only");
    const users = await testApp({ medium, allowRepoDelete: true, policy, auth: headerAuth() });
    await using _ = users;
    const as = (user: string) => ({ headers: { "x-user": user } });
    await fill(
      (request, info) => users.app(withUser(request, "admin"), info),
      "/a/",
    );
    for (const user of ["bob", "carol", "dave"]) {
      assert.equal((await call(users.app, "DELETE", "/a/", as(user))).status, 403, user);
    }
    assert.equal((await call(users.app, "DELETE", "/a/", as("admin"))).status, 200);
    assert.ok(users.log.lines.some((l) => /deleted repository \/a\/ \(user "admin"\)/.test(l)));
  });
}

/** Takes the user from `X-User` (the proxy-header mode, without a proxy). */
function headerAuth(): Authenticator {
  return {
    description: "users from X-User",
    authenticate: (request: Request) => {
      const user = request.headers.get("x-user");
      return Promise.resolve(user ? { kind: "ok", user } : refused("no user"));
    },
  };
}

function withUser(request: Request, user: string): Request {
  const headers = new Headers(request.headers);
  headers.set("x-user", user);
  return new Request(request, { headers });
}

Deno.test("DELETE {repo}/: the inventory, the metrics and the quota follow", async () => {
  const inventory = new Inventory();
  const budget = 40;
  const storage = withQuota(
    withInventory(new MemoryStorage(), inventory),
    inventory,
    () => [{ scope: [], maxBytes: budget }],
  );
  const metrics = new Metrics(inventory, budget);
  const app = appOn(storage, { metrics, allowRepoDelete: true });
  await fill(app, "/a/"); // 6 + 3 × 7 = 27 bytes
  assert.equal(inventory.bytesUnder([]), 27);
  const big = new Uint8Array(20).fill(1);
  const post = () => call(app, "POST", `/x/data/${sha256(big)}`, { body: big });
  assert.equal((await post()).status, 507, "does not fit beside /a/");
  assert.match(metrics.render(), /restic_rest_repo_stored_bytes\{repo="a"\} 27/);
  assert.equal((await call(app, "DELETE", "/a/")).status, 200);
  assert.equal(inventory.bytesUnder([]), 0);
  assert.doesNotMatch(metrics.render(), /restic_rest_repo_\w+\{repo="a"/, "no gauge of /a/");
  assert.equal((await post()).status, 200, "fits once /a/ is gone");
});

Deno.test("a removal under way is the only one: a second removal and a create wait for it", async () => {
  const { FsStorage } = await import("../../lib/storage/fs/storage.ts");
  const { removeRepository } = await import("../../lib/storage/fs/remove.ts");
  const { REMOVAL_MARKER } = await import("../../lib/base/restic.ts");
  await using dir = await tempDir();
  const storage = new FsStorage(dir.path);
  await storage.createRepo(["r"]);
  const repoDir = `${dir.path}/r`;
  // Enough objects that the removal is still running when the create comes.
  for (let i = 0; i < 4000; i++) {
    const name = sha256(`old ${i}`);
    await Deno.writeTextFile(`${repoDir}/data/${name.slice(0, 2)}/${name}`, "old");
  }
  await Deno.writeTextFile(`${repoDir}/${REMOVAL_MARKER}`, "");
  const removing = removeRepository(repoDir, { fileMode: 0o600, isRoot: false });
  // The start-up walk and a DELETE finding the same marker share one removal.
  assert.equal(removeRepository(repoDir, { fileMode: 0o600, isRoot: false }), removing);
  await storage.createRepo(["r"]);
  assert.equal(await removing, true);
  const left: string[] = [];
  for await (const sub of Deno.readDir(`${repoDir}/data`)) {
    for await (const entry of Deno.readDir(`${repoDir}/data/${sub.name}`)) left.push(entry.name);
  }
  assert.deepEqual(left, [], "no old object survives");
  assert.equal((await Array.fromAsync(Deno.readDir(`${repoDir}/data`))).length, 256);
  assert.ok(!(await Array.fromAsync(Deno.readDir(repoDir))).some((e) => e.name === REMOVAL_MARKER));
});
