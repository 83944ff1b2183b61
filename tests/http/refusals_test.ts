/**
 * Refusals with reasons: every 4xx body is one line that names the reason
 * (and the flag or rule behind it), and 403s and repository 404s reach the
 * log at the default level, a bounded number a minute.
 */
import assert from "node:assert/strict";
import { HtpasswdAuth } from "../../lib/auth/htpasswd_auth.ts";
import { parsePolicy } from "../../lib/access/policy.ts";
import { createLogger } from "../../lib/base/log.ts";
import { RefusalLog } from "../../lib/http/refusals.ts";
import { appOn, call, memoryLogger } from "../helpers/app.ts";
import { tempDir } from "../helpers/files.ts";
import { MemoryStorage } from "../helpers/memory_storage.ts";

const SECRET = "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="; // "secret"

async function setUp(options: { privateRepos?: boolean; appendOnly?: boolean; policy?: string }) {
  const dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/.htpasswd`, `anna:${SECRET}\nben:${SECRET}\n`);
  const log = memoryLogger(false);
  const auth = await HtpasswdAuth.load({ file: `${dir.path}/.htpasswd`, log });
  const app = appOn(new MemoryStorage(), {
    log,
    auth,
    privateRepos: options.privateRepos ?? false,
    appendOnly: options.appendOnly ?? false,
    policy: options.policy ? parsePolicy(options.policy, "policy.json") : null,
  });
  const as = (user: string, password = "secret") => ({
    authorization: `Basic ${btoa(`${user}:${password}`)}`,
  });
  return {
    app,
    log,
    as,
    async [Symbol.asyncDispose]() {
      auth.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

Deno.test("refusals: each 4xx body names its reason and the flag or rule, in one line", async () => {
  const cases: [string, Parameters<typeof setUp>[0], string, string, string, number, RegExp][] = [
    [
      "repository delete off",
      {},
      "anna",
      "DELETE",
      "/anna/",
      403,
      /deleting repositories is off \(--allow-repo-delete\)/,
    ],
    [
      "another user's private repository",
      { privateRepos: true },
      "anna",
      "GET",
      "/ben/keys/",
      401,
      /"anna" may only reach \/anna\/ \(--private-repos\)/,
    ],
    [
      "a reserved name",
      {},
      "anna",
      "GET",
      "/data/x/",
      404,
      /restic's own names, never a repository folder/,
    ],
    ["not an object name", {}, "anna", "GET", "/anna/data/foobar", 404, /64 lowercase hex digits/],
    [
      "append-only",
      { appendOnly: true },
      "anna",
      "DELETE",
      `/anna/data/${"a".repeat(64)}`,
      403,
      /"anna" may not delete data here: append-only by --append-only/,
    ],
    [
      "no policy rule",
      { policy: JSON.stringify({ users: { "*": { "/{user}/": "full" } } }) },
      "anna",
      "GET",
      "/ben/keys/",
      403,
      /the policy file gives "anna" no rule for this path/,
    ],
    [
      "read-only by the policy",
      { policy: JSON.stringify({ users: { "*": { "/shared/": "read-only" } } }) },
      "anna",
      "POST",
      "/shared/?create=true",
      403,
      /"anna" may not create a repository here: read-only by the policy file/,
    ],
    [
      "missing create=true",
      {},
      "anna",
      "POST",
      "/anna/",
      400,
      /POST on a repository needs \?create=true/,
    ],
  ];
  for (const [label, options, user, method, path, status, says] of cases) {
    await using t = await setUp(options);
    const response = await call(t.app, method, path, { headers: t.as(user) });
    assert.equal(response.status, status, label);
    assert.match(response.text, says, label);
    assert.equal(response.text.trimEnd().split("\n").length, 1, label);
  }
});

Deno.test("refusals: a wrong password and an unknown user read the same", async () => {
  await using t = await setUp({});
  const wrong = await call(t.app, "GET", "/anna/keys/", { headers: t.as("anna", "nope") });
  const unknown = await call(t.app, "GET", "/anna/keys/", { headers: t.as("zoe", "nope") });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.text, "Unauthorized: wrong user name or password\n");
  assert.equal(unknown.text, wrong.text);
});

Deno.test("refusals: 403s and repository 404s are logged with their reason; a missing object is not", async () => {
  await using t = await setUp({});
  await call(t.app, "DELETE", "/anna/", { headers: t.as("anna") });
  await call(t.app, "GET", "/data/x/", { headers: t.as("anna") });
  await call(t.app, "GET", "/anna/keys/", { headers: t.as("anna") }); // no such repository
  await call(t.app, "HEAD", "/anna/config", { headers: t.as("anna") }); // restic's own probe
  const refused = t.log.lines.filter((l) => l.startsWith("refused "));
  assert.equal(refused.length, 3, refused.join("\n"));
  assert.match(
    refused[0],
    /^refused DELETE \/anna\/ from local \(user "anna"\): 403 deleting repositories is off/,
  );
  assert.match(refused[1], /^refused GET \/data\/x\/ .*: 404 data, index, keys/);
  assert.match(refused[2], /^refused GET \/anna\/keys\/ .*: 404 /);
});

Deno.test("RefusalLog: at most 20 lines a minute, then how many were left out", () => {
  const lines: string[] = [];
  let now = 0;
  const refusals = new RefusalLog(
    createLogger({ debug: false, write: (l) => lines.push(l) }),
    () => now,
  );
  const note = (i: number) =>
    refusals.note({
      method: "GET",
      path: `/x${i}/`,
      status: 403,
      reason: "no",
      user: null,
      address: "a",
    });
  for (let i = 0; i < 50; i++) note(i);
  assert.equal(lines.length, 20);
  now += 60_000;
  note(99);
  assert.deepEqual(lines.slice(20), [
    "refused: 30 more not logged in the last minute",
    "refused GET /x99/ from a: 403 no",
  ]);
});
