/**
 * Hostile requests: ranges, Content-Length tricks, methods, bodies where
 * none belongs, malformed Basic auth.
 *
 * @module
 */

import { AUTH, type HostileCase } from "./case.ts";

/** The cases about request headers, methods and bodies, in a fixed order. */
export const REQUEST_CASES: HostileCase[] = [];
const add = (c: HostileCase): void => void REQUEST_CASES.push(c);
// Range: many parts, negative, overflowing, malformed.
const ranges: [string, number][] = [
  ["bytes={REPEAT:0-1,:999}0-1", 200], // several ranges: the whole object
  ["bytes={REPEAT:0-1,:5000}0-1", 200],
  ["bytes=-5-10", 416],
  ["bytes=--5", 416],
  ["bytes=5--10", 416],
  ["bytes=-0", 416],
  ["bytes=99999999999999999999999-", 416],
  ["bytes=0-99999999999999999999999", 206], // an end past the object is clipped
  ["bytes=18446744073709551616-", 416],
  ["bytes=1e3-", 416],
  ["bytes=0x10-0x20", 416],
  ["bytes=10-5", 416],
  ["bytes=", 416],
  ["bytes", 416],
  ["bits=0-1", 416],
  ["bytes=0-1,x", 416],
  ["bytes=\u00000-1", 400], // a NUL in a header: the HTTP server refuses the request
  [" bytes = 0 - 1 ", 206],
  ["bytes=0-0", 206],
  ["bytes=-1", 206],
  ["bytes=9999999-", 416],
  ["BYTES=0-1", 206],
  ["bytes=0-1;x", 416],
  ["bytes=0-1 2-3", 416],
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
// A length that is not one number: the HTTP server refuses the request.
const lengths: [string, string, number][] = [
  ["-1", "x", 400],
  ["99999999999999999999999", "x", 400],
  ["1e3", "x", 400],
  ["0x10", "x", 400],
  ["10, 10", "0123456789", 400],
  ["+5", "12345", 400],
  [" 5", "12345", 400],
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
  expect: 400,
});
add({
  name: "chunked with a bad chunk size",
  method: "POST",
  target: "/alice/keys/{ID}",
  headers: [AUTH, ["Transfer-Encoding", "chunked"]],
  body: "zz\r\nxx\r\n0\r\n\r\n",
  expect: 0, // the HTTP server hangs up,
});
add({
  name: "upload with a wrong hash",
  method: "POST",
  target: "/alice/keys/" + "0".repeat(64),
  headers: [AUTH],
  body: "not zeros",
  expect: 400,
});
add({
  name: "upload of 1 MiB with a wrong hash",
  method: "POST",
  target: "/alice/data/" + "1".repeat(64),
  headers: [AUTH],
  body: ["z", 1048576],
  expect: 400,
});
add({
  name: "config upload over the existing one",
  method: "POST",
  target: "/alice/config",
  headers: [AUTH],
  body: "evil config",
  expect: 403,
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
    expect: 405,
  });
  add({
    name: `method ${method} on a listing`,
    method,
    target: "/alice/data/",
    headers: [AUTH],
    expect: 405,
  });
}
add({
  name: "CONNECT",
  method: "CONNECT",
  target: "127.0.0.1:22",
  headers: [AUTH],
  expect: 401, // authentication comes first,
});
add({
  name: "absolute-form target",
  method: "GET",
  target: "http://evil.example/alice/config",
  headers: [AUTH],
  expect: 200, // the host part is ignored,
});
add({
  name: "asterisk target",
  method: "OPTIONS",
  target: "*",
  headers: [AUTH],
  expect: 404,
});

// Bodies where none belongs.
add({
  name: "GET with a body",
  method: "GET",
  target: "/alice/data/{ID}",
  headers: [AUTH],
  body: "unexpected",
  expect: 200,
});
add({
  name: "HEAD with a body",
  method: "HEAD",
  target: "/alice/data/{ID}",
  headers: [AUTH],
  body: "unexpected",
  expect: 200,
});
add({
  name: "DELETE with a 1 MiB body",
  method: "DELETE",
  target: "/alice/locks/" + "2".repeat(64),
  headers: [AUTH],
  body: ["d", 1048576],
  expect: 200,
});
add({
  name: "create without ?create=true",
  method: "POST",
  target: "/alice/",
  headers: [AUTH],
  body: "x",
  expect: 400,
});

// Malformed Basic auth: 401.
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
    // A NUL in a header: the HTTP server refuses the request before anyone reads it.
    expect: value.includes("\u0000") ? 400 : 401,
  });
}
add({
  name: "two Authorization headers",
  method: "GET",
  target: "/alice/config",
  headers: [AUTH, ["Authorization", "Basic ZXZlOnNlY3JldA=="]],
  expect: 401,
});
