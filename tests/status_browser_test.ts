/**
 * The status page in a real browser (Debian's Chromium, headless, driven by
 * puppeteer-core) after real restic backups into three repositories, one of
 * them two days old by its snapshot objects' times. Reported as ignored
 * where Chromium is missing. `UPDATE_SCREENSHOT=1` writes the README's
 * screenshot (docs/status-page.png).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import {
  addUser,
  E2E,
  PROJECT_ROOT,
  pseudoRandomBytes,
  resticOk,
  startServerProcess,
  tempDir,
} from "./_helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_HERE = await Deno.stat(CHROMIUM).then(() => true, () => false);
const USERS = ["anna", "ben", "carl"];
const TWO_DAYS_AGO = new Date(Date.now() - 50 * 3_600_000);

/** What the files on disk say about a repository: bytes of its objects and config, snapshots. */
async function onDisk(repoDir: string): Promise<{ bytes: number; snapshots: number }> {
  let bytes = 0;
  let snapshots = 0;
  const visit = async (dir: string, type: string | null) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory && type === null && USERS.includes(entry.name)) continue;
      if (entry.isDirectory) await visit(path, type ?? entry.name);
      else if (entry.name === "config" || type !== null) {
        bytes += (await Deno.stat(path)).size;
        if (type === "snapshots") snapshots++;
      }
    }
  };
  await visit(repoDir, null);
  return { bytes, snapshots };
}

interface Seen {
  requests: string[];
  errors: string[];
}

/** A page in its own browser context: no credentials cached from another page. */
async function openPage(browser: Browser, width: number, seen: Seen): Promise<Page> {
  const page = await (await browser.createBrowserContext()).newPage();
  await page.setViewport({ width, height: 900 });
  page.on("request", (request) => seen.requests.push(request.url()));
  page.on("console", (message) => {
    if (message.type() === "error") seen.errors.push(message.text());
  });
  page.on("pageerror", (error) => seen.errors.push(String(error)));
  return page;
}

/** Each repository card as the browser shows it. */
function cards(page: Page): Promise<{ path: string; state: string; snapshots: string }[]> {
  return page.$$eval("section.repo", (sections) =>
    sections.map((section) => ({
      path: section.getAttribute("data-path") ?? "",
      state: section.className,
      snapshots: section.querySelector('[data-field="snapshots"]')?.textContent ?? "",
    })));
}

Deno.test({
  ...E2E,
  ignore: !CHROMIUM_HERE,
  name: "the status page in Chromium after real backups: sizes, snapshots, stale, private, login",
  async fn() {
    await using data = await tempDir();
    await using work = await tempDir();
    const source = join(work.path, "source");
    await Deno.mkdir(source);
    for (let i = 0; i < 8; i++) {
      await Deno.writeFile(join(source, `file-${i}`), pseudoRandomBytes(20_000 + i * 7000, i + 3));
    }
    for (const user of USERS) await addUser(data.path, user, `${user}-pw`);
    {
      await using setup = await startServerProcess([data.path]);
      for (const user of USERS) {
        const repo = `rest:http://${user}:${user}-pw@${setup.url.slice(7)}/${user}/`;
        await resticOk(repo, ["init"]);
        await resticOk(repo, ["backup", "--quiet", source]);
        if (user === "anna") await resticOk(repo, ["backup", "--quiet", source]);
      }
    }
    // carl's last backup was two days ago, as the snapshot objects' times say.
    for await (const entry of Deno.readDir(join(data.path, "carl", "snapshots"))) {
      await Deno.utime(
        join(data.path, "carl", "snapshots", entry.name),
        TWO_DAYS_AGO,
        TWO_DAYS_AGO,
      );
    }
    const expected: Record<string, { bytes: number; snapshots: number }> = Object.fromEntries(
      await Promise.all(USERS.map(async (u) => [`/${u}/`, await onDisk(join(data.path, u))])),
    );

    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox"],
    });
    try {
      // Every user sees every repository (no --private-repos).
      {
        await using server = await startServerProcess([data.path]);
        const seen: Seen = { requests: [], errors: [] };
        for (const width of [1280, 390]) {
          const page = await openPage(browser, width, seen);
          await page.authenticate({ username: "anna", password: "anna-pw" });
          const response = await page.goto(`${server.url}/`, { waitUntil: "load" });
          assert.equal(response?.status(), 200);
          const shown = await cards(page);
          assert.deepEqual(shown.map((c) => c.path), ["/anna/", "/ben/", "/carl/"]);
          for (const card of shown) {
            assert.equal(Number(card.snapshots), expected[card.path].snapshots, card.path);
          }
          assert.deepEqual(shown.map((c) => c.state.includes("stale")), [false, false, true]);
          assert.match(
            await page.$eval('[data-path="/carl/"] [data-field="newest"]', (e) => e.textContent),
            /2 days ago/,
          );
          const overflow = await page.evaluate(
            "document.documentElement.scrollWidth - window.innerWidth",
          ) as number;
          assert.ok(overflow <= 0, `nothing wider than ${width} px (${overflow} px more)`);
          if (width === 1280) {
            const screenshot = await page.screenshot({ fullPage: true, type: "png" });
            assert.deepEqual([...screenshot.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
            if (Deno.env.get("UPDATE_SCREENSHOT") === "1") {
              await Deno.writeFile(join(PROJECT_ROOT, "docs", "status-page.png"), screenshot);
            }
          }
          await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
          const background = await page.evaluate(
            "getComputedStyle(document.body).backgroundColor",
          ) as string;
          const [r, g, b] = background.match(/\d+/g)!.map(Number);
          assert.ok(r + g + b < 150, `dark mode is dark (${background})`);
          await page.browserContext().close();
        }
        const origin = new URL(server.url).origin;
        assert.ok(seen.requests.length >= 2);
        assert.deepEqual(seen.requests.filter((url) => !url.startsWith(origin)), []);
        assert.deepEqual(seen.errors, [], "no console error");

        // The JSON form gives the numbers the files on disk give.
        const json = await fetch(`${server.url}/`, {
          headers: { accept: "application/json", authorization: `Basic ${btoa("ben:ben-pw")}` },
        }).then((r) => r.json());
        for (const repo of json.repositories) {
          assert.equal(repo.storedBytes, expected[repo.path].bytes, repo.path);
          assert.equal(repo.snapshots, expected[repo.path].snapshots, repo.path);
        }
        assert.deepEqual(json.repositories.map((r: { stale: boolean }) => r.stale), [
          false,
          false,
          true,
        ]);
        assert.equal(
          json.server.storedBytes,
          Object.values(expected).reduce((sum, e) => sum + e.bytes, 0),
        );
      }
      // With --private-repos a user sees only their own; a wrong password is asked again.
      {
        await using server = await startServerProcess([data.path, "--private-repos"]);
        const seen: Seen = { requests: [], errors: [] };
        const page = await openPage(browser, 390, seen);
        await page.authenticate({ username: "ben", password: "ben-pw" });
        await page.goto(`${server.url}/`);
        assert.deepEqual((await cards(page)).map((c) => c.path), ["/ben/"]);
        const html = await page.content();
        assert.doesNotMatch(html, /anna|carl/);
        await page.browserContext().close();

        const wrong = await openPage(browser, 390, seen);
        await wrong.authenticate({ username: "ben", password: "not-it" });
        const refused = await wrong.goto(`${server.url}/`);
        assert.equal(refused?.status(), 401);
        assert.match(refused?.headers()["www-authenticate"] ?? "", /^Basic realm=/);
        await wrong.browserContext().close();
      }
    } finally {
      await browser.close();
    }
  },
});
