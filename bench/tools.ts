/**
 * The measuring instruments and peers of the benchmark, found or built: the
 * native load generator (restbench, Go), restic's rest-server 0.14 (built
 * from its source tarball with Debian's Go), `rclone serve restic`, the
 * Deno.serve ceiling server and the restic client. Each one that is missing
 * is skipped with a line saying how to get it.
 *
 * The instruments live in the workplace's shared bench folder beside this
 * checkout (a `shared/bench` folder next to it, with `restbench/`, `deno-ceiling/`
 * and `../peers/`), or wherever `--tools DIR` / RESTIC_REST_BENCH_TOOLS says.
 *
 * @module
 */

import { join } from "node:path";

/** Where each tool is, or `null`; `notes` say how to get the missing ones. */
export interface Tools {
  restbench: string | null;
  restServer: string | null;
  rclone: string | null;
  ceiling: string | null;
  restic: string | null;
  /** Whether an object store (Swift's S3 API) can be started for the store rows. */
  swift: boolean;
  /** Only these servers (`--servers`); all when absent. */
  servers?: string[];
  notes: string[];
}

const PROJECT_ROOT = new URL("..", import.meta.url).pathname;

/** The default tools folder: the shared bench folder beside the checkout, if there is one. */
export function defaultToolsDir(): string {
  return Deno.env.get("RESTIC_REST_BENCH_TOOLS") ?? join(PROJECT_ROOT, "..", "shared", "bench");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The path of a command on PATH, or `null`. */
export async function which(command: string): Promise<string | null> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `command -v ${command}`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const path = new TextDecoder().decode(out.stdout).trim();
  return out.code === 0 && path ? path : null;
}

async function run(command: string, args: string[], options: Deno.CommandOptions = {}) {
  const out = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
    ...options,
  })
    .output();
  return { ok: out.code === 0, text: new TextDecoder().decode(out.stderr).trim() };
}

/** restbench: built once into the work folder with Go (standard library only). */
async function restbench(toolsDir: string, work: string, notes: string[]): Promise<string | null> {
  const binary = join(work, "restbench");
  if (await exists(binary)) return binary;
  const source = join(toolsDir, "restbench");
  if (!(await exists(join(source, "main.go")))) {
    notes.push(
      `restbench (the native load generator) not found in ${source}: pass --tools DIR, the folder ` +
        "that holds restbench/, deno-ceiling/ and ../peers/ (RESTIC_REST_BENCH_TOOLS)",
    );
    return null;
  }
  if (!(await which("go"))) {
    notes.push("restbench needs Go to build: apt-get install -y golang-go");
    return null;
  }
  const built = await run("go", ["build", "-o", binary, "."], {
    cwd: source,
    env: { GOFLAGS: "-mod=mod", GOPROXY: "off", GOCACHE: join(work, "gocache") },
  });
  if (!built.ok) notes.push(`restbench did not build: ${built.text}`);
  return built.ok ? binary : null;
}

/** rest-server 0.14: REST_SERVER, a binary on PATH, or built by the peers' offline script. */
async function restServer(toolsDir: string, work: string, notes: string[]): Promise<string | null> {
  const given = Deno.env.get("REST_SERVER") ?? await which("rest-server");
  if (given) return given;
  const script = join(toolsDir, "..", "peers", "build-rest-server.sh");
  if (!(await exists(script))) {
    notes.push(
      "rest-server 0.14 skipped: set REST_SERVER=/path/to/rest-server, or give --tools a folder " +
        "whose ../peers/build-rest-server.sh builds it from its source tarball with Debian's Go",
    );
    return null;
  }
  const out = join(work, "rest-server");
  const built = await run("bash", [script], {
    env: { OUT: out, WORK: join(work, "rest-server-src") },
  });
  if (!built.ok) notes.push(`rest-server did not build: ${built.text.split("\n").pop()}`);
  return built.ok ? out : null;
}

/**
 * Finds (and builds where needed) every tool.
 *
 * @param toolsDir The folder with restbench/, deno-ceiling/ and ../peers/.
 * @param work A scratch folder for built binaries.
 * @returns The tools, with notes on the missing ones.
 */
export async function findTools(toolsDir: string, work: string): Promise<Tools> {
  const notes: string[] = [];
  const ceilingFile = join(toolsDir, "deno-ceiling", "ceiling_deno_serve.ts");
  const ceiling = (await exists(ceilingFile)) ? ceilingFile : null;
  if (!ceiling) notes.push(`the Deno.serve ceiling skipped: no ${ceilingFile} (see --tools)`);
  const rclone = await which("rclone");
  if (!rclone) notes.push("rclone serve restic skipped: apt-get install -y rclone");
  const restic = await which("restic");
  if (!restic) notes.push("the restic backup rows skipped: apt-get install -y restic");
  const swift =
    (await run("/usr/bin/python3", ["-c", "import swift"]).catch(() => ({ ok: false }))).ok &&
    (await which("memcached")) !== null;
  if (!swift) {
    notes.push("the object store rows skipped: apt-get install -y python3-swift memcached");
  }
  return {
    restbench: await restbench(toolsDir, work, notes),
    restServer: await restServer(toolsDir, work, notes),
    rclone,
    ceiling,
    restic,
    swift,
    notes,
  };
}
