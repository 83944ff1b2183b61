/**
 * The README's policy example does what the README says it does: every
 * claim of its paragraph, checked against the parsed file and the app.
 */
import assert from "node:assert/strict";
import { decideAccess } from "../../lib/access/access.ts";
import { checkPolicyAgainstFlags, parsePolicy } from "../../lib/access/policy.ts";
import { PROJECT_ROOT } from "../helpers/files.ts";

const readme = await Deno.readTextFile(`${PROJECT_ROOT}README.md`);
const section = readme.slice(readme.indexOf("## Access control"));
const example = /```json\n([\s\S]*?)\n```/.exec(section)?.[1];
const policy = parsePolicy(example ?? "{}", "README.md");
const rules = { appendOnly: false, privateRepos: false, policy };
const GIB = 1024 ** 3;

function mode(user: string, path: string): string {
  const repo = path === "/" ? [] : path.slice(1, -1).split("/");
  const decision = decideAccess(rules, user, repo);
  return decision.ok ? decision.mode : `refused ${decision.status}`;
}

Deno.test("README policy: every user backs up to their own folder, append-only", () => {
  assert.ok(example, "the README has a policy example under Access control");
  for (const user of ["anna", "ben", "carol"]) {
    assert.equal(mode(user, `/${user}/`), "append-only", user);
    assert.equal(mode(user, `/${user}/laptop/`), "append-only", user);
  }
});

Deno.test("README policy: everyone reads /shared/, nobody another user's folder", () => {
  for (const user of ["anna", "ben", "carol"]) {
    assert.equal(mode(user, "/shared/"), "read-only", user);
  }
  assert.equal(mode("anna", "/ben/"), "refused 403");
  assert.equal(mode("ben", "/anna/laptop/"), "refused 403");
  assert.equal(mode("anna", "/shared/docs/"), "read-only");
});

Deno.test("README policy: carol may also add to /shared/docs/", () => {
  assert.equal(mode("carol", "/shared/docs/"), "append-only");
  assert.equal(mode("carol", "/shared/docs/2026/"), "append-only");
});

Deno.test("README policy: admin has full rights everywhere, /shared/ included", () => {
  for (const path of ["/", "/shared/", "/shared/docs/", "/anna/", "/anna/laptop/", "/x/y/"]) {
    assert.equal(mode("admin", path), "full", path);
  }
});

Deno.test("README policy: 200 GiB per top-level folder, 50 GiB for /shared/", () => {
  const limits = (path: string) =>
    policy.limitsFor(path.slice(1, -1).split("/")).map((
      l,
    ) => [`/${l.scope.join("/")}/`, l.maxBytes]);
  assert.deepEqual(limits("/anna/laptop/"), [["/anna/", 200 * GIB]]);
  const shared = limits("/shared/docs/");
  assert.ok(shared.some(([scope, bytes]) => scope === "/shared/" && bytes === 50 * GIB));
  assert.ok(
    shared.every(([scope, bytes]) => scope === "/shared/" && Number(bytes) >= 50 * GIB),
    "no other limit under /shared/",
  );
});

Deno.test("README policy: conflicts with the flags are refused at start-up", () => {
  const flags = { appendOnly: false, privateRepos: false, noAuth: false };
  checkPolicyAgainstFlags(policy, flags);
  assert.throws(() => checkPolicyAgainstFlags(policy, { ...flags, appendOnly: true }));
  assert.throws(() => checkPolicyAgainstFlags(policy, { ...flags, privateRepos: true }));
});
