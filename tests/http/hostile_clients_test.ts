/**
 * Hostile clients against the pipeline, in-process: credentials too long to
 * be real, junk that tries to flush the login throttle, a spoofed proxy
 * header, peeking at /metrics, distributed guessing against a real user,
 * user names by timing, forged log lines, and the small ones.
 */
import assert from "node:assert/strict";
import type { AppHandler } from "../../lib/http/app.ts";
import { MAX_PASSWORD_BYTES, MAX_USER_BYTES, parseBasicAuth } from "../../lib/auth/basic.ts";
import { HtpasswdAuth } from "../../lib/auth/htpasswd_auth.ts";
import { refused } from "../../lib/auth/types.ts";
import { TrustedProxies } from "../../lib/auth/client_address.ts";
import { hashPassword, verifyPassword } from "../../lib/auth/htpasswd.ts";
import { Inventory, withInventory } from "../../lib/storage/inventory.ts";
import { createLogger } from "../../lib/base/log.ts";
import { LoginThrottle, MAX_ADDRESSES } from "../../lib/auth/throttle.ts";
import { Metrics, OVERFLOW_LABEL } from "../../lib/status/metrics.ts";
import { parsePolicy } from "../../lib/access/policy.ts";
import { parseS3Url } from "../../lib/cli/location.ts";
import { ConfigError } from "../../lib/base/errors.ts";
import { parseCommand } from "../../lib/cli/command.ts";
import { appOn, memoryLogger } from "../helpers/app.ts";
import { sha256, tempDir } from "../helpers/files.ts";
import { MemoryStorage } from "../helpers/memory_storage.ts";

const SHA_SECRET = "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="; // "secret"

function basic(user: string, password: string): Request {
  return new Request("http://x/", {
    headers: { authorization: `Basic ${btoa(`${user}:${password}`)}` },
  });
}

function peer(client: string) {
  return { client, fromTrustedProxy: false };
}

/** An authenticator on a password file, with a throttle and a counting verifier. */
async function authOn(
  text: string,
  options: { perAddress?: number; perUser?: number; cacheTtlMs?: number } = {},
) {
  const dir = await tempDir();
  const file = `${dir.path}/.htpasswd`;
  await Deno.writeTextFile(file, text);
  const log = memoryLogger();
  const throttle = new LoginThrottle(
    { perAddress: options.perAddress ?? 5, perUser: options.perUser ?? 50, windowMs: 60_000 },
    log,
  );
  const checked: string[] = [];
  const auth = await HtpasswdAuth.load({
    file,
    log,
    throttle,
    cacheTtlMs: options.cacheTtlMs,
    verify: (password, hash) => {
      checked.push(hash);
      return verifyPassword(password, hash);
    },
  });
  return {
    auth,
    throttle,
    checked,
    log,
    file,
    async [Symbol.asyncDispose]() {
      auth.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

Deno.test("parseBasicAuth() refuses a user over 255 bytes or a password over 1 KiB, and huge headers unread", () => {
  const header = (user: string, password: string) =>
    `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)))}`;
  assert.deepEqual(parseBasicAuth(header("a".repeat(MAX_USER_BYTES), "p")), {
    user: "a".repeat(MAX_USER_BYTES),
    password: "p",
  });
  for (
    const [user, password] of [
      ["a".repeat(MAX_USER_BYTES + 1), "p"],
      ["é".repeat(128), "p"], // 256 bytes in UTF-8
      ["anna", "p".repeat(MAX_PASSWORD_BYTES + 1)],
      ["x".repeat(40 << 10), "p"],
    ]
  ) {
    assert.deepEqual(parseBasicAuth(header(user, password)), { error: "credentials too long" });
  }
  assert.deepEqual(parseBasicAuth(`Basic ${"A".repeat(60 << 10)}`), {
    error: "credentials too long",
  });
});

Deno.test("HtpasswdAuth: over-long or impossible credentials get 401 unchecked and leave no state", async () => {
  await using setup = await authOn(`anna:${SHA_SECRET}\n`);
  const cases: [string, string][] = [
    ["x".repeat(40 << 10), "secret"],
    ["anna", "p".repeat(2048)],
    ["anna\nforged", "secret"],
    ["a b", "secret"],
  ];
  for (const [user, password] of cases) {
    for (let i = 0; i < 20; i++) {
      const result = await setup.auth.authenticate(basic(user, password), peer("203.0.113.7"));
      assert.notEqual(result.kind, "ok", `${user.slice(0, 20)}: refused`);
    }
  }
  assert.deepEqual(setup.checked, [], "no password was hashed");
  assert.equal(setup.throttle.size, 0, "nothing remembered");
  assert.equal(setup.throttle.failedLogins, 0);
  assert.equal(
    (await setup.auth.authenticate(basic("anna", "secret"), peer("203.0.113.7"))).kind,
    "ok",
    "the address was not throttled by any of it",
  );
});

Deno.test("HtpasswdAuth: a 24 KiB password against SHA-crypt entries is refused before any hash runs", async () => {
  const sha512 = "$6$saltsalt$" + "a".repeat(86);
  const sha256 = "$5$saltsalt$" + "a".repeat(43);
  await using setup = await authOn(`six:${sha512}\nfive:${sha256}\n`);
  for (const user of ["six", "five", "ghost"]) {
    const result = await setup.auth.authenticate(basic(user, "x".repeat(24 << 10)), peer("::1"));
    assert.deepEqual(result, refused("credentials too long"), user);
  }
  assert.deepEqual(setup.checked, []);
});

Deno.test("login throttle: 60,000 junk names from a throttled address cannot buy it another guess", async () => {
  await using setup = await authOn(`anna:${hashPassword("anna-pw")}\n`);
  const attacker = peer("203.0.113.66");
  for (let i = 0; i < 5; i++) {
    assert.notEqual(
      (await setup.auth.authenticate(basic("anna", `guess-${i}`), attacker)).kind,
      "ok",
    );
  }
  for (let i = 0; i < 60_000; i++) {
    const junk = await setup.auth.authenticate(basic(`junk${i}`, "x"), attacker);
    if (junk.kind !== "throttled") {
      assert.fail(`junk ${i} was not throttled: ${JSON.stringify(junk)}`);
    }
  }
  assert.ok(setup.throttle.size <= 3, `${setup.throttle.size} keys remembered`);
  const next = await setup.auth.authenticate(basic("anna", "anna-pw"), attacker);
  assert.ok(
    next.kind === "throttled" && next.retryAfterSeconds > 0,
    "429, even the right one",
  );
  assert.equal(setup.checked.length, 5, "5 guesses were checked, no more");
});

Deno.test("login throttle: junk from many addresses fills only the address table, never a user's count", () => {
  const throttle = new LoginThrottle(
    { perAddress: 5, perUser: 3, windowMs: 60_000 },
    memoryLogger(),
  );
  for (let i = 0; i < 3; i++) {
    const attempt = throttle.start(`198.51.100.${i}`, "anna", true);
    assert.ok(!("why" in attempt));
    attempt.failed();
  }
  for (let i = 0; i < MAX_ADDRESSES + 1000; i++) {
    const attempt = throttle.start(
      `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      `junk${i}`,
      false,
    );
    if ("why" in attempt) assert.fail(`junk ${i} refused`);
    attempt.failed();
  }
  assert.ok(throttle.size <= MAX_ADDRESSES + 1, `${throttle.size} keys`);
  const again = throttle.start("198.51.100.200", "anna", true);
  assert.ok("why" in again, "anna's per-user count survived the junk");
});

Deno.test("login throttle: guessing a user from 10 addresses does not lock them out of their usual address", async () => {
  await using setup = await authOn(`anna:${SHA_SECRET}\n`, { perUser: 50, cacheTtlMs: 1 });
  const home = peer("192.0.2.10");
  assert.equal((await setup.auth.authenticate(basic("anna", "secret"), home)).kind, "ok");
  for (let address = 0; address < 10; address++) {
    for (let i = 0; i < 5; i++) {
      const result = await setup.auth.authenticate(
        basic("anna", `guess-${i}`),
        peer(`203.0.113.${address}`),
      );
      assert.notEqual(result.kind, "ok");
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 5)); // the cached login expired
  assert.equal(
    (await setup.auth.authenticate(basic("anna", "secret"), home)).kind,
    "ok",
    "her usual address gets in",
  );
  await new Promise((resolve) => setTimeout(resolve, 5));
  const elsewhere = await setup.auth.authenticate(basic("anna", "secret"), peer("198.51.100.1"));
  assert.equal(elsewhere.kind, "throttled", "a new address is still capped: 429 without a check");
  const guesses = await setup.auth.authenticate(basic("anna", "guess-x"), home);
  assert.notEqual(guesses.kind, "ok", "the usual address still has its own per-address limit");
});

Deno.test("HtpasswdAuth: an unknown user is checked against the costliest hash, not the first", async () => {
  const bcrypt = hashPassword("anna-pw");
  await using setup = await authOn(
    `cheap:${SHA_SECRET}\napr:$apr1$abc$${"a".repeat(22)}\nanna:${bcrypt}\n`,
    {
      perAddress: 100,
    },
  );
  await setup.auth.authenticate(basic("ghost", "x"), peer("::1"));
  assert.deepEqual(setup.checked, [bcrypt]);
});

Deno.test("HtpasswdAuth: with {SHA} first and bcrypt next, unknown and cheap users take as long as bcrypt", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/.htpasswd`;
  await Deno.writeTextFile(file, `cheap:${SHA_SECRET}\nanna:${hashPassword("anna-pw")}\n`);
  using auth = await HtpasswdAuth.load({ file, log: memoryLogger() });
  const median = async (user: string): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const started = performance.now();
      assert.notEqual((await auth.authenticate(basic(user, `wrong-${i}`))).kind, "ok");
      times.push(performance.now() - started);
    }
    return times.sort((a, b) => a - b)[3];
  };
  await median("anna"); // the Worker starts, the stand-in's time is measured
  const [known, unknown, cheap] = [
    await median("anna"),
    await median("ghost"),
    await median("cheap"),
  ];
  for (const [name, ms] of [["unknown", unknown], ["{SHA} user", cheap]] as const) {
    assert.ok(
      ms > known * 0.6,
      `${name} ${ms.toFixed(1)} ms against a known bcrypt user's ${known.toFixed(1)} ms`,
    );
  }
});

Deno.test("HtpasswdAuth: a file rewritten in place (truncated, then written) keeps the last good users", async () => {
  await using setup = await authOn(`anna:${SHA_SECRET}\n`);
  await Deno.writeTextFile(setup.file, "");
  await setup.auth.reload("test");
  assert.equal(setup.auth.userCount, 1, "an empty file is a file being written");
  assert.equal((await setup.auth.authenticate(basic("anna", "secret"))).kind, "ok");
  await Deno.writeTextFile(setup.file, `anna:${SHA_SECRET}\nben:${SHA_SECRET}\n`);
  await setup.auth.reload("test");
  assert.equal(setup.auth.userCount, 2, "whole again");
});

Deno.test("HtpasswdAuth: a user removed by a reload is refused at once, cached or not", async () => {
  await using setup = await authOn(`anna:${SHA_SECRET}\nben:${SHA_SECRET}\n`);
  assert.equal((await setup.auth.authenticate(basic("anna", "secret"))).kind, "ok");
  await Deno.writeTextFile(setup.file, `ben:${SHA_SECRET}\n`);
  const reloading = setup.auth.reload("SIGHUP"); // a request comes in while it reads the file
  assert.notEqual((await setup.auth.authenticate(basic("anna", "secret"))).kind, "ok");
  await reloading;
  assert.equal((await setup.auth.authenticate(basic("ben", "secret"))).kind, "ok");
});

/** The app behind a proxy that names users in X-Forwarded-User. */
function proxied(options: { trusted: string[]; privateRepos?: boolean }) {
  const storage = new MemoryStorage();
  const inventory = new Inventory();
  return import("../../lib/auth/proxy_auth.ts").then(({ ProxyHeaderAuth }) => ({
    storage,
    app: appOn(withInventory(storage, inventory), {
      auth: new ProxyHeaderAuth("X-Forwarded-User"),
      trustedProxies: TrustedProxies.parse(options.trusted),
      privateRepos: options.privateRepos ?? false,
      metrics: new Metrics(inventory),
    }),
  }));
}

async function from(
  app: AppHandler,
  hostname: string,
  path: string,
  user: string,
): Promise<number> {
  const info = {
    remoteAddr: { transport: "tcp" as const, hostname, port: 40000 },
    completed: Promise.resolve(),
  };
  const response = await app(
    new Request(`http://x${path}`, { headers: { "x-forwarded-user": user } }),
    info,
  );
  await response.body?.cancel();
  return response.status;
}

Deno.test("--proxy-auth-username: the header counts only from a --trusted-proxy address", async () => {
  const { app, storage } = await proxied({ trusted: ["10.0.0.1"], privateRepos: true });
  await storage.createRepo(["bob"]);
  await storage.save({ repo: ["bob"], type: "config" }, new TextEncoder().encode("bob's"), {
    verifyHash: false,
    contentLength: 5,
  });
  assert.equal(await from(app, "10.0.0.1", "/bob/config", "bob"), 200, "from the proxy");
  assert.equal(await from(app, "127.0.0.1", "/bob/config", "bob"), 401, "from anybody else");
  assert.equal(await from(app, "10.0.0.1", "/metrics", "metrics"), 200);
  assert.equal(await from(app, "127.0.0.1", "/metrics", "metrics"), 401);
});

Deno.test("--proxy-auth-username without --trusted-proxy: refused at start, unless on a unix socket", () => {
  assert.throws(
    () => parseCommand(["serve", "--proxy-auth-username", "X-Forwarded-User"], {}),
    (err: Error) => err instanceof ConfigError && /add --trusted-proxy ADDR/.test(err.message),
  );
  const trusted = parseCommand([
    "serve",
    "--proxy-auth-username",
    "X-Forwarded-User",
    "--trusted-proxy",
    "10.0.0.1",
  ], {});
  assert.equal(trusted.kind, "serve");
  const unix = parseCommand([
    "serve",
    "--proxy-auth-username",
    "X-Forwarded-User",
    "--listen",
    "unix:/run/restic-rest.sock",
  ], {});
  assert.equal(unix.kind, "serve");
});

Deno.test("--no-auth --private-repos is refused at start", () => {
  assert.throws(
    () => parseCommand(["serve", "--no-auth", "--private-repos"], {}),
    (err: Error) =>
      err instanceof ConfigError && /--private-repos with --no-auth/.test(err.message),
  );
});

Deno.test("/metrics under --policy: a user sees what the status page shows them, the admin everything", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/.htpasswd`;
  await Deno.writeTextFile(
    file,
    ["alice", "bob", "admin"].map((u) => `${u}:${SHA_SECRET}`).join("\n"),
  );
  using auth = await HtpasswdAuth.load({ file, log: memoryLogger() });
  const storage = new MemoryStorage();
  const inventory = new Inventory();
  const app = appOn(withInventory(storage, inventory), {
    auth,
    metrics: new Metrics(inventory),
    policy: parsePolicy(
      JSON.stringify({
        users: {
          admin: { "/": "full", "/shared/": "full" },
          "*": { "/{user}/": "full", "/shared/": "read-only" },
        },
      }),
      "policy.json",
    ),
  });
  const as = (user: string) => ({ authorization: `Basic ${btoa(`${user}:secret`)}` });
  const blob = new TextEncoder().encode("x");
  for (const [user, repo] of [["alice", "alice"], ["bob", "bob"], ["admin", "shared"]]) {
    const headers = as(user);
    for (const path of [`/${repo}/?create=true`, `/${repo}/keys/${sha256(blob)}`]) {
      const response = await app(
        new Request(`http://x${path}`, { method: "POST", body: blob, headers }),
      );
      assert.equal(response.status, 200, `${user} ${path}`);
    }
    const read = await app(new Request(`http://x/${repo}/keys/${sha256(blob)}`, { headers }));
    assert.equal(read.status, 200);
    await read.body?.cancel();
  }
  const metrics = async (user: string) =>
    await (await app(new Request("http://x/metrics", { headers: as(user) }))).text();
  const alice = await metrics("alice");
  assert.match(alice, /restic_rest_repo_stored_bytes\{repo="alice"\} 1/);
  assert.match(alice, /restic_rest_repo_stored_bytes\{repo="shared"\} 1/);
  assert.doesNotMatch(alice, /bob/, "no trace of bob nor his repository");
  assert.doesNotMatch(alice, /user="admin"/, "no other user's counters");
  assert.doesNotMatch(alice, /restic_rest_stored_bytes /, "no server totals");
  assert.match(alice, /rest_server_blob_read_total\{repo="alice",type="keys",user="alice"\} 1/);
  const admin = await metrics("admin");
  for (const repo of ["alice", "bob", "shared"]) {
    assert.match(admin, new RegExp(`restic_rest_repo_stored_bytes\\{repo="${repo}"\\} 1`));
  }
  assert.match(admin, /user="bob"/);
  assert.match(admin, /restic_rest_stored_bytes 3/);
});

Deno.test("Metrics: blob counters keyed by client-chosen repositories stay bounded in bytes", () => {
  const metrics = new Metrics(new Inventory());
  for (let i = 0; i < 20_000; i++) {
    metrics.record("delete", "anna", ["x".repeat(200), `r${i}`], "data", 1);
  }
  const text = metrics.render();
  assert.ok(text.length < 2 << 20, `${text.length} bytes of metrics`);
  const overflow = new RegExp(
    `rest_server_blob_delete_total\\{repo="\\(other\\)",type="\\(other\\)",user="\\(other\\)"\\} (\\d+)`,
  ).exec(text);
  assert.ok(overflow && Number(overflow[1]) > 10_000, "the rest counted together");
  assert.equal(OVERFLOW_LABEL, "(other)");
});

Deno.test("log lines escape control characters: a client cannot forge a line for fail2ban", () => {
  const lines: string[] = [];
  const log = createLogger({ debug: true, write: (line) => lines.push(line) });
  log.warn('failed login for user "x\nfailed login for user "root" from 192.0.2.1\r\u2028"');
  log.debug("GET /a\tb 404");
  assert.equal(lines.length, 2);
  // deno-lint-ignore no-control-regex
  assert.ok(lines.every((line) => !/[\x00-\x1f\u2028]/.test(line)), JSON.stringify(lines));
  assert.equal(
    lines[0],
    'warning: failed login for user "x\\x0afailed login for user "root" from 192.0.2.1\\x0d\\u2028"',
  );
});

Deno.test("an s3: location with credentials in it is refused without echoing them", () => {
  for (
    const location of [
      "s3:https://AKIAEXAMPLE:hunter2secret@store.example/bucket",
      "s3:AKIAEXAMPLE:hunter2secret@store.example/bucket",
      "s3:https://AKIAEXAMPLE:hunter2secret@[bad/bucket",
    ]
  ) {
    assert.throws(
      () => parseS3Url(location),
      (err: Error) =>
        err instanceof ConfigError && !err.message.includes("hunter2secret") &&
        !err.message.includes("AKIAEXAMPLE") && /AWS_ACCESS_KEY_ID/.test(err.message),
      location,
    );
  }
});
