/**
 * The servers under test: restic-rest and `rclone serve restic`, started on
 * loopback with their peak memory readable from /proc.
 *
 * @module
 */

import { PERMISSIONS, RUNTIME_FLAGS } from "../tools/compile.ts";

/** A server process under test. */
export interface BenchServer {
  name: string;
  url: string;
  pid: number;
  /** Peak resident memory since the last reset, in bytes (VmHWM). */
  peakRss(): Promise<number>;
  /** Current resident memory, in bytes (VmRSS). */
  rss(): Promise<number>;
  /** Starts a new peak measurement (writes 5 to /proc/PID/clear_refs). */
  resetPeak(): Promise<void>;
  stop(): Promise<void>;
  /** Stops this process and starts a fresh one on the same data directory. */
  restart(): Promise<BenchServer>;
}

async function procStatus(pid: number, field: string): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return match ? Number(match[1]) * 1024 : NaN;
}

async function waitForLine(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
  timeoutMs: number,
): Promise<RegExpExecArray> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    const match = pattern.exec(text);
    if (match) {
      // Keep draining so the child never blocks on a full pipe.
      (async () => {
        while (!(await reader.read()).done) { /* discard */ }
      })().catch(() => {});
      return match;
    }
  }
  throw new Error(`no line matching ${pattern} in:\n${text}`);
}

function wrap(
  name: string,
  url: string,
  child: Deno.ChildProcess,
  start: () => Promise<BenchServer>,
): BenchServer {
  return {
    name,
    url,
    pid: child.pid,
    peakRss: () => procStatus(child.pid, "VmHWM"),
    rss: () => procStatus(child.pid, "VmRSS"),
    resetPeak: () => Deno.writeTextFile(`/proc/${child.pid}/clear_refs`, "5"),
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    },
    async restart() {
      await this.stop();
      return await start();
    },
  };
}

/**
 * Runtime flags for the server: those of `deno task serve` and the compiled
 * binary, or BENCH_DENO_FLAGS to experiment (for example with --cpu-prof).
 */
const SERVER_RUNTIME_FLAGS = Deno.env.get("BENCH_DENO_FLAGS")?.split(" ").filter(Boolean) ??
  RUNTIME_FLAGS;

/**
 * Starts restic-rest on a data directory, as a user would (`deno run main.ts serve`).
 *
 * @param dataDir The data directory.
 * @param flags Extra serve flags, such as `--header-timeout 0`.
 */
export async function startResticRest(dataDir: string, flags: string[] = []): Promise<BenchServer> {
  const main = new URL("../main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...SERVER_RUNTIME_FLAGS,
      ...PERMISSIONS,
      main,
      "serve",
      dataDir,
      "--no-auth",
      "--listen",
      "127.0.0.1:0",
      ...flags,
    ],
    stdout: "null",
    stderr: "piped",
    stdin: "null",
    env: Object.fromEntries(
      (Deno.env.get("BENCH_SERVER_ENV") ?? "").split(" ").filter(Boolean).map((kv) =>
        kv.split("=")
      ),
    ),
  }).spawn();
  const match = await waitForLine(child.stderr, /start server on (\S+)/, 30_000);
  return wrap("restic-rest", `http://${match[1]}`, child, () => startResticRest(dataDir, flags));
}

/** Starts `rclone serve restic` on a data directory. */
export async function startRclone(dataDir: string): Promise<BenchServer> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const child = new Deno.Command("rclone", {
    args: ["serve", "restic", dataDir, "--addr", `127.0.0.1:${port}`],
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  await waitForLine(child.stderr, /Serving restic REST API on (\S+)/, 30_000);
  return wrap("rclone", `http://127.0.0.1:${port}`, child, () => startRclone(dataDir));
}
