import assert from "node:assert/strict";
import { formatRepo, parseTarget, type Target } from "../../lib/base/repo_path.ts";

const H = "a".repeat(63) + "1";
const deep = (n: number): string => Array.from({ length: n }, (_, i) => `r${i}`).join("/");

// [path, expected target or null for 404]
const CASES: [string, Target | null][] = [
  // repository roots
  ["/", { kind: "repo", repo: [] }],
  ["/a/", { kind: "repo", repo: ["a"] }],
  ["/a/b/c/", { kind: "repo", repo: ["a", "b", "c"] }],
  ["/user@example.com/", { kind: "repo", repo: ["user@example.com"] }],
  ["/über/", { kind: "repo", repo: ["über"] }],
  ["/%C3%BCber/", { kind: "repo", repo: ["über"] }],
  ["/a%20b/", { kind: "repo", repo: ["a b"] }],
  ["/a-b_c.d/", { kind: "repo", repo: ["a-b_c.d"] }],
  [`/${deep(16)}/`, { kind: "repo", repo: deep(16).split("/") }],
  [`/${deep(17)}/`, null],
  [`/${deep(16)}/config`, { kind: "config", repo: deep(16).split("/") }],
  [`/${deep(17)}/config`, null],
  [`/${deep(17)}/data/`, null],
  [`/${deep(17)}/data/${H}`, null],
  // config
  ["/config", { kind: "config", repo: [] }],
  ["/a/config", { kind: "config", repo: ["a"] }],
  ["/a/b/config", { kind: "config", repo: ["a", "b"] }],
  ["/config/", null],
  ["/config/config", null],
  ["/a/config/", null],
  ["/CONFIG", null],
  // listings
  ["/data/", { kind: "list", repo: [], type: "data" }],
  ["/keys/", { kind: "list", repo: [], type: "keys" }],
  ["/locks/", { kind: "list", repo: [], type: "locks" }],
  ["/index/", { kind: "list", repo: [], type: "index" }],
  ["/snapshots/", { kind: "list", repo: [], type: "snapshots" }],
  ["/a/b/snapshots/", { kind: "list", repo: ["a", "b"], type: "snapshots" }],
  ["/Data/", { kind: "repo", repo: ["Data"] }],
  ["/data", null],
  ["/a/data", null],
  ["/data//", null],
  // objects
  [`/data/${H}`, { kind: "object", repo: [], type: "data", name: H }],
  [`/a/keys/${H}`, { kind: "object", repo: ["a"], type: "keys", name: H }],
  [`/a/b/c/locks/${H}`, { kind: "object", repo: ["a", "b", "c"], type: "locks", name: H }],
  [`/data/${H.toUpperCase()}`, null],
  [`/data/${H}/`, null],
  [`/data/${H.slice(1)}`, null],
  [`/data/${H}0`, null],
  ["/data/foobar", null],
  [`/data/${H.slice(0, 63)}g`, null],
  [`/data/%${H}`, null],
  [`/config/${H}`, null],
  [`/other/${H}`, null],
  // type names and config as repository segments
  ["/data/data/", null],
  ["/data/b/", null],
  ["/keys/x/config", null],
  ["/config/data/", null],
  [`/snapshots/keys/${H}`, null],
  ["/a/index/b/", null],
  // dot segments and dotfiles
  ["/../", null],
  ["/./", null],
  ["/../config", null],
  ["/a/../config", null],
  ["/a/./config", null],
  ["/%2e%2e/config", null],
  ["/%2E%2E/data/", null],
  ["/a/%2e/config", null],
  ["/.htpasswd", null],
  ["/.htpasswd/", null],
  ["/.ssh/config", null],
  ["/x/.ssh/config", null],
  ["/.git/config", null],
  ["/%2essh/config", null],
  [`/.hidden/data/${H}`, null],
  ["/..%2f/config", null],
  // encoded separators, NUL, control characters, backslashes
  ["/a%2fb/", null],
  ["/a%2Fb/config", null],
  ["/%2f/config", null],
  ["/a%00b/", null],
  ["/%00/config", null],
  ["/a%0a/config", null],
  ["/a%5cb/", null],
  ["/a\\b/", null],
  ["/..%5c/config", null],
  ["/%252e%252e/config", null], // double encoding
  ["/a/%252e%252e/b/", null],
  ["/100%25/", null],
  // empty segments
  ["//", null],
  ["//config", null],
  ["/a//config", null],
  ["/a//b/", null],
  // malformed escapes and overlong UTF-8
  ["/%zz/", null],
  ["/%/", null],
  ["/%c0%ae%c0%ae/config", null],
  ["/%e0%80%ae/config", null],
  ["/%ff/", null],
  // length limits
  [`/${"x".repeat(255)}/`, { kind: "repo", repo: ["x".repeat(255)] }],
  [`/${"x".repeat(256)}/`, null],
  // not a path at all
  ["", null],
  ["config", null],
];

for (const [path, expected] of CASES) {
  Deno.test(`parseTarget() ${expected ? "accepts" : "refuses"} ${JSON.stringify(path.slice(0, 80))}`, () => {
    assert.deepEqual(parseTarget(path), expected);
  });
}

Deno.test("parseTarget() table has at least 60 cases", () => {
  assert.ok(CASES.length >= 60, `only ${CASES.length} cases`);
});

Deno.test("formatRepo() prints the root and nested repositories", () => {
  assert.equal(formatRepo([]), "/");
  assert.equal(formatRepo(["a", "b"]), "/a/b/");
});
