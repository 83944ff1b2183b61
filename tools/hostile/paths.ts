/**
 * Hostile paths: traversal and encodings, dotfiles, type names as folders,
 * names that are not object names, huge paths and headers.
 *
 * @module
 */

import { AUTH, type HostileCase } from "./case.ts";

/** The cases about paths and heads, in a fixed order. */
export const PATH_CASES: HostileCase[] = [];
const add = (c: HostileCase): void => void PATH_CASES.push(c);
/** A target that is no repository, type or object: read and written to, both 404. */
const readAndWrite = (label: string, target: string): void => {
  add({ name: `${label} GET ${target}`, method: "GET", target, headers: [AUTH], expect: 404 });
  add({
    name: `${label} POST ${target}`,
    method: "POST",
    target,
    headers: [AUTH],
    body: "x",
    expect: 404,
  });
};

// Traversal and encodings, each with every method. The server runs with --private-repos: `..` is
// resolved by the URL layer before routing (RFC 3986), so a traversal that stays parseable lands on
// another repository inside the data directory, which alice may not reach (401); one that does not
// parse (an encoded slash or backslash, NUL, overlong UTF-8, `...`) is no repository at all (404).
const PRIVATE = 401;
const UNPARSED = 404;
const traversal: [string, number][] = [
  ["/..", PRIVATE],
  ["/../", PRIVATE],
  ["/../config", PRIVATE],
  ["/../../../../etc/passwd", UNPARSED],
  ["/alice/../../config", PRIVATE],
  ["/alice/../../../canary.txt", UNPARSED],
  ["/%2e%2e/config", PRIVATE],
  ["/%2E%2E/%2e%2e/config", PRIVATE],
  ["/alice/%2e%2e/%2e%2e/canary.txt", UNPARSED],
  ["/%252e%252e/config", UNPARSED],
  ["/alice/%252e%252e/%252e%252e/config", UNPARSED],
  ["/..%2fconfig", UNPARSED],
  ["/..%2f..%2fcanary.txt", UNPARSED],
  ["/alice/..%2f..%2fconfig", UNPARSED],
  ["/%2e%2e%2fconfig", UNPARSED],
  ["/alice%2f..%2f..%2fconfig", UNPARSED],
  ["/..%5cconfig", UNPARSED],
  ["/alice/..%5c..%5cconfig", UNPARSED],
  ["/alice\\..\\..\\config", PRIVATE], // the URL layer reads \ as /
  ["/%c0%ae%c0%ae/config", UNPARSED],
  ["/%e0%80%ae%e0%80%ae/config", UNPARSED],
  ["/%c0%af/config", UNPARSED],
  ["/alice/%00/config", UNPARSED],
  ["/alice%00/config", UNPARSED],
  ["/%00", UNPARSED],
  ["/alice/data/%00", UNPARSED],
  ["/.%2e/config", PRIVATE],
  ["/%2e./config", PRIVATE],
  ["/alice/./../../config", PRIVATE],
  ["/alice/.../config", UNPARSED],
];
for (const [target, expect] of traversal) {
  for (const method of ["GET", "HEAD", "POST", "DELETE"]) {
    add({
      name: `traversal ${method} ${target}`,
      method,
      target,
      headers: [AUTH],
      body: method === "POST" ? "x" : undefined,
      expect,
    });
  }
}

// Dotfiles and files beside the repositories.
for (
  const target of [
    "/.htpasswd",
    "/.htpasswd/",
    "/alice/.htpasswd",
    "/alice/.ssh/config",
    "/.ssh/config",
    "/x/.ssh/config",
    "/.git/config",
    "/alice/.hidden/data/",
    "/%2ehtpasswd",
    "/alice/%2essh/config",
    "/canary.txt",
    "/alice/config/",
    "/private_key",
    "/public_key",
  ]
) {
  readAndWrite("dotfile", target);
}

// Type names and config as repository folders.
for (
  const target of [
    "/data/data/",
    "/data/keys/",
    "/keys/x/config",
    "/config/data/",
    "/snapshots/keys/{ID}",
    "/alice/index/x/",
    "/alice/data/data/",
    "/locks/locks/",
    "/config/config",
    "/alice/config/config",
  ]
) {
  readAndWrite("type as folder", target);
}

// Names that are not object names.
for (
  const name of [
    "foobar",
    "{ID}/",
    "{ID}0",
    "ABCDEF",
    "%7BID%7D",
    "..",
    "%2e%2e",
    "{ID}%00",
    "{ID}.tmp",
  ]
) {
  add({
    name: `bad object name ${name}`,
    method: "GET",
    target: `/alice/data/${name}`,
    headers: [AUTH],
    // `..` resolves to the repository root, where GET is not allowed.
    expect: name === ".." || name === "%2e%2e" ? 405 : 404,
  });
}

// Huge paths and headers.
add({
  name: "path of 64 KiB",
  method: "GET",
  target: "/{REPEAT:a:65536}/config",
  headers: [AUTH],
  expect: 400,
});
add({
  name: "path of 64 KiB of ../",
  method: "GET",
  target: "/{REPEAT:../:21845}config",
  headers: [AUTH],
  expect: 400,
});
add({
  name: "path with 1000 folders",
  method: "GET",
  target: "/{REPEAT:d/:1000}config",
  headers: [AUTH],
  expect: 404,
});
add({
  name: "header of 64 KiB",
  method: "GET",
  target: "/alice/config",
  headers: [AUTH, ["X-Big", "{REPEAT:b:65536}"]],
  expect: 400,
});
add({
  name: "header of 1 MiB",
  method: "GET",
  target: "/alice/config",
  headers: [AUTH, ["X-Big", "{REPEAT:b:1048576}"]],
  expect: 400,
});
add({
  name: "2000 headers",
  method: "GET",
  target: "/alice/config",
  headers: [AUTH],
  manyHeaders: 2000,
  expect: 400,
});
add({
  name: "Authorization of 64 KiB",
  method: "GET",
  target: "/alice/config",
  headers: [["Authorization", "Basic {REPEAT:Q:65536}"]],
  expect: 400,
});
