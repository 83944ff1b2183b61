/**
 * The shape the code keeps: imports point down (no cycles, the storage never
 * imports the app layer), functions stay short and modules small, and the
 * repository stands alone (no path outside it).
 */
import assert from "node:assert/strict";
import ts from "typescript";
import { PROJECT_ROOT } from "./_helpers.ts";

const ROOT_URL = new URL(`file://${PROJECT_ROOT}`).href;

/** Local modules and their local imports, as `deno info` sees them. */
async function importGraph(entries: string[]): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const entry of entries) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: PROJECT_ROOT,
      stdout: "piped",
      stderr: "null",
    }).output();
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    for (const module of info.modules) {
      if (!module.specifier.startsWith(ROOT_URL) || !module.specifier.endsWith(".ts")) continue;
      const local = (module.dependencies ?? [])
        .map((d: { code?: { specifier: string }; type?: { specifier: string } }) =>
          (d.code ?? d.type)?.specifier
        )
        .filter((s: string | undefined): s is string => s?.startsWith(ROOT_URL) ?? false)
        .map((s: string) => s.slice(ROOT_URL.length));
      graph.set(module.specifier.slice(ROOT_URL.length), local);
    }
  }
  return graph;
}

/** Every `.ts` file below a folder of the project, relative. */
async function sources(folder: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(`${PROJECT_ROOT}${folder}`)) {
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory) found.push(...await sources(path));
    else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found;
}

const ENTRIES = ["main.ts", "lib/front/guard_worker.ts"];

Deno.test("imports form no cycle", async () => {
  const graph = await importGraph(ENTRIES);
  assert.ok(graph.size > 20, `${graph.size} modules seen`);
  const state = new Map<string, "open" | "done">();
  const visit = (module: string, path: string[]): void => {
    if (state.get(module) === "done") return;
    assert.notEqual(state.get(module), "open", `cycle: ${[...path, module].join(" -> ")}`);
    state.set(module, "open");
    for (const next of graph.get(module) ?? []) visit(next, [...path, module]);
    state.set(module, "done");
  };
  for (const module of graph.keys()) visit(module, []);
});

/** What the storage may import besides itself: the protocol's pure foundations. */
const STORAGE_MAY_IMPORT = [
  "lib/errors.ts",
  "lib/fs_util.ts",
  "lib/memory.ts",
  "lib/repo_path.ts",
  "lib/restic.ts",
];

Deno.test("lib/storage/ imports nothing from the app layer above it", async () => {
  const graph = await importGraph(ENTRIES);
  const storage = [...graph.keys()].filter((m) => m.startsWith("lib/storage/"));
  assert.ok(storage.length >= 5);
  for (const module of storage) {
    for (const dependency of graph.get(module)!) {
      assert.ok(
        dependency.startsWith("lib/storage/") || STORAGE_MAY_IMPORT.includes(dependency),
        `${module} imports ${dependency}`,
      );
    }
  }
});

const MAX_FUNCTION_LINES = 60;
const MAX_MODULE_LINES = 350;
/** The program's code; tests are scripts and may be longer. */
const CODE = ["main.ts", ...ENTRIES.slice(1)];

Deno.test(`functions stay under ${MAX_FUNCTION_LINES} lines, modules under ${MAX_MODULE_LINES}`, async () => {
  const files = [
    ...new Set([
      ...CODE,
      ...await sources("lib"),
      ...await sources("tools"),
      ...await sources("bench"),
    ]),
  ];
  const long: string[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(`${PROJECT_ROOT}${file}`);
    const lines = text.split("\n").length;
    if (lines > MAX_MODULE_LINES) long.push(`${file}: ${lines} lines`);
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && "body" in node && node.body) {
        const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
        const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        if (last - first + 1 > MAX_FUNCTION_LINES) {
          const name = "name" in node && node.name ? node.name.getText() : "(function)";
          long.push(`${file}:${first + 1} ${name}: ${last - first + 1} lines`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  assert.deepEqual(long, []);
});

Deno.test("nothing in the repository points outside it, to a shared folder beside it", async () => {
  const out = await new Deno.Command("git", {
    args: ["grep", "-l", "-I", "-F", ["..", "shared"].join("/")],
    cwd: PROJECT_ROOT,
    stdout: "piped",
  }).output();
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "");
});
