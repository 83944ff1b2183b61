/**
 * Command line and environment to a typed command, and the usage text.
 * Built on `node:util` `parseArgs`; `@std/cli` `parseArgs` can replace it in
 * this file alone.
 *
 * @module
 */

import { parseArgs } from "node:util";
import denoJson from "../deno.json" with { type: "json" };
import { buildServeConfig, ConfigError, DEFAULT_DATA_DIR, type ServeConfig } from "./config.ts";
import { join } from "./fs_util.ts";
import type { UserCommand } from "./user_command.ts";

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** What the user asked the program to do. */
export type Command =
  | { kind: "serve"; config: ServeConfig }
  | { kind: "user"; command: UserCommand }
  | { kind: "help"; text: string }
  | { kind: "version"; text: string };

interface OptionSpec {
  name: string;
  type: "string" | "boolean";
  /** Placeholder of the value in the usage text. */
  value?: string;
  short?: string;
  help: string;
}

const SERVE_OPTIONS: readonly OptionSpec[] = [
  {
    name: "path",
    type: "string",
    value: "DIR",
    help: `data directory (default ${DEFAULT_DATA_DIR})`,
  },
  {
    name: "listen",
    type: "string",
    value: "ADDR",
    help: "listen address: :PORT, HOST:PORT or unix:/path (default :8000)",
  },
  { name: "no-auth", type: "boolean", help: "serve without authentication" },
  {
    name: "htpasswd-file",
    type: "string",
    value: "FILE",
    help: "htpasswd file (default DIR/.htpasswd)",
  },
  { name: "append-only", type: "boolean", help: "refuse deletes (except of locks) and overwrites" },
  { name: "private-repos", type: "boolean", help: "users reach only repositories below /USER/" },
  {
    name: "policy",
    type: "string",
    value: "FILE",
    help: "per-user and per-repository policy (JSON)",
  },
  {
    name: "proxy-auth-username",
    type: "string",
    value: "HEADER",
    help: "take the user name from this header of a trusted proxy",
  },
  { name: "tls", type: "boolean", help: "serve HTTPS" },
  {
    name: "tls-cert",
    type: "string",
    value: "FILE",
    help: "TLS certificate (default DIR/public_key)",
  },
  {
    name: "tls-key",
    type: "string",
    value: "FILE",
    help: "TLS private key (default DIR/private_key)",
  },
  {
    name: "no-verify-upload",
    type: "boolean",
    help: "do not check uploads against their SHA-256 name",
  },
  {
    name: "shutdown-timeout",
    type: "string",
    value: "SECONDS",
    help: "grace period for requests at shutdown (default 10)",
  },
  {
    name: "max-size",
    type: "string",
    value: "SIZE",
    help: "budget for the data directory: bytes, or 500M, 10G, 2T",
  },
  {
    name: "log",
    type: "string",
    value: "FILE",
    help: "access log in combined format to FILE, or - for stdout",
  },
  { name: "prometheus", type: "boolean", help: "serve Prometheus metrics at /metrics" },
  { name: "prometheus-no-auth", type: "boolean", help: "serve /metrics without authentication" },
  {
    name: "group-accessible-repos",
    type: "boolean",
    help: "let the file system group read repositories (0770/0660)",
  },
  {
    name: "idle-timeout",
    type: "string",
    value: "SECONDS",
    help: "cut off an upload that sends nothing this long (default 60)",
  },
  {
    name: "header-timeout",
    type: "string",
    value: "SECONDS",
    help: "close a connection whose request headers take longer (default 30; 0: no guard)",
  },
  {
    name: "keepalive-timeout",
    type: "string",
    value: "SECONDS",
    help: "close a connection idle between requests this long (default 120)",
  },
  {
    name: "max-connections",
    type: "string",
    value: "N",
    help: "connections served at once, 4 open files each; more wait (default 200)",
  },
  { name: "debug", type: "boolean", help: "log every request and the reason for every 4xx" },
  {
    name: "tls-min-ver",
    type: "string",
    value: "VER",
    help: "rest-server's flag; only 1.2 (the default) is possible",
  },
  {
    name: "cpu-profile",
    type: "string",
    value: "FILE",
    help: "rest-server's flag; refused: use deno run --cpu-prof",
  },
  { name: "help", type: "boolean", short: "h", help: "show this help" },
  { name: "version", type: "boolean", short: "V", help: "show the version (also -v)" },
];

/** The environment variable that stands in for an option. */
function envName(option: string): string {
  return `RESTIC_REST_${option.toUpperCase().replaceAll("-", "_")}`;
}

function usage(): string {
  const width = Math.max(...SERVE_OPTIONS.map((o) => o.name.length + (o.value?.length ?? -1)));
  const lines = SERVE_OPTIONS.map((o) => {
    const flag = o.value ? `${o.name} ${o.value}` : o.name;
    const short = o.short ? `-${o.short}, ` : "    ";
    return `  ${short}--${flag.padEnd(width + 1)}  ${o.help}`;
  });
  return [
    `restic-rest ${VERSION}: a server for restic's REST backend`,
    "",
    "Usage:",
    "  restic-rest serve [DIR] [OPTIONS]   serve the repositories below DIR",
    "  restic-rest user add NAME [--path DIR | --htpasswd-file FILE] [--password-stdin]",
    "  restic-rest user remove NAME [--path DIR | --htpasswd-file FILE]",
    "  restic-rest user list [--path DIR | --htpasswd-file FILE]",
    "  restic-rest --help | --version",
    "",
    "Options:",
    ...lines,
    "",
    "Every option can also be set in the environment: --listen as RESTIC_REST_LISTEN,",
    "--no-auth as RESTIC_REST_NO_AUTH=true, and so on. The command line wins.",
    "",
    "Example:",
    "  restic-rest serve /srv/restic --listen 127.0.0.1:8000 --no-auth",
    "  restic -r rest:http://127.0.0.1:8000/ init",
  ].join("\n");
}

function parseBoolean(name: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off|)$/i.test(value)) return false;
  throw new ConfigError(`Cannot read ${name}="${value}": use true or false`);
}

/**
 * Rewrites rest-server's (pflag's) spellings that `parseArgs` does not take:
 * `--flag=true|false` for booleans and `-v` for the version.
 */
function normaliseArgs(args: string[]): { args: string[]; explicitFalse: Set<string> } {
  const booleans = new Set(SERVE_OPTIONS.filter((o) => o.type === "boolean").map((o) => o.name));
  const explicitFalse = new Set<string>();
  const out: string[] = [];
  for (const arg of args) {
    const match = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (match && booleans.has(match[1])) {
      if (parseBoolean(`--${match[1]}`, match[2])) out.push(`--${match[1]}`);
      else explicitFalse.add(match[1]);
    } else out.push(arg === "-v" ? "--version" : arg);
  }
  return { args: out, explicitFalse };
}

/** Options from argv, with the environment filling in what argv leaves out. */
function readOptions(
  args: string[],
  env: Record<string, string | undefined>,
): {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  fromEnv: Set<string>;
} {
  const normalised = normaliseArgs(args);
  let parsed;
  try {
    parsed = parseArgs({
      args: normalised.args,
      options: Object.fromEntries(
        SERVE_OPTIONS.map((
          o,
        ) => [o.name, { type: o.type, ...(o.short ? { short: o.short } : {}) }]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`Cannot read the command line: ${message.split("\n")[0]}`);
  }
  const values: Record<string, string | boolean | undefined> = { ...parsed.values };
  for (const name of normalised.explicitFalse) values[name] = false;
  const fromEnv = new Set<string>();
  for (const option of SERVE_OPTIONS) {
    if (values[option.name] !== undefined || option.name === "help" || option.name === "version") {
      continue;
    }
    const value = env[envName(option.name)];
    if (value === undefined) continue;
    values[option.name] = option.type === "boolean"
      ? parseBoolean(envName(option.name), value)
      : value;
    fromEnv.add(option.name);
  }
  return { values, positionals: parsed.positionals, fromEnv };
}

/**
 * Parses the command line.
 *
 * `restic-rest serve [DIR]`, or rest-server's style without a sub-command
 * (`restic-rest --path DIR`).
 *
 * @param args The arguments after the program name.
 * @param env The environment, for `RESTIC_REST_*` variables.
 * @returns The command to run.
 * @throws {ConfigError} With a one-line message when the input is unusable.
 */
export function parseCommand(args: string[], env: Record<string, string | undefined>): Command {
  const [first, ...rest] = args;
  if (first === "help") return { kind: "help", text: usage() };
  if (first === "version") return { kind: "version", text: `restic-rest ${VERSION}` };
  if (first === "user") return parseUserCommand(rest, env);
  const serveArgs = first === "serve" ? rest : args;
  if (first !== undefined && first !== "serve" && !first.startsWith("-")) {
    throw new ConfigError(`Unknown command "${first}": run restic-rest --help`);
  }
  const { values, positionals, fromEnv } = readOptions(serveArgs, env);
  if (values.help) return { kind: "help", text: usage() };
  if (values.version) return { kind: "version", text: `restic-rest ${VERSION}` };
  if (positionals.length > 1) {
    throw new ConfigError(`Cannot serve more than one directory: ${positionals.join(", ")}`);
  }
  // A DIR argument wins over RESTIC_REST_PATH, but not over --path.
  if (positionals.length === 1 && fromEnv.has("path")) values.path = undefined;
  if (positionals.length === 1 && values.path !== undefined) {
    throw new ConfigError("Cannot use both a DIR argument and --path: give one of them");
  }
  const string = (name: string): string | undefined => values[name] as string | undefined;
  const flag = (name: string): boolean | undefined => values[name] as boolean | undefined;
  return {
    kind: "serve",
    config: buildServeConfig({
      dataDir: positionals[0] ?? string("path"),
      listen: string("listen"),
      noAuth: flag("no-auth"),
      htpasswdFile: string("htpasswd-file"),
      noVerifyUpload: flag("no-verify-upload"),
      appendOnly: flag("append-only"),
      privateRepos: flag("private-repos"),
      policy: string("policy"),
      proxyAuthUsername: string("proxy-auth-username"),
      tls: flag("tls"),
      tlsCert: string("tls-cert"),
      tlsKey: string("tls-key"),
      debug: flag("debug"),
      shutdownTimeout: string("shutdown-timeout"),
      idleTimeout: string("idle-timeout"),
      headerTimeout: string("header-timeout"),
      keepAliveTimeout: string("keepalive-timeout"),
      maxConnections: string("max-connections"),
      maxSize: string("max-size"),
      log: string("log"),
      prometheus: flag("prometheus"),
      prometheusNoAuth: flag("prometheus-no-auth"),
      groupAccessibleRepos: flag("group-accessible-repos"),
      tlsMinVer: string("tls-min-ver"),
      cpuProfile: string("cpu-profile"),
      systemdSockets: env.LISTEN_FDS !== undefined && env.LISTEN_FDS !== "",
    }),
  };
}

/** Parses `user add|remove|list NAME` with its few options. */
function parseUserCommand(args: string[], env: Record<string, string | undefined>): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        path: { type: "string" },
        "htpasswd-file": { type: "string" },
        "password-stdin": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`Cannot read the command line: ${message.split("\n")[0]}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help", text: usage() };
  const [action, name, ...extra] = positionals;
  if (action !== "add" && action !== "remove" && action !== "list") {
    throw new ConfigError(`Unknown user action "${action ?? ""}": use add, remove or list`);
  }
  if (action !== "list" && name === undefined) {
    throw new ConfigError(
      `Cannot ${action} a user without a name: restic-rest user ${action} NAME`,
    );
  }
  if (extra.length > 0 || (action === "list" && name !== undefined)) {
    throw new ConfigError(`Unexpected argument "${extra[0] ?? name}"`);
  }
  const dataDir = values.path ?? env[envName("path")] ?? DEFAULT_DATA_DIR;
  return {
    kind: "user",
    command: {
      action,
      name: name ?? null,
      htpasswdFile: values["htpasswd-file"] ?? env[envName("htpasswd-file")] ??
        join(dataDir, ".htpasswd"),
      passwordStdin: values["password-stdin"] ?? false,
    },
  };
}
