/**
 * The real server as a child process on a free loopback port, and the program run as a user runs it.
 *
 * @module
 */

import { PERMISSIONS } from "../../tools/compile.ts";
import type { SwiftStore } from "../../tools/swift.ts";
import type { FloodReport } from "../../tools/flood.ts";
import { storeEnv, SWIFT_HERE } from "./object_store.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Options of tests that run processes and sockets across awaits (the sanitizers would flag them). */
export const E2E = { sanitizeResources: false, sanitizeOps: false } as const;

/** A server process on loopback. */
export interface ServerProcess extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` */
  url: string;
  address: string;
  process: Deno.ChildProcess;
  /** Every stderr line so far. */
  stderr: string[];
  /** Sends a signal and waits for the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/**
 * Starts `main.ts serve` as a child process and waits for
 * `start server on …` (30 s at most); `openFileLimit` runs it under
 * `ulimit -n`.
 */
export async function startServerProcess(
  args: string[],
  options: { openFileLimit?: number; env?: Record<string, string> } = {},
): Promise<ServerProcess> {
  const hasListen = args.includes("--listen");
  const denoArgs = [
    "run",
    ...PERMISSIONS,
    MAIN,
    "serve",
    ...args,
    ...(hasListen ? [] : ["--listen", "127.0.0.1:0"]),
  ];
  // A lower open-file limit goes through the shell's ulimit, then exec.
  const [command, commandArgs] = options.openFileLimit === undefined
    ? [Deno.execPath(), denoArgs]
    : ["bash", [
      "-c",
      `ulimit -n ${options.openFileLimit} && exec "$@"`,
      "bash",
      Deno.execPath(),
      ...denoArgs,
    ]];
  const process = new Deno.Command(command, {
    args: commandArgs,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
  }).spawn();
  const stderr: string[] = [];
  const { promise: started, resolve, reject } = Promise.withResolvers<string>();
  (async () => {
    const lines = process.stderr.pipeThrough(new TextDecoderStream());
    let pending = "";
    for await (const text of lines) {
      pending += text;
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) {
        stderr.push(line);
        const match = /^start server on (.+)$/.exec(line);
        if (match) resolve(match[1]);
      }
    }
    reject(new Error(`server exited before listening:\n${stderr.join("\n")}`));
  })();
  process.stdout.cancel();
  const timer = setTimeout(() => reject(new Error("server did not start in 30 s")), 30_000);
  let address: string;
  try {
    address = await started;
  } catch (err) {
    try {
      process.kill("SIGKILL");
    } catch { /* gone */ }
    await process.status;
    throw err;
  } finally {
    clearTimeout(timer);
  }
  let exited: Promise<number> | null = null;
  const stop = (signal: Deno.Signal = "SIGTERM"): Promise<number> => {
    exited ??= (async () => {
      try {
        process.kill(signal);
      } catch { /* already gone */ }
      return (await process.status).code;
    })();
    return exited;
  };
  const tls = address.startsWith("https://");
  return {
    url: address.startsWith("unix:") || tls ? address : `http://${address}`,
    /** HOST:PORT (or unix:PATH), without a scheme. */
    address: tls ? address.slice("https://".length) : address,
    process,
    stderr,
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop("SIGKILL");
    },
  };
}

/** The output of a finished command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to the end, feeding it `stdin`; with `clearEnv`, `env` is all it gets. */
export async function runCommand(
  command: string,
  args: string[],
  stdin = "",
  env?: Record<string, string>,
  clearEnv = false,
): Promise<CommandResult> {
  const child = new Deno.Command(command, {
    args,
    env,
    clearEnv,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin)).catch(() => {});
  await writer.close().catch(() => {});
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs `main.ts` with the server's permissions, as a user runs the program. */
export function runMain(args: string[], stdin = ""): Promise<CommandResult> {
  return runCommand(Deno.execPath(), ["run", ...PERMISSIONS, MAIN, ...args], stdin);
}

/**
 * The real server on `data` without authentication, with these flags
 * (space-separated), on a free loopback port.
 */
export function serveNoAuth(data: { path: string }, flags = ""): Promise<ServerProcess> {
  return startServerProcess([data.path, "--no-auth", ...flags.split(" ").filter(Boolean)]);
}

/** Runs `restic-rest user add NAME --password-stdin` on a data folder. */
export async function addUser(dataDir: string, name: string, password: string): Promise<void> {
  const result = await runMain(
    ["user", "add", name, "--path", dataDir, "--password-stdin"],
    password + "\n",
  );
  if (result.code !== 0) throw new Error(`user add ${name} failed: ${result.stderr}`);
}

/** A test on the real object store: reported as ignored, not passed, where Swift cannot run. */
export function storeTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ...E2E, ignore: !SWIFT_HERE, fn });
}

/** The real server on a location of the store, with the store's credentials (and its CA). */
export function serveOnStore(
  store: SwiftStore,
  url: string,
  flags: string[] = ["--no-auth"],
): Promise<ServerProcess> {
  const ca = store.caFile ? ["--s3-cacert", store.caFile] : [];
  return startServerProcess([url, ...ca, ...flags], {
    env: { ...Deno.env.toObject(), ...storeEnv(store) },
  });
}

/**
 * Runs `tools/flood.ts` as its own process (so its work is not the test's)
 * against `url` with the given flags; settles with its report.
 */
export async function runFlood(url: string, flags: string[]): Promise<FloodReport> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../tools/flood.ts", import.meta.url).pathname,
      "--url",
      url,
      ...flags,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout));
}
