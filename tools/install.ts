/**
 * `deno task install`: a `restic-rest` command for this checkout, in
 * `$DENO_INSTALL_ROOT/bin` (default `~/.deno/bin`). The command runs this
 * Deno by its full path, with the release binary's permissions and V8
 * settings (`tools/compile.ts`), so it works where Deno itself is not on
 * the PATH, such as a Deno run through `npx deno`.
 *
 *   deno task install        # then: restic-rest serve ./repo
 *
 * @module
 */

// A command-line tool: printing what it did is its job.
// deno-lint-ignore-file no-console

import { join } from "node:path";
import { PERMISSIONS, RUNTIME_FLAGS } from "./compile.ts";

const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? ".";
const root = Deno.env.get("DENO_INSTALL_ROOT") ?? join(home, ".deno");
const bin = join(root, "bin");
const main = new URL("../main.ts", import.meta.url).pathname;
const config = new URL("../deno.json", import.meta.url).pathname;
const deno = Deno.execPath();
const args = ["run", "--quiet", "--config", config, ...PERMISSIONS, ...RUNTIME_FLAGS, main];

await Deno.mkdir(bin, { recursive: true });
const windows = Deno.build.os === "windows";
const command = join(bin, windows ? "restic-rest.cmd" : "restic-rest");
const quote = (arg: string) => windows ? `"${arg}"` : `'${arg.replaceAll("'", `'\\''`)}'`;
const line = [deno, ...args].map(quote).join(" ");
await Deno.writeTextFile(
  command,
  windows ? `@echo off\r\n${line} %*\r\n` : `#!/bin/sh\nexec ${line} "$@"\n`,
  { mode: 0o755 },
);
if (!windows) await Deno.chmod(command, 0o755);
console.log(`installed ${command}`);
const onPath = (Deno.env.get("PATH") ?? "").split(windows ? ";" : ":").includes(bin);
if (!onPath) console.log(`add ${bin} to your PATH, or run ${command} by its full path`);
