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
const NOT_FOUND = [404];
// The server runs with --private-repos: `..` is resolved by the URL layer
// before routing, so a traversal lands on another path inside the data
// directory, which alice may not touch (401) or which does not parse (404).
const REFUSED = [400, 401, 404, 405];
/** A target read (must be missing) and written to (must be refused). */
const readAndWrite = (label: string, target: string): void => {
  add({
    name: `${label} GET ${target}`,
    method: "GET",
    target,
    headers: [AUTH],
    expect: NOT_FOUND,
  });
  add({
    name: `${label} POST ${target}`,
    method: "POST",
    target,
    headers: [AUTH],
    body: "x",
    expect: REFUSED,
  });
};

// Traversal and encodings, each with every method: never anything but a refusal.
const traversal = [
  "/..",
  "/../",
  "/../config",
  "/../../../../etc/passwd",
  "/alice/../../config",
  "/alice/../../../canary.txt",
  "/%2e%2e/config",
  "/%2E%2E/%2e%2e/config",
  "/alice/%2e%2e/%2e%2e/canary.txt",
  "/%252e%252e/config",
  "/alice/%252e%252e/%252e%252e/config",
  "/..%2fconfig",
  "/..%2f..%2fcanary.txt",
  "/alice/..%2f..%2fconfig",
  "/%2e%2e%2fconfig",
  "/alice%2f..%2f..%2fconfig",
  "/..%5cconfig",
  "/alice/..%5c..%5cconfig",
  "/alice\\..\\..\\config",
  "/%c0%ae%c0%ae/config",
  "/%e0%80%ae%e0%80%ae/config",
  "/%c0%af/config",
  "/alice/%00/config",
  "/alice%00/config",
  "/%00",
  "/alice/data/%00",
  "/.%2e/config",
  "/%2e./config",
  "/alice/./../../config",
  "/alice/.../config",
];
for (const target of traversal) {
  for (const method of ["GET", "HEAD", "POST", "DELETE"]) {
    add({
      name: `traversal ${method} ${target}`,
      method,
      target,
      headers: [AUTH],
      body: method === "POST" ? "x" : undefined,
      expect: REFUSED,
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
    expect: [404, 405], // `..` resolves to the repository root, where GET is not allowed
  });
}

// Huge paths and headers.
add({
  name: "path of 64 KiB",
  method: "GET",
  target: "/{REPEAT:a:65536}/config",
  headers: [AUTH],
  expect: [0, 400, 404, 414, 431],
});
add({
  name: "path of 64 KiB of ../",
  method: "GET",
  target: "/{REPEAT:../:21845}config",
  headers: [AUTH],
  expect: [0, 400, 404, 414, 431],
});
add({
  name: "path with 1000 folders",
  method: "GET",
  target: "/{REPEAT:d/:1000}config",
  headers: [AUTH],
  expect: [0, 404, 414, 431],
});
add({
  name: "header of 64 KiB",
  method: "GET",
  target: "/alice/config",
  headers: [AUTH, ["X-Big", "{REPEAT:b:65536}"]],
  expect: [0, 200, 400, 404, 431],
});
add({
  name: "header of 1 MiB",
  method: "GET",
  target: "/alice/config",
  headers: [AUTH, ["X-Big", "{REPEAT:b:1048576}"]],
  expect: [0, 400, 431],
});
add({
  name: "2000 headers",
  method: "GET",
  target: "/alice/config",
  headers: [AUTH],
  manyHeaders: 2000,
  expect: [0, 400, 431],
});
add({
  name: "Authorization of 64 KiB",
  method: "GET",
  target: "/alice/config",
  headers: [["Authorization", "Basic {REPEAT:Q:65536}"]],
  expect: [0, 400, 401, 431],
});
