/** Client addresses behind proxies, the login throttle, the password-checking Workers. */

import assert from "node:assert/strict";
import { clientAddress, throttleKey, TrustedProxies } from "../../lib/auth/client_address.ts";
import { hashPassword } from "../../lib/auth/htpasswd.ts";
import { type LoginAttempt, LoginThrottle, type Refusal } from "../../lib/auth/throttle.ts";
import { VerifierBusy, VerifierPool } from "../../lib/auth/verify_pool.ts";
import { ConfigError } from "../../lib/base/errors.ts";
import { memoryLogger } from "../helpers/app.ts";

Deno.test("X-Forwarded-For counts only from a named proxy, nearest untrusted hop first", () => {
  const proxies = TrustedProxies.parse(["10.0.0.5", "192.168.0.0/16", "fd00::/8"]);
  assert.equal(clientAddress("10.0.0.5", "203.0.113.7", proxies), "203.0.113.7");
  assert.equal(clientAddress("10.0.0.5", "1.1.1.1, 203.0.113.7", proxies), "203.0.113.7");
  assert.equal(clientAddress("10.0.0.5", "203.0.113.7, 192.168.4.4", proxies), "203.0.113.7");
  assert.equal(clientAddress("fd00::1", "2001:db8::9", proxies), "2001:db8::9");
  assert.equal(clientAddress("10.0.0.6", "203.0.113.7", proxies), "10.0.0.6", "not a proxy");
  assert.equal(clientAddress("10.0.0.5", null, proxies), "10.0.0.5");
  assert.equal(clientAddress("10.0.0.5", "not-an-address", proxies), "10.0.0.5");
  assert.equal(clientAddress("127.0.0.1", "203.0.113.7", null), "127.0.0.1", "no proxy named");
  assert.equal(clientAddress("::ffff:10.0.0.5", "203.0.113.8", proxies), "203.0.113.8");
  for (const bad of ["10.0.0", "10.0.0.0/33", "fd00::/129", "example.com", "1.2.3.4/8/9"]) {
    assert.throws(() => TrustedProxies.parse([bad]), ConfigError, bad);
  }
});

Deno.test("throttleKey() keeps IPv4 addresses and groups IPv6 by /64", () => {
  assert.equal(throttleKey("203.0.113.7"), "203.0.113.7");
  assert.equal(throttleKey("2001:db8:1:2:aaaa::1"), throttleKey("2001:db8:1:2:bbbb::2"));
  assert.notEqual(throttleKey("2001:db8:1:2::1"), throttleKey("2001:db8:1:3::1"));
});

/** Starts an attempt that the throttle must allow. */
function allowed(throttle: LoginThrottle, address: string, user: string): LoginAttempt {
  const attempt = throttle.start(address, user, true);
  assert.ok(!("why" in attempt), `${address} ${user} allowed`);
  return attempt as LoginAttempt;
}

/** The refusal of an attempt, or `null` when it was allowed (and is then abandoned). */
function refusal(throttle: LoginThrottle, address: string, user: string): Refusal | null {
  const attempt = throttle.start(address, user, true);
  if ("why" in attempt) return attempt;
  attempt.abandoned();
  return null;
}

Deno.test("the throttle refuses an address past its limit until the window ends, once logged", () => {
  let now = 1_000_000;
  const log = memoryLogger();
  const throttle = new LoginThrottle(
    { perAddress: 3, perUser: 100, windowMs: 60_000 },
    log,
    () => now,
  );
  for (let i = 0; i < 3; i++) allowed(throttle, "203.0.113.7", "anna").failed();
  const refused = refusal(throttle, "203.0.113.7", "anna");
  assert.equal(refused?.retryAfterSeconds, 60);
  assert.equal(refusal(throttle, "198.51.100.1", "anna"), null, "another address goes on");
  now += 30_000;
  assert.equal(refusal(throttle, "203.0.113.7", "ben")?.retryAfterSeconds, 30);
  assert.equal(throttle.throttledRequests, 2);
  assert.equal(throttle.failedLogins, 3);
  const lines = log.lines.filter((l) => l.includes("login throttled"));
  assert.equal(lines.length, 1, "logged once per window");
  assert.match(
    lines[0],
    /3 failed logins from 203\.0\.113\.7 within 60s \(last user tried "anna"\)/,
  );
  now += 30_000;
  assert.equal(refusal(throttle, "203.0.113.7", "anna"), null, "the window has passed");
});

Deno.test("a successful login clears its address; the per-user limit spans addresses", () => {
  const throttle = new LoginThrottle(
    { perAddress: 3, perUser: 4, windowMs: 60_000 },
    memoryLogger(),
  );
  allowed(throttle, "203.0.113.7", "anna").failed();
  allowed(throttle, "203.0.113.7", "anna").failed();
  allowed(throttle, "203.0.113.7", "anna").succeeded();
  allowed(throttle, "203.0.113.7", "anna").failed();
  assert.equal(refusal(throttle, "203.0.113.7", "carl"), null, "1 since the success, not 3");
  for (const address of ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"]) {
    allowed(throttle, address, "ben").failed();
  }
  assert.match(refusal(throttle, "198.51.100.9", "ben")!.why, /for user "ben"/);
});

Deno.test("checks under way count against the limit: a burst gets no more checks than a trickle", () => {
  const throttle = new LoginThrottle(
    { perAddress: 3, perUser: 100, windowMs: 60_000 },
    memoryLogger(),
  );
  const burst = Array.from({ length: 16 }, () => throttle.start("203.0.113.7", "anna", true));
  const running = burst.filter((a): a is LoginAttempt => !("why" in a));
  assert.equal(running.length, 3, "16 at once, 3 checked");
  running[0].abandoned();
  assert.equal(
    refusal(throttle, "203.0.113.7", "anna"),
    null,
    "an abandoned check frees its place",
  );
  for (const attempt of running.slice(1)) attempt.failed();
  assert.equal(throttle.failedLogins, 2);
});

Deno.test("the Worker pool checks passwords off the main thread, refuses when too many wait", async () => {
  const hash = hashPassword("right");
  const pool = new VerifierPool({ size: 1, maxWaiting: 2 });
  try {
    assert.equal(await pool.verify("right", hash), true);
    assert.equal(await pool.verify("wrong", hash), false);
    assert.equal(pool.workers, 1);
    // While a check runs on the Worker, this thread stays free: timers fire.
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    const checks = [pool.verify("a", hash), pool.verify("b", hash), pool.verify("c", hash)];
    await assert.rejects(pool.verify("d", hash), VerifierBusy);
    assert.deepEqual(await Promise.all(checks), [false, false, false]);
    clearInterval(ticker);
    assert.ok(ticks >= 20, `the event loop ran during bcrypt (${ticks} ticks)`);
    assert.equal(pool.checks, 5);
  } finally {
    pool.close();
  }
});
