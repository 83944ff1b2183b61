/**
 * Hostile paths against private repositories and policies: another user's
 * repository through every trick must be refused, and nothing on disk may
 * change, inside or next to the data directory.
 */
import assert from "node:assert/strict";
import type { createApp } from "../../lib/http/app.ts";
import { HtpasswdAuth } from "../../lib/auth/htpasswd_auth.ts";
import { parsePolicy } from "../../lib/access/policy.ts";
import { FsStorage } from "../../lib/storage/fs/storage.ts";
import { appOn, memoryLogger } from "../helpers/app.ts";
import { listFiles, sha256, tempDir } from "../helpers/files.ts";

const SECRET = "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="; // "secret"
const BOB_BLOB = new TextEncoder().encode("bob's private data");
const BOB_ID = sha256(BOB_BLOB);
const CANARY = "canary: outside the data directory";

const HOSTILE_PATHS = [
  "/bob/config",
  "/bob/",
  "/bob/data/",
  `/bob/data/${BOB_ID}`,
  "/bob/keys/",
  "/bob/x/y/config",
  "/alice/../bob/config",
  "/alice/%2e%2e/bob/config",
  "/alice/%2E%2E/bob/data/",
  "/alice/..%2fbob/config",
  "/alice/%2e%2e%2fbob/config",
  "/alice%2f..%2fbob/config",
  "/alice%2fbob/config",
  "/alice/%252e%252e/bob/config",
  "//bob/config",
  "/alice//bob/config",
  "/alice/./../bob/config",
  "/Bob/config",
  "/BOB/data/",
  "/ALICE/config",
  "/Alice/",
  "/b%6fb/config",
  "/bоb/config", // Cyrillic o
  "/config",
  "/",
  "/data/",
  "/keys/",
  "/alice/../../config",
  "/alice/../../../etc/passwd",
  "/.htpasswd",
  "/alice/.htpasswd",
  "/alice/.ssh/config",
  "/alice/../.htpasswd",
  "/../canary.txt",
  "/alice/..%5cbob/config",
  "/alice\\..\\bob/config",
  "/alice/%00/config",
  "/alice%00/config",
  "/bob%00/config",
];

interface Setup extends AsyncDisposable {
  app: ReturnType<typeof createApp>;
  root: string;
  data: string;
}

async function setUp(options: { privateRepos: boolean; policy: string | null }): Promise<Setup> {
  const root = await tempDir();
  const data = `${root.path}/data`;
  await Deno.mkdir(`${data}/bob/data/${BOB_ID.slice(0, 2)}`, { recursive: true });
  await Deno.mkdir(`${data}/alice/keys`, { recursive: true });
  await Deno.writeFile(`${data}/bob/data/${BOB_ID.slice(0, 2)}/${BOB_ID}`, BOB_BLOB);
  await Deno.writeTextFile(`${data}/bob/config`, "bob's config");
  await Deno.writeTextFile(`${data}/.htpasswd`, `alice:${SECRET}\nbob:${SECRET}\n`);
  await Deno.writeTextFile(`${root.path}/canary.txt`, CANARY);
  const log = memoryLogger();
  const auth = await HtpasswdAuth.load({ file: `${data}/.htpasswd`, log });
  const app = appOn(new FsStorage(data), {
    log,
    auth,
    privateRepos: options.privateRepos,
    policy: options.policy ? parsePolicy(options.policy, "policy.json") : null,
  });
  return {
    app,
    root: root.path,
    data,
    [Symbol.asyncDispose]: () => (auth.close(), root[Symbol.asyncDispose]()),
  };
}

async function snapshotTree(root: string): Promise<string> {
  const files = await listFiles(root);
  const parts = await Promise.all(files.map(async (f) => {
    const info = await Deno.stat(`${root}/${f}`);
    return `${f} ${info.size} ${info.mtime?.getTime()}`;
  }));
  const dirs: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) {
        dirs.push(`${dir}/${e.name}`.slice(root.length));
        await walk(`${dir}/${e.name}`);
      }
    }
  };
  await walk(root);
  return [...parts, ...dirs.sort()].join("\n");
}

const AS_ALICE = { authorization: `Basic ${btoa("alice:secret")}` };

async function sendAll(setup: Setup, headers: Record<string, string>): Promise<string[]> {
  const failures: string[] = [];
  for (const path of HOSTILE_PATHS) {
    for (const method of ["GET", "HEAD", "POST", "DELETE"]) {
      const url = `http://restic-rest.test${path}${
        method === "POST" && path.endsWith("/") ? "?create=true" : ""
      }`;
      const response = await setup.app(
        new Request(url, { method, headers, body: method === "POST" ? BOB_BLOB : undefined }),
      );
      const text = await response.text();
      if (![401, 403, 404].includes(response.status)) {
        failures.push(`${method} ${path}: ${response.status}`);
      }
      if (text.includes("bob's") || text.includes("canary")) {
        failures.push(`${method} ${path}: leaked`);
      }
    }
  }
  return failures;
}

Deno.test("private repos: alice cannot reach bob's repository or anything outside her own", async () => {
  await using setup = await setUp({ privateRepos: true, policy: null });
  const before = await snapshotTree(setup.root);
  assert.deepEqual(await sendAll(setup, AS_ALICE), []);
  assert.equal(await snapshotTree(setup.root), before, "nothing on disk changed");
  assert.equal(await Deno.readTextFile(`${setup.root}/canary.txt`), CANARY);
  // Her own repository works, so the refusals above are not a broken setup.
  const own = await setup.app(
    new Request("http://x/alice/?create=true", { method: "POST", headers: AS_ALICE }),
  );
  assert.equal(own.status, 200);
  const encoded = await setup.app(new Request("http://x/%61lice/keys/", { headers: AS_ALICE }));
  assert.equal(encoded.status, 200, "a percent-encoded own name is still her own");
  await encoded.body?.cancel();
});

Deno.test("policy: alice (append-only on /{user}/) cannot reach bob's repository", async () => {
  const policy = JSON.stringify({ users: { "*": { "/{user}/": "append-only" } } });
  await using setup = await setUp({ privateRepos: false, policy });
  const before = await snapshotTree(setup.root);
  assert.deepEqual(await sendAll(setup, AS_ALICE), []);
  assert.equal(await snapshotTree(setup.root), before, "nothing on disk changed");
  const own = await setup.app(
    new Request("http://x/alice/?create=true", { method: "POST", headers: AS_ALICE }),
  );
  assert.equal(own.status, 200);
  const del = await setup.app(
    new Request(`http://x/alice/keys/${BOB_ID}`, { method: "DELETE", headers: AS_ALICE }),
  );
  assert.equal(del.status, 403, "append-only from the policy");
});

Deno.test("without credentials every path, existing or not, answers 401 with the realm", async () => {
  await using setup = await setUp({ privateRepos: false, policy: null });
  const before = await snapshotTree(setup.root);
  for (const path of [...HOSTILE_PATHS, "/nope/data/", "/alice/config"]) {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Basic !!!" },
      { authorization: `Basic ${btoa("alice:wrong")}` },
    ];
    for (const headers of attempts) {
      const response = await setup.app(new Request(`http://x${path}`, { headers }));
      await response.body?.cancel();
      assert.equal(response.status, 401, path);
      assert.equal(
        response.headers.get("www-authenticate"),
        'Basic realm="restic-rest", charset="UTF-8"',
      );
    }
  }
  assert.equal(await snapshotTree(setup.root), before);
});

Deno.test("hostile path set has at least 35 paths × 4 methods", () => {
  assert.ok(HOSTILE_PATHS.length >= 35);
});
