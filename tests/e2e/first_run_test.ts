/**
 * A newcomer's first run: with an empty Deno cache, `deno task serve --help`
 * downloads only the packages the program itself needs (the test tooling
 * stays out of its graph and its lockfile).
 */
import assert from "node:assert/strict";
import { PROJECT_ROOT, tempDir } from "../helpers/files.ts";
import { E2E } from "../helpers/process.ts";

/** Bytes below a folder. */
async function sizeOf(folder: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(folder)) {
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory) total += await sizeOf(path);
    else if (entry.isFile) total += (await Deno.stat(path)).size;
  }
  return total;
}

Deno.test({
  ...E2E,
  name: "a fresh Deno cache: deno task serve --help downloads at most 2 MB of npm packages",
  async fn() {
    await using cache = await tempDir();
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["task", "serve", "--help"],
      cwd: PROJECT_ROOT,
      env: { DENO_DIR: cache.path, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    assert.match(text, /^restic-rest \S+: a server for restic's REST backend/);
    const npm = `${cache.path}/npm/registry.npmjs.org`;
    const packages = [...Deno.readDirSync(npm)].map((e) => e.name).sort();
    const bytes = await sizeOf(npm);
    const summary = `${packages.length} packages, ${(bytes / 1e6).toFixed(2)} MB: ${packages}`;
    assert.ok(bytes <= 2e6, summary);
    for (const tooling of ["puppeteer-core", "typescript"]) {
      assert.ok(!packages.includes(tooling), `${tooling} is test tooling: ${summary}`);
    }
  },
});
