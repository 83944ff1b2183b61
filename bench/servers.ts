/**
 * The servers under test, each started fresh on its own data folder and
 * loopback port: restic-rest as users run it (and with a bcrypt user and the
 * access log), rest-server 0.14, `rclone serve restic` and the Deno.serve
 * ceiling. Memory and CPU are read from /proc by the load generator.
 *
 * @module
 */

import { join } from "node:path";
import { PERMISSIONS, RUNTIME_FLAGS } from "../tools/compile.ts";
import type { Tools } from "./tools.ts";
import { freePort } from "../tools/ports.ts";

/** A kind of server in the comparison. */
export type ServerKind =
  | "restic-rest"
  | "restic-rest+auth+log"
  | "ceiling"
  | "rest-server"
  | "rclone";

/** The user and password of the `+auth+log` variant. */
export const BENCH_USER = { name: "bench", password: "bench-password-1" };

/** A running server. */
export interface BenchServer {
  kind: ServerKind;
  /** `http://127.0.0.1:PORT` */
  url: string;
  pid: number;
  /** Milliseconds from spawning the process to its first HTTP answer. */
  firstAnswerMs: number;
  /** Every line it wrote to stderr so far. */
  lines: string[];
  /** Resident memory now, in KiB. */
  rssKib(): Promise<number>;
  stop(): Promise<void>;
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** The V8 flags the Deno.serve ceiling is documented to run with. */
const CEILING_FLAGS = "--v8-flags=--max-semi-space-size=1";

/** The command that starts a server of this kind. */
async function commandFor(
  kind: ServerKind,
  tools: Tools,
  dir: string,
  port: number,
  main: string,
): Promise<[string, string[]]> {
  const addr = `127.0.0.1:${port}`;
  const ours = ["run", ...PERMISSIONS, ...RUNTIME_FLAGS, main, "serve", dir, "--listen", addr];
  switch (kind) {
    case "restic-rest":
      return [Deno.execPath(), [...ours, "--no-auth"]];
    case "restic-rest+auth+log":
      await addBenchUser(dir);
      return [Deno.execPath(), [...ours, "--log", join(dir, "..", `access-${port}.log`)]];
    case "ceiling": // run as its README says
      return [Deno.execPath(), ["run", "-A", CEILING_FLAGS, tools.ceiling!, String(port), dir]];
    case "rest-server":
      return [tools.restServer!, ["--path", dir, "--listen", addr, "--no-auth"]];
    case "rclone":
      return [tools.rclone!, ["serve", "restic", "--addr", addr, dir]];
  }
}

/** Writes the bench user into DIR/.htpasswd with `restic-rest user add` (bcrypt, cost 10). */
async function addBenchUser(dir: string): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...PERMISSIONS,
      MAIN,
      "user",
      "add",
      BENCH_USER.name,
      "--path",
      dir,
      "--password-stdin",
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(`${BENCH_USER.password}\n`));
  await writer.close();
  if (!(await child.status).success) throw new Error("cannot add the bench user");
}

/**
 * Collects a child's stderr as lines, as they come (for `BenchServer.lines`).
 *
 * @param stderr The child's piped stderr.
 * @returns The array the lines are pushed into.
 */
export function collectLines(stderr: ReadableStream<Uint8Array>): string[] {
  const lines: string[] = [];
  (async () => {
    for await (const text of stderr.pipeThrough(new TextDecoderStream())) {
      lines.push(...text.split("\n").filter(Boolean));
    }
  })().catch(() => {});
  return lines;
}

/** Waits until the server answers any HTTP request; returns the time from `started`. */
async function firstAnswer(
  url: string,
  started: number,
  child: Deno.ChildProcess,
): Promise<number> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = started + 120_000;
  while (performance.now() < deadline && !exited) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      return performance.now() - started;
    } catch {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  throw new Error(`${url} did not answer`);
}

/**
 * Starts a server of `kind` on `dir` and waits for its first answer.
 *
 * @param kind Which server.
 * @param tools Where the peers are.
 * @param dir Its data folder (created if missing).
 * @param main restic-rest's `main.ts` (another checkout, for A/B runs); this one by default.
 * @returns The running server.
 */
export async function startServer(
  kind: ServerKind,
  tools: Tools,
  dir: string,
  main = MAIN,
): Promise<BenchServer> {
  await Deno.mkdir(dir, { recursive: true });
  const port = freePort();
  const [command, args] = await commandFor(kind, tools, dir, port, main);
  const started = performance.now();
  const child = new Deno.Command(command, { args, stdin: "null", stdout: "null", stderr: "piped" })
    .spawn();
  const lines = collectLines(child.stderr);
  const url = `http://127.0.0.1:${port}`;
  let firstAnswerMs: number;
  try {
    firstAnswerMs = await firstAnswer(url, started, child);
  } catch (err) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    throw new Error(`${kind}: ${(err as Error).message}\n${lines.join("\n")}`);
  }
  return {
    kind,
    url,
    pid: child.pid,
    firstAnswerMs,
    lines,
    rssKib: () => procStatusKib(child.pid, "VmRSS"),
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

/**
 * A memory figure of a process from `/proc/PID/status`: `VmRSS` (resident
 * now) or `VmHWM` (the most it was resident), in KiB.
 *
 * @param pid The process.
 * @param field The line's name.
 * @returns The KiB, or NaN when the line is missing.
 */
export async function procStatusKib(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
}

/**
 * Waits until restic-rest logged that its inventory is complete (other
 * servers keep none): memory and listings are then measured at rest.
 *
 * @param server The server.
 * @param timeoutMs How long to wait at most.
 */
export async function settled(server: BenchServer, timeoutMs = 600_000): Promise<void> {
  if (!server.kind.startsWith("restic-rest")) return;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.lines.some((l) => l.startsWith("inventory complete"))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${server.kind}: no complete inventory in ${timeoutMs} ms`);
}
