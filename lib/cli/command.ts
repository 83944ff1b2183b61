/**
 * Command line and environment to a typed command, and the usage text.
 * Built on `node:util` `parseArgs`; `@std/cli` `parseArgs` can replace it in
 * this file alone.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { buildServeConfig, type ServeConfig } from "./config.ts";
import { ConfigError } from "../base/errors.ts";
import { join } from "../base/fs_util.ts";
import {
  DEFAULT_DATA_DIR,
  envName,
  optionEntries,
  optionHelpLines,
  type OptionKey,
  parseBoolean,
  type ServeOptions,
} from "./options.ts";
import type { UserCommand } from "./user_command.ts";
import { VERSION } from "../base/version.ts";
import { explainArgsError } from "./mistakes.ts";

/** What the user asked the program to do. */
export type Command =
  | { kind: "serve"; config: ServeConfig }
  | { kind: "user"; command: UserCommand }
  | { kind: "help"; text: string }
  | { kind: "version"; text: string };

function usage(): string {
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
    ...optionHelpLines(),
    "",
    "Every option can also be set in the environment: --listen as RESTIC_REST_LISTEN,",
    "--no-auth as RESTIC_REST_NO_AUTH=true, and so on. The command line wins.",
    "",
    "Example:",
    "  restic-rest serve /srv/restic --listen 127.0.0.1:8000 --no-auth",
    "  restic -r rest:http://127.0.0.1:8000/ init",
  ].join("\n");
}

/**
 * Rewrites rest-server's (pflag's) spellings that `parseArgs` does not take:
 * `--flag=true|false` for switches and `-v` for the version; and a value
 * that starts with a dash (`--stale-after -5h`) is joined to its flag, so
 * that it reaches the flag's own check instead of being taken for a flag.
 */
function normaliseArgs(args: string[]): { args: string[]; explicitFalse: Set<string> } {
  const entries = optionEntries().map(([, o]) => o);
  const switches = new Set(entries.filter((o) => !o.takes).map((o) => o.flag));
  const valued = new Set(entries.filter((o) => o.takes).map((o) => o.flag));
  const explicitFalse = new Set<string>();
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const match = /^--([a-z-]+)=(.*)$/.exec(arg);
    const next = args[i + 1];
    if (match && switches.has(match[1])) {
      if (parseBoolean(`--${match[1]}`, match[2])) out.push(`--${match[1]}`);
      else explicitFalse.add(match[1]);
    } else if (valued.has(arg.slice(2)) && next !== undefined && /^-[^-]/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg === "-v" ? "--version" : arg);
  }
  return { args: out, explicitFalse };
}

/** The options as read: typed values with defaults, and which were given. */
interface ReadOptions {
  options: ServeOptions;
  given: Set<OptionKey>;
  fromEnv: Set<OptionKey>;
  positionals: string[];
}

/** Raw option texts from argv; a switch is `"true"` or `"false"`. */
function argvTexts(args: string[]): { texts: Map<string, string>; positionals: string[] } {
  const normalised = normaliseArgs(args);
  let parsed;
  try {
    parsed = parseArgs({
      args: normalised.args,
      options: Object.fromEntries(
        optionEntries().map(([, o]) => [
          o.flag,
          {
            type: o.takes ? "string" as const : "boolean" as const,
            ...(o.short ? { short: o.short } : {}),
            ...(o.repeatable ? { multiple: true } : {}),
          },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    const known = optionEntries().map(([, o]) => o.flag);
    throw new ConfigError(explainArgsError(err, known, "restic-rest serve"));
  }
  const texts = new Map<string, string>();
  for (const [flag, value] of Object.entries(parsed.values)) {
    if (value !== undefined) {
      texts.set(flag, Array.isArray(value) ? value.join(",") : String(value));
    }
  }
  for (const flag of normalised.explicitFalse) texts.set(flag, "false");
  return { texts, positionals: parsed.positionals };
}

/** Options from argv, with the environment filling in what argv leaves out. */
function readOptions(args: string[], env: Record<string, string | undefined>): ReadOptions {
  const { texts, positionals } = argvTexts(args);
  const values: Record<string, unknown> = {};
  const given = new Set<OptionKey>();
  const fromEnv = new Set<OptionKey>();
  for (const [key, option] of optionEntries()) {
    let text = texts.get(option.flag);
    let name = `--${option.flag}`;
    if (text === undefined && !option.noEnv) {
      text = env[envName(option.flag)];
      name = envName(option.flag);
      if (text !== undefined) fromEnv.add(key);
    }
    if (text === undefined) {
      values[key] = option.default;
      continue;
    }
    given.add(key);
    values[key] = option.parse(text, name);
  }
  return { options: values as ServeOptions, given, fromEnv, positionals };
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
  const { options, given, fromEnv, positionals } = readOptions(serveArgs, env);
  if (options.help) return { kind: "help", text: usage() };
  if (options.version) return { kind: "version", text: `restic-rest ${VERSION}` };
  if (positionals.length > 1) {
    throw new ConfigError(`Cannot serve more than one directory: ${positionals.join(", ")}`);
  }
  if (positionals.length === 1) {
    // A DIR argument wins over RESTIC_REST_PATH, but not over --path.
    if (given.has("dataDir") && !fromEnv.has("dataDir")) {
      throw new ConfigError("Cannot use both a DIR argument and --path: give one of them");
    }
    options.dataDir = positionals[0] || DEFAULT_DATA_DIR;
    given.add("dataDir");
  }
  return {
    kind: "serve",
    config: buildServeConfig(options, {
      given,
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
    const known = ["path", "htpasswd-file", "password-stdin", "help"];
    throw new ConfigError(explainArgsError(err, known, "restic-rest user"));
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
