/**
 * The shape of lib/, as folders: imports point down the list of layers
 * (server, front, cli, http, access, status, auth, storage, base), the two
 * storage media never import each other, and no module imports itself back
 * through others. Read from `deno info --json`, dynamic imports included.
 */
import assert from "node:assert/strict";
import { PROJECT_ROOT } from "../helpers/files.ts";

/** lib/'s folders, top first: a module may import its own folder's or a lower one's. */
const LAYERS = ["server", "front", "cli", "http", "access", "status", "auth", "storage", "base"];

const ROOT_URL = new URL(`file://${PROJECT_ROOT}`).href;

/** Every local module reached from `entry`, with the local modules it imports. */
async function importGraph(entry: string): Promise<Map<string, string[]>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "null",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  const graph = new Map<string, string[]>();
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
  return graph;
}

/** The layer of a module of lib/ (`storage/fs` and `storage/s3` are told apart), or `null`. */
function placeOf(module: string): { layer: number; medium: string | null } | null {
  const parts = module.split("/");
  if (parts[0] !== "lib" || parts.length < 3) return null;
  const layer = LAYERS.indexOf(parts[1]);
  assert.ok(layer >= 0, `${module} is in no layer: add its folder to LAYERS or move it`);
  const medium = parts[1] === "storage" && parts.length > 3 ? parts[2] : null;
  return { layer, medium };
}

const graph = await importGraph("main.ts");

Deno.test("lib/ is reached from main.ts, every module in a layer folder", () => {
  const modules = [...graph.keys()].filter((m) => m.startsWith("lib/"));
  assert.ok(modules.length > 50, `${modules.length} modules`);
  assert.deepEqual(modules.filter((m) => m.split("/").length < 3), [], "nothing loose in lib/");
  for (const module of modules) placeOf(module);
});

Deno.test("imports point down the layers; fs/ and s3/ never import each other", () => {
  const wrong: string[] = [];
  for (const [module, imports] of graph) {
    const from = placeOf(module);
    if (!from) continue;
    for (const target of imports) {
      const to = placeOf(target);
      if (!to) continue;
      if (to.layer < from.layer) {
        wrong.push(`${module} -> ${target} (${LAYERS[from.layer]} above ${LAYERS[to.layer]})`);
      }
      if (from.medium && to.medium && from.medium !== to.medium) {
        wrong.push(`${module} -> ${target} (one medium into another)`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("imports form no cycle", () => {
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

Deno.test("main.ts loads no server and no storage until it serves: --help and user are light", () => {
  const statics = new Set<string>();
  // Static imports only: deno info marks dynamic ones in its own field, so read the sources.
  const reach = (module: string): void => {
    if (statics.has(module)) return;
    statics.add(module);
    const text = Deno.readTextFileSync(`${PROJECT_ROOT}${module}`);
    for (const match of text.matchAll(/^import (?!type)[^;]*? from "(\.[^"]+\.ts)";/gms)) {
      const target = new URL(match[1], `file:///${module}`).pathname.slice(1);
      reach(target);
    }
  };
  reach("main.ts");
  const heavy = [...statics].filter((m) =>
    /^lib\/(server|storage|http|front|status)\//.test(m) ||
    (m.startsWith("lib/auth/") && m !== "lib/auth/client_address.ts") // pure, for --trusted-proxy
  );
  assert.deepEqual(heavy, []);
});
