/**
 * Writes tests/hostile_corpus.json: hostile requests and the statuses each may
 * get. Run `deno run --allow-write tools/gen_hostile_corpus.ts` after changing
 * it; the JSON is the data the test replays.
 *
 * Placeholders: `{ID}` is an existing object of user alice, `{AUTH}` in a
 * header value is alice's valid Basic credentials, `{REPEAT:text:n}` is text
 * repeated n times (so huge requests stay small in the file).
 *
 * @module
 */

// A command-line tool: printing its report is its job.
// deno-lint-ignore-file no-console

/** One hostile request and the statuses it may get. */
export interface HostileCase {
  name: string;
  method: string;
  target: string;
  headers: [string, string][];
  /** A body, or `[character, count]` for a long one. */
  body?: string | [string, number];
  /** Adds this many `X-Hn: v` headers. */
  manyHeaders?: number;
  expect: number[];
}

const AUTH: [string, string] = ["Authorization", "{AUTH}"];
const cases: HostileCase[] = [];
const add = (c: HostileCase): void => void cases.push(c);
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

// Range: many parts, negative, overflowing, malformed.
const ranges: [string, number[]][] = [
  ["bytes={REPEAT:0-1,:999}0-1", [200]],
  ["bytes={REPEAT:0-1,:5000}0-1", [0, 200, 431]],
  ["bytes=-5-10", [416]],
  ["bytes=--5", [416]],
  ["bytes=5--10", [416]],
  ["bytes=-0", [416]],
  ["bytes=99999999999999999999999-", [416]],
  ["bytes=0-99999999999999999999999", [206]],
  ["bytes=18446744073709551616-", [416]],
  ["bytes=1e3-", [416]],
  ["bytes=0x10-0x20", [416]],
  ["bytes=10-5", [416]],
  ["bytes=", [416]],
  ["bytes", [416]],
  ["bits=0-1", [416]],
  ["bytes=0-1,x", [416]],
  ["bytes=\u00000-1", [0, 400, 416]],
  [" bytes = 0 - 1 ", [206, 416]],
  ["bytes=0-0", [206]],
  ["bytes=-1", [206]],
  ["bytes=9999999-", [416]],
  ["BYTES=0-1", [206]],
  ["bytes=0-1;x", [416]],
  ["bytes=0-1 2-3", [416]],
];
for (const [range, expect] of ranges) {
  add({
    name: `range ${range.slice(0, 40)}`,
    method: "GET",
    target: "/alice/data/{ID}",
    headers: [AUTH, ["Range", range]],
    expect,
  });
}

// Content-Length tricks on uploads.
const lengths: [string, string, number[]][] = [
  ["-1", "x", [0, 400]],
  ["99999999999999999999999", "x", [0, 400]],
  ["1e3", "x", [0, 400]],
  ["0x10", "x", [0, 400]],
  ["10, 10", "0123456789", [0, 400]],
  ["+5", "12345", [0, 400]],
  [" 5", "12345", [0, 400]],
];
for (const [length, body, expect] of lengths) {
  add({
    name: `Content-Length ${length}`,
    method: "POST",
    target: "/alice/data/{ID}",
    headers: [AUTH, ["Content-Length", length]],
    body,
    expect,
  });
}
add({
  name: "Content-Length and chunked together",
  method: "POST",
  target: "/alice/keys/{ID}",
  headers: [AUTH, ["Content-Length", "5"], ["Transfer-Encoding", "chunked"]],
  body: "0\r\n\r\n",
  expect: [0, 400],
});
add({
  name: "chunked with a bad chunk size",
  method: "POST",
  target: "/alice/keys/{ID}",
  headers: [AUTH, ["Transfer-Encoding", "chunked"]],
  body: "zz\r\nxx\r\n0\r\n\r\n",
  expect: [0, 400],
});
add({
  name: "upload with a wrong hash",
  method: "POST",
  target: "/alice/keys/" + "0".repeat(64),
  headers: [AUTH],
  body: "not zeros",
  expect: [400],
});
add({
  name: "upload of 1 MiB with a wrong hash",
  method: "POST",
  target: "/alice/data/" + "1".repeat(64),
  headers: [AUTH],
  body: ["z", 1048576],
  expect: [400],
});
add({
  name: "config upload over the existing one",
  method: "POST",
  target: "/alice/config",
  headers: [AUTH],
  body: "evil config",
  expect: [403],
});

// Methods.
for (
  const method of [
    "PUT",
    "PATCH",
    "OPTIONS",
    "TRACE",
    "PROPFIND",
    "MKCOL",
    "FOO",
    "get",
    "Delete",
    "M-SEARCH",
  ]
) {
  add({
    name: `method ${method} on an object`,
    method,
    target: "/alice/data/{ID}",
    headers: [AUTH],
    expect: [400, 405],
  });
  add({
    name: `method ${method} on a listing`,
    method,
    target: "/alice/data/",
    headers: [AUTH],
    expect: [400, 405],
  });
}
add({
  name: "CONNECT",
  method: "CONNECT",
  target: "127.0.0.1:22",
  headers: [AUTH],
  expect: [0, 400, 401, 404, 405],
});
add({
  name: "absolute-form target",
  method: "GET",
  target: "http://evil.example/alice/config",
  headers: [AUTH],
  expect: [200, 400, 404],
});
add({
  name: "asterisk target",
  method: "OPTIONS",
  target: "*",
  headers: [AUTH],
  expect: [0, 400, 404, 405],
});

// Bodies where none belongs.
add({
  name: "GET with a body",
  method: "GET",
  target: "/alice/data/{ID}",
  headers: [AUTH],
  body: "unexpected",
  expect: [200],
});
add({
  name: "HEAD with a body",
  method: "HEAD",
  target: "/alice/data/{ID}",
  headers: [AUTH],
  body: "unexpected",
  expect: [0, 200, 400],
});
add({
  name: "DELETE with a 1 MiB body",
  method: "DELETE",
  target: "/alice/locks/" + "2".repeat(64),
  headers: [AUTH],
  body: ["d", 1048576],
  expect: [200],
});
add({
  name: "create without ?create=true",
  method: "POST",
  target: "/alice/",
  headers: [AUTH],
  body: "x",
  expect: [400],
});

// Malformed Basic auth: always 401.
const auths = [
  "",
  "Basic",
  "Basic ",
  "Basic !!!",
  "Basic ====",
  "Basic YWxpY2U=",
  "Basic YWxpY2U6",
  "Basic OnNlY3JldA==",
  "Bearer abc",
  "Digest username=alice",
  "basic YWxpY2U6c2VjcmV0X3dyb25n",
  "Basic YWxpY2U6c2VjcmV0 extra",
  "Basic /w==",
  "Basic {REPEAT:A:1000}",
  "Basic YWxpY2U6c2VjcmV0\u0000",
  "Basic ZXZlOnNlY3JldA==",
  "Basic Li4vYWxpY2U6c2VjcmV0",
  "Basic YWxpY2UgOnNlY3JldA==",
  "Negotiate YWxpY2U6c2VjcmV0",
  "Basic YWxpY2U6c2VjcmV0;",
];
for (const value of auths) {
  add({
    name: `auth ${JSON.stringify(value).slice(0, 40)}`,
    method: "GET",
    target: "/alice/config",
    headers: value === "" ? [] : [["Authorization", value]],
    expect: [0, 400, 401],
  });
}
add({
  name: "two Authorization headers",
  method: "GET",
  target: "/alice/config",
  headers: [AUTH, ["Authorization", "Basic ZXZlOnNlY3JldA=="]],
  expect: [400, 401],
});

if (import.meta.main) {
  const file = new URL("../tests/hostile_corpus.json", import.meta.url);
  await Deno.writeTextFile(file, JSON.stringify(cases, null, 2) + "\n");
  console.log(`${cases.length} cases written to ${file.pathname}`);
}
