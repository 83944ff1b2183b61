import assert from "node:assert/strict";
import { decideAccess } from "../../lib/access/access.ts";
import { ConfigError } from "../../lib/base/errors.ts";
import { parseSize } from "../../lib/base/units.ts";
import { checkPolicyAgainstFlags, parsePolicy } from "../../lib/access/policy.ts";

const POLICY = parsePolicy(
  JSON.stringify({
    users: {
      admin: { "/": "full" },
      "*": { "/{user}/": "append-only", "/shared/": "read-only" },
      carol: { "/carol/": "full", "/shared/docs/": "append-only" },
    },
    repositories: { "/*/": { maxSize: "10G" }, "/shared/": { maxSize: "500M" } },
  }),
  "policy.json",
);

const MODES: [string, string[], string | null][] = [
  ["admin", [], "full"],
  ["admin", ["alice"], "full"],
  ["admin", ["x", "y", "z"], "full"],
  ["alice", ["alice"], "append-only"],
  ["alice", ["alice", "laptop"], "append-only"],
  ["alice", [], null],
  ["alice", ["bob"], null],
  ["alice", ["Alice"], null],
  ["alice", ["alice2"], null],
  ["alice", ["shared"], "read-only"],
  ["alice", ["shared", "docs"], "read-only"],
  ["carol", ["carol"], "full"], // her named rule beats the * rule of the same length
  ["carol", ["shared"], "read-only"],
  ["carol", ["shared", "docs"], "append-only"], // the longer rule wins
  ["carol", ["alice"], null],
  ["{user}", ["{user}"], null],
];
for (const [user, repo, expected] of MODES) {
  Deno.test(`policy modeFor(${user}, /${repo.join("/")}) is ${expected}`, () => {
    assert.equal(POLICY.modeFor(user, repo), expected);
  });
}

Deno.test("policy limitsFor() scopes each limit to the matched folder", () => {
  assert.deepEqual(POLICY.limitsFor(["alice", "laptop"]), [{
    scope: ["alice"],
    maxBytes: 10 * 1024 ** 3,
  }]);
  assert.deepEqual(POLICY.limitsFor(["shared"]), [
    { scope: ["shared"], maxBytes: 10 * 1024 ** 3 },
    { scope: ["shared"], maxBytes: 500 * 1024 ** 2 },
  ]);
  assert.deepEqual(POLICY.limitsFor([]), []);
});

const BAD_POLICIES: [string, RegExp][] = [
  ["not json", /Cannot read policy file/],
  ["[]", /expected an object/],
  [`{"user": {}}`, /unknown key "user"/],
  [`{"users": {"alice": {"/alice/": "write"}}}`, /mode "write"/],
  [`{"users": {"alice": {"alice/": "full"}}}`, /start and end with \//],
  [`{"users": {"alice": {"/../": "full"}}}`, /not a valid folder name/],
  [`{"users": {"alice": {"/.ssh/": "full"}}}`, /not a valid folder name/],
  [`{"users": {"alice": {"/data/": "full"}}}`, /not a valid folder name/],
  [`{"users": {"bad user": {"/": "full"}}}`, /not a valid user name/],
  [`{"users": {"alice": ["/alice/"]}}`, /give \{"\/path\/": "mode"\}/],
  [`{"repositories": {"/{user}/": {"maxSize": "1G"}}}`, /use \* for any folder/],
  [`{"repositories": {"/a/": {"maxSize": "lots"}}}`, /Cannot read size/],
  [`{"repositories": {"/a/": {"limit": "1G"}}}`, /maxSize/],
];
for (const [text, message] of BAD_POLICIES) {
  Deno.test(`parsePolicy() refuses ${text}`, () => {
    assert.throws(() => parsePolicy(text, "p.json"), (err) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, message);
      return true;
    });
  });
}

Deno.test("checkPolicyAgainstFlags() refuses conflicts with --append-only and --private-repos", () => {
  const flags = { appendOnly: false, privateRepos: false };
  checkPolicyAgainstFlags(POLICY, flags);
  assert.throws(
    () => checkPolicyAgainstFlags(POLICY, { ...flags, appendOnly: true }),
    /--append-only/,
  );
  assert.throws(
    () => checkPolicyAgainstFlags(POLICY, { ...flags, privateRepos: true }),
    /--private-repos/,
  );
  const own = parsePolicy(
    `{"users": {"*": {"/{user}/": "append-only"}, "bob": {"/bob/x/": "full"}}}`,
    "p",
  );
  checkPolicyAgainstFlags(own, { ...flags, privateRepos: true });
});

Deno.test("decideAccess() combines flags and policy", () => {
  const none = { appendOnly: false, privateRepos: false, policy: null };
  assert.deepEqual(decideAccess(none, null, ["x"]), {
    ok: true,
    mode: "full",
    source: "the default",
  });
  assert.deepEqual(decideAccess({ ...none, appendOnly: true }, "a", ["x"]), {
    ok: true,
    mode: "append-only",
    source: "--append-only",
  });
  const privateRepos = { ...none, privateRepos: true };
  assert.deepEqual(decideAccess(privateRepos, "a", ["a", "b"]), {
    ok: true,
    mode: "full",
    source: "the default",
  });
  assert.equal(decideAccess(privateRepos, "a", []).ok, false);
  const refused = decideAccess(privateRepos, "a", ["b", "a"]);
  assert.equal(!refused.ok && refused.status, 401);
  const withPolicy = { ...none, policy: POLICY };
  const denied = decideAccess(withPolicy, "alice", ["bob"]);
  assert.equal(!denied.ok && denied.status, 403);
  assert.deepEqual(decideAccess(withPolicy, "alice", ["alice"]), {
    ok: true,
    mode: "append-only",
    source: "the policy file",
  });
});

const SIZES: [string, number | null][] = [
  ["1", 1],
  ["1000", 1000],
  ["1K", 1024],
  ["500M", 500 * 1024 ** 2],
  ["10G", 10 * 1024 ** 3],
  ["10GiB", 10 * 1024 ** 3],
  ["10gb", 10 * 1024 ** 3],
  ["1.5G", 1.5 * 1024 ** 3],
  ["2T", 2 * 1024 ** 4],
  ["0", null],
  ["-1", null],
  ["10X", null],
  ["", null],
  ["G", null],
];
for (const [text, bytes] of SIZES) {
  Deno.test(`parseSize(${JSON.stringify(text)})`, () => {
    if (bytes === null) assert.throws(() => parseSize(text), ConfigError);
    else assert.equal(parseSize(text), bytes);
  });
}
