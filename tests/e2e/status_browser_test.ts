/**
 * The status page in a real browser (Debian's Chromium, headless, driven by
 * puppeteer-core in `tests/browser/drive.ts`, a process with its own import
 * map) after real restic backups into three repositories, one of them two
 * days old by its snapshot objects' times. Reported as ignored where
 * Chromium is missing. `UPDATE_SCREENSHOT=1` writes the screenshots the
 * README and docs show (docs/status-page.png at 1280 px, docs/status-page-360.png).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Seen, Visit } from "../browser/plan.ts";
import { PROJECT_ROOT, pseudoRandomBytes, tempDir } from "../helpers/files.ts";
import { addUser, E2E, startServerProcess } from "../helpers/process.ts";
import { resticOk } from "../helpers/restic.ts";
import { formatBytes } from "../../lib/base/units.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_HERE = await Deno.stat(CHROMIUM).then(() => true, () => false);
const USERS = ["anna", "ben", "carl"];
/** A desktop window and the narrowest common phone. */
const WIDTHS = [1280, 360];
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

/** Runs the browser over a plan of visits and returns what it saw on each. */
async function drive(plan: Visit[], work: string): Promise<Seen[]> {
  const file = join(work, `plan-${crypto.randomUUID()}.json`);
  await Deno.writeTextFile(file, JSON.stringify(plan));
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      join(PROJECT_ROOT, "tests", "browser", "deno.json"),
      join(PROJECT_ROOT, "tests", "browser", "drive.ts"),
      file,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.ok(output.success, decoder.decode(output.stderr));
  return JSON.parse(decoder.decode(output.stdout));
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

    // Every user sees every repository (no --private-repos).
    {
      await using server = await startServerProcess([data.path, "--max-size", "50M"]);
      const seen = await drive(
        WIDTHS.map((width) => ({
          url: `${server.url}/`,
          user: "anna",
          password: "anna-pw",
          width,
          screenshot: join(work.path, `status-${width}.png`),
        })),
        work.path,
      );
      for (const [index, width] of WIDTHS.entries()) {
        const page = seen[index];
        assert.equal(page.status, 200);
        assert.deepEqual(page.cards.map((c) => c.path), ["/anna/", "/ben/", "/carl/"]);
        for (const card of page.cards) {
          assert.equal(Number(card.snapshots), expected[card.path].snapshots, card.path);
        }
        assert.deepEqual(page.cards.map((c) => c.state.includes("stale")), [false, false, true]);
        assert.match(page.cards[2].newest, /2 days ago/);
        assert.ok(page.overflow <= 0, `nothing wider than ${width} px (${page.overflow} px more)`);
        assert.deepEqual(page.layout, { broken: [], overlapping: 0 }, `${width} px: one line each`);
        assert.match(page.html, />1 needs attention</);
        assert.match(page.html, /1 key, 0 locks, 2 snapshots</, "anna's two backups");
        assert.match(page.html, /1 key, 0 locks, 1 snapshot</, "ben's one");
        const [r, g, b] = page.background.dark.match(/\d+/g)!.map(Number);
        assert.ok(r + g + b < 150, `dark mode is dark (${page.background.dark})`);
        const origin = new URL(server.url).origin;
        assert.ok(page.requests.length >= 1);
        assert.deepEqual(page.requests.filter((url) => !url.startsWith(origin)), []);
        assert.deepEqual(page.errors, [], "no console error");
      }
      for (const width of WIDTHS) {
        const png = await Deno.readFile(join(work.path, `status-${width}.png`));
        assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
        assert.equal(new DataView(png.buffer).getUint32(16), width, "as wide as the window");
        if (Deno.env.get("UPDATE_SCREENSHOT") === "1") {
          const name = width === 1280 ? "status-page.png" : `status-page-${width}.png`;
          await Deno.writeFile(join(PROJECT_ROOT, "docs", name), png);
        }
      }

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
    // Under a policy's limit, a repository's page shows its own size against that limit.
    {
      const policy = join(work.path, "policy.json");
      await Deno.writeTextFile(
        policy,
        JSON.stringify({
          users: { "*": { "/{user}/": "full" } },
          repositories: { "/*/": { maxSize: "10M" } },
        }),
      );
      await using server = await startServerProcess([data.path, "--policy", policy]);
      const seen = await drive(
        WIDTHS.map((width) => ({
          url: `${server.url}/anna/`,
          user: "anna",
          password: "anna-pw",
          width,
        })),
        work.path,
      );
      for (const [index, page] of seen.entries()) {
        assert.equal(page.status, 200);
        assert.deepEqual(page.cards.map((c) => c.path), ["/anna/"]);
        const own = formatBytes(expected["/anna/"].bytes);
        assert.equal(page.cards[0].limit, `${own} of 10.0 MiB`);
        assert.match(page.html, new RegExp(`data-field="scope-stored">${own}<`));
        assert.doesNotMatch(page.html, /--max-size|ben|carl/);
        assert.ok(page.overflow <= 0, `${WIDTHS[index]} px fits`);
        assert.deepEqual(page.layout, { broken: [], overlapping: 0 });
      }
    }
    // With --private-repos a user sees only their own; a wrong password is asked again.
    {
      await using server = await startServerProcess([data.path, "--private-repos"]);
      const [own, wrong] = await drive([
        { url: `${server.url}/`, user: "ben", password: "ben-pw", width: 360 },
        { url: `${server.url}/`, user: "ben", password: "not-it", width: 360 },
      ], work.path);
      assert.deepEqual(own.cards.map((c) => c.path), ["/ben/"]);
      assert.doesNotMatch(own.html, /anna|carl/);
      assert.equal(wrong.status, 401);
      assert.match(wrong.wwwAuthenticate ?? "", /^Basic realm=/);
    }
  },
});
