import assert from "node:assert/strict";
import { parseBasicAuth } from "../../lib/auth/basic.ts";
import { ProxyHeaderAuth } from "../../lib/auth/proxy_auth.ts";
import { HtpasswdAuth } from "../../lib/auth/htpasswd_auth.ts";
import { ConfigError } from "../../lib/base/errors.ts";
import { verifyPassword } from "../../lib/auth/htpasswd.ts";
import { memoryLogger } from "../helpers/app.ts";
import { tempDir } from "../helpers/files.ts";

// {SHA} of "secret" and of "other": fast to verify, so tests stay quick.
const SECRET = "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=";
const OTHER = "{SHA}0JQeaNqPOBUf+Gph/Fn3xc+fyqI=";

function basic(user: string, password: string): Request {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  return new Request("http://x/", {
    headers: { authorization: `Basic ${btoa(String.fromCharCode(...bytes))}` },
  });
}

Deno.test("parseBasicAuth() reads user and password and refuses malformed headers", () => {
  const b64 = (text: string): string =>
    btoa(String.fromCharCode(...new TextEncoder().encode(text)));
  assert.deepEqual(parseBasicAuth(`Basic ${b64("alice:pw")}`), { user: "alice", password: "pw" });
  assert.deepEqual(parseBasicAuth(`basic ${b64("a:b:c")}`), { user: "a", password: "b:c" });
  assert.deepEqual(parseBasicAuth(`Basic ${b64("ü:ñ")}`), { user: "ü", password: "ñ" });
  assert.deepEqual(parseBasicAuth(`Basic ${b64("a:")}`), { user: "a", password: "" });
  for (
    const header of [
      null,
      "",
      "Bearer abc",
      "Basic",
      "Basic !!!",
      `Basic ${b64("no-colon")}`,
      "Basic =====",
      `Basic ${btoa("\xff\xfe:x")}`, // not UTF-8
      `Digest ${b64("a:b")}`,
    ]
  ) {
    assert.ok("error" in parseBasicAuth(header), String(header));
  }
});

Deno.test("HtpasswdAuth.load() refuses a missing file, naming both fixes", async () => {
  await using dir = await tempDir();
  await assert.rejects(
    HtpasswdAuth.load({ file: `${dir.path}/.htpasswd`, log: memoryLogger() }),
    (err) =>
      err instanceof ConfigError && /user add/.test(err.message) && /--no-auth/.test(err.message),
  );
  await Deno.writeTextFile(`${dir.path}/.htpasswd`, "# only a comment\nbroken line\n");
  await assert.rejects(
    HtpasswdAuth.load({ file: `${dir.path}/.htpasswd`, log: memoryLogger() }),
    (err) => err instanceof ConfigError && /no usable entry/.test(err.message),
  );
});

Deno.test("HtpasswdAuth.authenticate() accepts good credentials, refuses the rest", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/.htpasswd`;
  await Deno.writeTextFile(file, `alice:${SECRET}\nbob:${OTHER}\n`);
  using auth = await HtpasswdAuth.load({ file, log: memoryLogger() });
  assert.deepEqual(await auth.authenticate(basic("alice", "secret")), {
    kind: "ok",
    user: "alice",
  });
  assert.deepEqual(await auth.authenticate(basic("bob", "other")), { kind: "ok", user: "bob" });
  const wrong = await auth.authenticate(basic("alice", "other"));
  assert.deepEqual(wrong, {
    kind: "refused",
    reason: "wrong password",
    user: "alice",
    checked: true,
  });
  const unknown = await auth.authenticate(basic("mallory", "secret"));
  assert.deepEqual(unknown, {
    kind: "refused",
    reason: "unknown user",
    user: "mallory",
    checked: true,
  });
  assert.notEqual((await auth.authenticate(new Request("http://x/"))).kind, "ok");
});

Deno.test("HtpasswdAuth caches verified credentials for a sliding minute", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/.htpasswd`;
  await Deno.writeTextFile(file, `alice:${SECRET}\n`);
  let verifications = 0;
  using auth = await HtpasswdAuth.load({
    file,
    log: memoryLogger(),
    cacheTtlMs: 1_000,
    verify: (password, hash) => (verifications++, verifyPassword(password, hash)),
  });
  await Promise.all(Array.from({ length: 8 }, () => auth.authenticate(basic("alice", "secret"))));
  assert.equal(verifications, 1, "concurrent requests share one verification");
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 400)); // each use slides the expiry
    assert.equal((await auth.authenticate(basic("alice", "secret"))).kind, "ok");
  }
  assert.equal(verifications, 1, "1.6 s of use within a 1 s sliding window");
  await new Promise((r) => setTimeout(r, 1_300));
  await auth.authenticate(basic("alice", "secret"));
  assert.equal(verifications, 2, "verified again after the entry expired");
  assert.notEqual((await auth.authenticate(basic("alice", "wrong"))).kind, "ok");
  assert.notEqual((await auth.authenticate(basic("alice", "wrong"))).kind, "ok");
  assert.equal(verifications, 4, "failures are never cached");
});

Deno.test("HtpasswdAuth reloads a changed file and forgets cached credentials", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/.htpasswd`;
  await Deno.writeTextFile(file, `alice:${SECRET}\n`);
  const log = memoryLogger();
  using auth = await HtpasswdAuth.load({ file, log, reloadIntervalMs: 0 });
  assert.equal((await auth.authenticate(basic("alice", "secret"))).kind, "ok");
  assert.notEqual((await auth.authenticate(basic("bob", "other"))).kind, "ok");
  await Deno.writeTextFile(file, `bob:${OTHER}\n`);
  assert.equal((await auth.authenticate(basic("bob", "other"))).kind, "ok", "new user");
  assert.notEqual((await auth.authenticate(basic("alice", "secret"))).kind, "ok", "removed user");
  assert.ok(log.lines.some((l) => /reloaded .* \(file changed\): 1 user/.test(l)));
});

Deno.test("HtpasswdAuth checks the file at most once per interval", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/.htpasswd`;
  await Deno.writeTextFile(file, `alice:${SECRET}\n`);
  using auth = await HtpasswdAuth.load({ file, log: memoryLogger(), reloadIntervalMs: 60_000 });
  await Deno.writeTextFile(file, `bob:${OTHER}\n`);
  assert.notEqual((await auth.authenticate(basic("bob", "other"))).kind, "ok", "not yet checked");
  await auth.reload("SIGHUP");
  assert.equal((await auth.authenticate(basic("bob", "other"))).kind, "ok", "after SIGHUP");
});

Deno.test("HtpasswdAuth keeps the old users when the file breaks or vanishes", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/.htpasswd`;
  await Deno.writeTextFile(file, `alice:${SECRET}\n`);
  const log = memoryLogger();
  using auth = await HtpasswdAuth.load({ file, log, reloadIntervalMs: 0 });
  await Deno.writeTextFile(file, "alice secret\n<<<garbage>>>\n");
  assert.equal((await auth.authenticate(basic("alice", "secret"))).kind, "ok");
  assert.ok(log.lines.some((l) => /no usable entry; keeping 1 user/.test(l)), log.lines.join("\n"));
  assert.ok(log.lines.some((l) => /line 1: no "user:hash" pair/.test(l)));
  await Deno.remove(file);
  assert.equal((await auth.authenticate(basic("alice", "secret"))).kind, "ok");
  assert.ok(log.lines.some((l) => /Cannot reload .*keeping 1 user/.test(l)));
  assert.ok(log.lines.every((l) => !l.includes("5en6G6")), "never a hash in the log");
});

Deno.test("ProxyHeaderAuth takes the user from the header of a trusted proxy, refuses the rest", async () => {
  const auth = new ProxyHeaderAuth("X-Forwarded-User");
  const request = (value?: string): Request =>
    new Request("http://x/", { headers: value === undefined ? {} : { "x-forwarded-user": value } });
  const proxy = { client: "10.0.0.1", fromTrustedProxy: true };
  assert.deepEqual(await auth.authenticate(request("alice"), proxy), { kind: "ok", user: "alice" });
  assert.notEqual((await auth.authenticate(request(), proxy)).kind, "ok");
  assert.notEqual((await auth.authenticate(request(""), proxy)).kind, "ok");
  assert.notEqual((await auth.authenticate(request("../bob"), proxy)).kind, "ok");
  assert.notEqual((await auth.authenticate(request("a b"), proxy)).kind, "ok");
  const anybody = { client: "10.0.0.9", fromTrustedProxy: false };
  assert.deepEqual(await auth.authenticate(request("alice"), anybody), {
    kind: "refused",
    reason: "X-Forwarded-User counts only from a --trusted-proxy address",
    user: null,
    checked: false,
  });
});
