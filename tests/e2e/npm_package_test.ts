/**
 * The npm package as a user with only Node gets it: `npm pack` of this
 * checkout, installed with `npm install -g` into a fresh prefix, with a
 * clean HOME and a PATH that holds no `deno`; then `restic-rest` adds a
 * user, serves, takes a real restic backup, and stops on SIGTERM.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT, pseudoRandomBytes, tempDir } from "../helpers/files.ts";
import { E2E, runCommand } from "../helpers/process.ts";
import { resticOk } from "../helpers/restic.ts";

/** A setting of this machine's npm, to carry over (a CA the registry is reached through). */
async function npmConfig(key: string): Promise<string | null> {
  const out = await runCommand("npm", ["config", "get", key]);
  const value = out.stdout.trim();
  return out.code === 0 && value && value !== "null" && value !== "undefined" ? value : null;
}

/** A folder of links to the only commands the install may use: node, npm, sh. */
async function bareBin(dir: string): Promise<string> {
  await Deno.mkdir(dir);
  for (const command of ["node", "npm", "sh"]) {
    const found = (await runCommand("sh", ["-c", `command -v ${command}`])).stdout.trim();
    assert.ok(found, `${command} is needed`);
    await Deno.symlink(await Deno.realPath(found), join(dir, command));
  }
  return dir;
}

Deno.test({
  ...E2E,
  name:
    "npm install -g of the packed tarball gives a restic-rest that serves restic, no deno on PATH",
  async fn() {
    await using work = await tempDir();
    const packed = await runCommand("npm", [
      "pack",
      PROJECT_ROOT,
      "--pack-destination",
      work.path,
      "--silent",
    ]);
    assert.equal(packed.code, 0, packed.stderr);
    const tarball = join(work.path, packed.stdout.trim().split("\n").pop()!);
    const listing = await runCommand("tar", ["tzf", tarball]);
    const tops = new Set(listing.stdout.split("\n").filter(Boolean).map((f) => f.split("/")[1]));
    assert.deepEqual([...tops].sort(), [
      "CHANGELOG.md",
      "LICENSE",
      "README.md",
      "bin",
      "deno.json",
      "lib",
      "main.ts",
      "package.json",
    ], "only the program's files");

    const env: Record<string, string> = {
      HOME: join(work.path, "home"),
      PATH: await bareBin(join(work.path, "bin")),
    };
    for (const key of ["cafile", "registry"]) {
      const value = await npmConfig(key);
      if (value) env[`npm_config_${key}`] = value;
    }
    await Deno.mkdir(env.HOME);
    assert.notEqual((await runCommand("sh", ["-c", "command -v deno"], "", env, true)).code, 0);
    const prefix = join(work.path, "prefix");
    const installed = await runCommand(
      "npm",
      [
        "install",
        "-g",
        "--prefix",
        prefix,
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
        tarball,
      ],
      "",
      env,
      true,
    );
    assert.equal(installed.code, 0, installed.stderr);
    const command = join(prefix, "bin", "restic-rest");

    const version = await runCommand(command, ["--version"], "", env, true);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^restic-rest \d+\.\d+\.\d+/);
    const data = join(work.path, "data");
    const added = await runCommand(
      command,
      ["user", "add", "anna", "--path", data, "--password-stdin"],
      "anna-pw\n",
      env,
      true,
    );
    assert.equal(added.code, 0, added.stderr);

    const server = new Deno.Command(command, {
      args: ["serve", data, "--listen", "127.0.0.1:0"],
      env,
      clearEnv: true,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const lines: string[] = [];
    const { promise: started, resolve, reject } = Promise.withResolvers<string>();
    const reading = (async () => {
      // Read to the end: a closed pipe would break the server's shutdown lines.
      for await (const text of server.stderr.pipeThrough(new TextDecoderStream())) {
        lines.push(...text.split("\n"));
        const match = lines.map((l) => /^start server on (\S+)$/.exec(l)).find(Boolean);
        if (match) resolve(match[1]);
      }
      reject(new Error(`restic-rest ended before listening:\n${lines.join("\n")}`));
    })();
    try {
      const address = await started;
      const source = join(work.path, "source");
      await Deno.mkdir(source);
      await Deno.writeFile(join(source, "a"), pseudoRandomBytes(300_000, 7));
      const repo = `rest:http://anna:anna-pw@${address}/anna/`;
      await resticOk(repo, ["init"]);
      await resticOk(repo, ["backup", "--quiet", source]);
      assert.match(await resticOk(repo, ["check", "--read-data"]), /no errors were found/);
      server.kill("SIGTERM");
      assert.equal((await server.status).code, 0, `a clean exit on SIGTERM:\n${lines.join("\n")}`);
      await reading.catch(() => {});
      assert.ok(lines.some((l) => l.startsWith("shutting down")), "SIGTERM reached the server");
    } finally {
      try {
        server.kill("SIGKILL");
      } catch { /* gone */ }
      await server.status;
    }
  },
});
