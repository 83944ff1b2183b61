#!/usr/bin/env node
// restic-rest from npm: runs the program on the Deno of the `deno` npm package (the version
// package.json pins), with the permissions and V8 settings of the release binary
// (tools/compile.ts holds the list; `deno task check` keeps this copy equal), and the program's
// npm dependencies from the node_modules npm installed beside it: nothing is downloaded at run time.
//
// Deno runs no TypeScript from under a node_modules folder, so the program's own files (main.ts,
// lib/, deno.json) are copied once per installed version into a cache folder, beside a link to
// this package's node_modules.
// A command-line launcher: printing its one error line is its job.
// deno-lint-ignore-file no-console
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");

const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys=statfs",
];
const RUNTIME_FLAGS = [
  "--v8-flags=--max-semi-space-size=1,--max-old-space-size=512,--expose-gc",
];
const PROGRAM = ["main.ts", "lib", "deno.json"];

const root = path.join(__dirname, "..");

function fail(message) {
  console.error(`restic-rest: ${message}`);
  process.exit(1);
}

/** Where the program's files are copied: per user, per installed package and version. */
function cacheFolder() {
  const { version } = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  const installed = crypto.createHash("sha256").update(fs.realpathSync(root)).digest("hex");
  const base = process.env.RESTIC_REST_CACHE ||
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "restic-rest");
  return path.join(base, `${version}-${installed.slice(0, 12)}`);
}

/** The program's files outside node_modules, copied there the first time (atomically). */
function programFolder() {
  const folder = cacheFolder();
  if (fs.existsSync(path.join(folder, "main.ts"))) return folder;
  const temp = `${folder}.${process.pid}.tmp`;
  fs.mkdirSync(temp, { recursive: true });
  for (const entry of PROGRAM) {
    fs.cpSync(path.join(root, entry), path.join(temp, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(root, "node_modules"), path.join(temp, "node_modules"), "junction");
  try {
    fs.renameSync(temp, folder);
  } catch {
    fs.rmSync(temp, { recursive: true, force: true }); // another start got there first
  }
  return folder;
}

let deno;
let program;
try {
  deno = require("deno/install_api.cjs").runInstall();
} catch (err) {
  fail(`cannot find the Deno runtime it needs (${err.message}): npm install -g restic-rest again`);
}
try {
  program = programFolder();
} catch (err) {
  fail(
    `cannot copy the program into ${cacheFolder()} (${err.message}): set RESTIC_REST_CACHE ` +
      "to a folder you may write",
  );
}
const child = spawn(deno, [
  "run",
  "--quiet",
  "--node-modules-dir=manual",
  "--no-lock",
  "--config",
  path.join(program, "deno.json"),
  ...PERMISSIONS,
  ...RUNTIME_FLAGS,
  path.join(program, "main.ts"),
  ...process.argv.slice(2),
], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => process.exit(code ?? (signal === "SIGINT" ? 130 : 143)));
