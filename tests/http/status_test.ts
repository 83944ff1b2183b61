/** The status page through the app: negotiation, visibility, escaping, staleness, JSON. */

import assert from "node:assert/strict";
import { appOn, call, testApp } from "../helpers/app.ts";
import { sha256 } from "../helpers/files.ts";
import { MemoryStorage } from "../helpers/memory_storage.ts";
import { Inventory } from "../../lib/storage/inventory.ts";
import { statusFormat, StatusPage } from "../../lib/status/page.ts";
import { escapeHtml, formatAge, renderStatusPage } from "../../lib/status/html.ts";
import type { AccessPolicy } from "../../lib/access/access.ts";
import { type Authenticator, refused } from "../../lib/auth/types.ts";

const HOUR = 3_600_000;
const NOW = Date.parse("2026-12-01T12:00:00Z");

/** Users by name; the password is the name reversed. */
function fakeAuth(...users: string[]): Authenticator {
  return {
    description: "test users",
    authenticate(request: Request) {
      const header = request.headers.get("authorization");
      if (!header) return Promise.resolve(refused("no credentials"));
      const [user, password] = atob(header.replace(/^Basic /, "")).split(":");
      if (users.includes(user) && password === [...user].reverse().join("")) {
        return Promise.resolve({ kind: "ok", user });
      }
      return Promise.resolve({ kind: "refused", user, reason: "wrong password", checked: true });
    },
  };
}

function login(user: string): Record<string, string> {
  return { authorization: `Basic ${btoa(`${user}:${[...user].reverse().join("")}`)}` };
}

const HTML = { accept: "text/html,application/xhtml+xml" };
const JSON_ACCEPT = { accept: "application/json" };

function fill(inventory: Inventory, repo: string[], snapshotAgesHours: number[]): void {
  inventory.added({ repo, type: "config" } as never, 155, NOW - 100 * HOUR);
  inventory.added({ repo, type: "keys", name: sha256(`${repo}k`) }, 460, NOW - 100 * HOUR);
  inventory.added({ repo, type: "data", name: sha256(`${repo}d`) }, 4000, NOW - 100 * HOUR);
  snapshotAgesHours.forEach((age, i) =>
    inventory.added(
      { repo, type: "snapshots", name: sha256(`${repo}s${i}`) },
      300,
      NOW - age * HOUR,
    )
  );
  inventory.markComplete();
}

function page(inventory: Inventory): StatusPage {
  return new StatusPage({
    inventory,
    health: () => Promise.resolve({ ok: true, detail: "", freeBytes: 5 * 1024 ** 3 }),
    version: "9.9.9",
    startedMs: NOW - 26 * HOUR,
    staleAfterSeconds: 48 * 3600,
    maxSizeBytes: 10_000,
    now: () => NOW,
  });
}

Deno.test("statusFormat() serves browsers and scripts that ask, never restic", () => {
  const ask = (accept: string | null, method = "GET") =>
    statusFormat(
      new Request("http://x/", { method, headers: accept === null ? {} : { accept } }),
    );
  assert.equal(ask("text/html,application/xhtml+xml,*/*;q=0.8"), "html");
  assert.equal(ask("application/json"), "json");
  assert.equal(ask(null), null);
  assert.equal(ask("*/*"), null);
  assert.equal(ask("application/vnd.x.restic.rest.v2"), null);
  assert.equal(ask("text/html", "POST"), null);
});

Deno.test("formatAge() and escapeHtml() read as people expect", () => {
  assert.equal(formatAge(NOW - 3 * HOUR - 5, NOW), "3 hours ago");
  assert.equal(formatAge(NOW - HOUR, NOW), "1 hour ago");
  assert.equal(formatAge(NOW - 50 * HOUR, NOW), "2 days ago");
  assert.equal(formatAge(NOW - 30_000, NOW), "just now");
  assert.equal(
    escapeHtml(`<a href="x">'&'</a>`),
    "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
  );
});

Deno.test("the report: sizes, counts, newest snapshot, staleness and the 30-day timeline", async () => {
  const inventory = new Inventory();
  fill(inventory, ["fresh"], [3, 27]);
  fill(inventory, ["old"], [50]);
  fill(inventory, ["never"], []);
  const report = await page(inventory).report({ mayRead: () => true, seesEverything: true }, []);
  assert.deepEqual(report.repositories.map((r) => [r.path, r.snapshots, r.stale]), [
    ["/fresh/", 2, false],
    ["/never/", 0, true],
    ["/old/", 1, true],
  ]);
  const fresh = report.repositories[0];
  assert.equal(fresh.storedBytes, 155 + 460 + 4000 + 2 * 300);
  assert.deepEqual(fresh.objects, { data: 1, index: 0, keys: 1, locks: 0, snapshots: 2 });
  assert.equal(fresh.newestSnapshot, new Date(NOW - 3 * HOUR).toISOString());
  assert.equal(fresh.timeline.length, 30);
  assert.equal(fresh.timeline.at(-1)!.day, "2026-12-01");
  assert.deepEqual(fresh.timeline.filter((d) => d.snapshots > 0).map((d) => d.day), [
    "2026-11-30",
    "2026-12-01",
  ]);
  assert.equal(report.repositories[1].newestSnapshot, null);
  assert.equal(report.server.storedBytes, inventory.bytesUnder([]));
  assert.equal(report.server.freeBytes, 5 * 1024 ** 3);
  assert.equal(report.server.uptimeSeconds, 26 * 3600);
});

Deno.test("the HTML escapes every name, marks stale and never-backed-up repositories", async () => {
  const inventory = new Inventory();
  fill(inventory, ["old"], [50]);
  fill(inventory, ["never"], []);
  const report = await page(inventory).report({ mayRead: () => true, seesEverything: true }, []);
  report.repositories[0].path = `/<script>alert(1)</script>/`;
  const html = renderStatusPage(report, "/");
  assert.ok(!html.includes("<script"), "no script element, the name is escaped");
  assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  assert.match(html, /class="card repo never"/);
  assert.match(html, /class="card repo stale"/);
  assert.match(html, /2 days ago/);
  assert.match(html, /aria-label="[\d.]+% of the budget"/, "the --max-size budget as a bar");
  assert.match(html, /Free on the disk<\/div><div class="figure">5\.00 GiB/);
  assert.match(html, /Up for<\/div><div class="figure">1 d 2 h/);
});

Deno.test("words: one key, one snapshot, one needs attention; two of each in the plural", async () => {
  const render = async (snapshots: number[], repos: string[]) => {
    const inventory = new Inventory();
    for (const repo of repos) fill(inventory, [repo], snapshots);
    const report = await page(inventory).report({ mayRead: () => true, seesEverything: true }, []);
    return renderStatusPage(report, "/");
  };
  const one = await render([50], ["a"]);
  assert.match(one, /1 data file, 0 index files, 1 key, 0 locks, 1 snapshot</);
  assert.match(one, />1 needs attention</);
  assert.match(one, /<title>2026-11-29: 1 snapshot<\/title>/);
  assert.doesNotMatch(one, /\b1 (keys|snapshots|data files|need) /);
  const two = await render([50, 51], ["a", "b"]);
  assert.match(two, /2 snapshots</);
  assert.match(two, />2 need attention</);
  assert.match(two, /<span class="flag">\(--max-size\)<\/span>/, "the flag never breaks");
});

Deno.test("the timeline names every seventh day under its own cell, and today", async () => {
  const inventory = new Inventory();
  fill(inventory, ["a"], [1]);
  const report = await page(inventory).report({ mayRead: () => true, seesEverything: true }, []);
  const html = renderStatusPage(report, "/");
  const axis = html.match(/<div class="axis"[^>]*>(.*?)<\/div>/)![1];
  const spans = [...axis.matchAll(/<span[^>]*>([^<]*)<\/span>/g)].map((m) => m[1]);
  assert.equal(spans.length, 30, "one span per day");
  assert.deepEqual(spans.filter((label) => label !== ""), [
    "Nov 2",
    "Nov 9",
    "Nov 16",
    "Nov 23",
    "today",
  ]);
  assert.equal(spans.indexOf("Nov 23"), 21);
  assert.match(html, /viewBox="0 0 300 18"/, "cells and spans share one width");
});

Deno.test("a repository's page shows its own size against its own limit, never the server's", async () => {
  const inventory = new Inventory();
  fill(inventory, ["office", "anna"], [1]);
  fill(inventory, ["office", "ben"], [1]);
  fill(inventory, ["big"], [1]);
  inventory.added({ repo: ["big"], type: "data", name: sha256("big") }, 40_000, NOW);
  const limits = new StatusPage({
    inventory,
    health: () => Promise.resolve({ ok: true, detail: "" }),
    version: "1",
    startedMs: NOW,
    staleAfterSeconds: 3600,
    maxSizeBytes: 1_000_000,
    now: () => NOW,
    // /office/* 50 KiB each, and /office/ 1 MiB in all.
    limitsFor: (repo) =>
      repo[0] === "office"
        ? [{ scope: repo, maxBytes: 51_200 }, { scope: ["office"], maxBytes: 1 << 20 }]
        : [],
  });
  const everything = { mayRead: () => true, seesEverything: true };
  const anna = await limits.report(everything, ["office", "anna"]);
  const own = anna.repositories[0];
  assert.deepEqual(own.limit, {
    scope: "/office/anna/",
    maxBytes: 51_200,
    usedBytes: own.storedBytes,
  });
  const html = renderStatusPage(anna, "/office/anna/");
  assert.match(
    html,
    /Stored in \/office\/anna\/<\/div><div class="figure" data-field="scope-stored">4\.80 KiB</,
  );
  assert.match(html, /of 50\.0 KiB <span class="flag">\(size limit\)/);
  assert.match(html, /data-field="limit">4\.80 KiB of 50\.0 KiB</);
  assert.doesNotMatch(html, /--max-size|server-stored|977 KiB/, "not the server's budget");
  assert.equal((await limits.report(everything, ["big"])).repositories[0].limit, null);

  // A limit shared with repositories the viewer cannot see shows no total.
  const onlyAnna = { mayRead: (repo: string[]) => repo[1] === "anna", seesEverything: false };
  const shared = new StatusPage({
    inventory,
    health: () => Promise.resolve({ ok: true, detail: "" }),
    version: "1",
    startedMs: NOW,
    staleAfterSeconds: 3600,
    maxSizeBytes: null,
    now: () => NOW,
    limitsFor: () => [{ scope: ["office"], maxBytes: 20_000 }],
  });
  const hidden = (await shared.report(onlyAnna, [])).repositories[0].limit;
  assert.deepEqual(hidden, { scope: "/office/", maxBytes: 20_000, usedBytes: null });
  const text = renderStatusPage(await shared.report(onlyAnna, []), "/");
  assert.match(text, /data-field="limit">19\.5 KiB under \/office\/</);
});

Deno.test("GET / with Accept: text/html is the page; without it, the protocol's answer", async () => {
  await using t = await testApp({ status: page(new Inventory()) });
  const browser = await call(t.app, "GET", "/", { headers: HTML });
  assert.equal(browser.status, 200);
  assert.match(browser.headers.get("content-type")!, /^text\/html/);
  const csp = browser.headers.get("content-security-policy")!;
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /style-src 'sha256-/);
  assert.doesNotMatch(csp, /unsafe/);
  assert.doesNotMatch(browser.text, /<script|https?:\/\//, "no script, nothing from elsewhere");
  assert.equal((await call(t.app, "GET", "/")).status, 405, "restic's view: unchanged");
  assert.equal((await call(t.app, "HEAD", "/", { headers: HTML })).text, "");
  await using off = await testApp({ status: null });
  assert.equal((await call(off.app, "GET", "/", { headers: HTML })).status, 405);
});

Deno.test("a repository's URL shows that repository and those below it; a missing one is 404", async () => {
  const inventory = new Inventory();
  fill(inventory, ["office", "anna"], [1]);
  fill(inventory, ["office", "anna", "phone"], [1]);
  fill(inventory, ["office", "ben"], [1]);
  await using t = await testApp({ status: page(inventory) });
  const json = await call(t.app, "GET", "/office/anna/", { headers: JSON_ACCEPT });
  assert.equal(json.status, 200);
  assert.deepEqual(JSON.parse(json.text).repositories.map((r: { path: string }) => r.path), [
    "/office/anna/",
    "/office/anna/phone/",
  ]);
  assert.equal((await call(t.app, "GET", "/office/carl/", { headers: HTML })).status, 404);
});

Deno.test("with --private-repos each user sees only their own: no names, no count, no totals", async () => {
  const inventory = new Inventory();
  fill(inventory, ["anna"], [1]);
  fill(inventory, ["anna", "laptop"], [1]);
  fill(inventory, ["ben"], [1]);
  fill(inventory, ["secret-project"], [1]);
  await using t = await testApp({
    status: page(inventory),
    auth: fakeAuth("anna", "ben"),
    privateRepos: true,
  });
  const asAnna = await call(t.app, "GET", "/", { headers: { ...JSON_ACCEPT, ...login("anna") } });
  const report = JSON.parse(asAnna.text);
  assert.deepEqual(report.repositories.map((r: { path: string }) => r.path), [
    "/anna/",
    "/anna/laptop/",
  ]);
  assert.equal(report.server.storedBytes, null, "the server's total would tell about others");
  const html = await call(t.app, "GET", "/", { headers: { ...HTML, ...login("anna") } });
  assert.doesNotMatch(html.text, /ben|secret-project/);
  assert.match(html.text, /Repositories<\/div><div class="figure">2</);
  const annaAtBen = await call(t.app, "GET", "/ben/", { headers: { ...HTML, ...login("anna") } });
  assert.equal(annaAtBen.status, 401);
  const anonymous = await call(t.app, "GET", "/", { headers: HTML });
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get("www-authenticate")!, /^Basic realm=/);
  const wrong = await call(t.app, "GET", "/", {
    headers: { ...HTML, authorization: `Basic ${btoa("anna:guess")}` },
  });
  assert.equal(wrong.status, 401, "a wrong password gets the login prompt again");
  assert.match(wrong.headers.get("www-authenticate")!, /^Basic realm=/);
});

Deno.test("a policy shows each user the repositories it lets them read", async () => {
  const inventory = new Inventory();
  fill(inventory, ["shared"], [1]);
  fill(inventory, ["hidden"], [1]);
  const policy: AccessPolicy = {
    modeFor: (user, repo) => repo[0] === "shared" ? "read-only" : user === "admin" ? "full" : null,
  };
  await using t = await testApp({
    status: page(inventory),
    auth: fakeAuth("anna", "admin"),
    policy,
  });
  const paths = async (user: string) =>
    JSON.parse(
      (await call(t.app, "GET", "/", { headers: { ...JSON_ACCEPT, ...login(user) } })).text,
    )
      .repositories.map((r: { path: string }) => r.path);
  assert.deepEqual(await paths("anna"), ["/shared/"]);
  assert.deepEqual(await paths("admin"), ["/hidden/", "/shared/"]);
});

Deno.test("opening the page asks the storage nothing but its cached health", async () => {
  const inventory = new Inventory();
  fill(inventory, ["a"], [1]);
  const calls: string[] = [];
  const storage = new Proxy(new MemoryStorage(), {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(name));
        return value.apply(target, args);
      };
    },
  });
  const status = new StatusPage({
    inventory,
    health: () => storage.health(),
    version: "1",
    startedMs: NOW,
    staleAfterSeconds: 3600,
    maxSizeBytes: null,
  });
  const app = appOn(storage, { status });
  for (const path of ["/", "/a/"]) {
    for (const headers of [HTML, JSON_ACCEPT]) {
      assert.equal((await call(app, "GET", path, { headers })).status, 200);
    }
  }
  assert.deepEqual([...new Set(calls)], ["health"]);
});
