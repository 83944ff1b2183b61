/**
 * Every option of `restic-rest serve`, each declared once: its flag, its
 * configuration key, how its value is read, its default and its help. The
 * argument parser's spec, the environment variables, the typed values and
 * the defaults printed by `--help` are all generated from this table.
 *
 * @module
 */

import { TrustedProxies } from "../auth/client_address.ts";
import { parseListen } from "./listen.ts";
import type { ListenAddress } from "./listen.ts";
import { parseCount, parseDuration, parseSeconds, parseSize } from "../base/units.ts";
import { ConfigError } from "../base/errors.ts";

/** One option. `T` is the type of its value in the configuration. */
export interface Option<T> {
  /** The long flag without `--`. */
  flag: string;
  /** The placeholder of its value in the help; absent for switches. */
  takes?: string;
  /** A one-letter alias. */
  short?: string;
  /** The value when the option is not given. */
  default: T;
  /**
   * How the default reads in the help (`(default …)`); `null` prints none.
   * Derived from `default` unless set.
   */
  shown?: string | null;
  help: string;
  /** Reads the value of a flag that takes one. */
  parse(text: string, flag: string): T;
  /** Not read from a `RESTIC_REST_*` variable (help, version). */
  noEnv?: boolean;
  /**
   * May be given more than once; the values reach `parse` joined by commas
   * (as the environment variable gives them).
   */
  repeatable?: boolean;
}

/** The value type of an option. */
export type OptionValue<O> = O extends Option<infer T> ? T : never;

/** Reads a switch's value written out (`--tls=false`, `RESTIC_REST_TLS=yes`). */
export function parseBoolean(name: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off|)$/i.test(value)) return false;
  throw new ConfigError(`Cannot read ${name}="${value}": use true or false`);
}

function toggle(flag: string, help: string, extra: Partial<Option<boolean>> = {}): Option<boolean> {
  return { flag, default: false, shown: null, help, parse: (v, f) => parseBoolean(f, v), ...extra };
}

function text(
  flag: string,
  takes: string,
  help: string,
  shown: string | null = null,
): Option<string | null> {
  return { flag, takes, default: null, shown, help, parse: (value) => value || null };
}

function seconds(flag: string, help: string, fallback: number): Option<number> {
  return { flag, takes: "SECONDS", default: fallback, help, parse: (v, f) => parseSeconds(f, v) };
}

/** The default data directory, relative to the working directory. */
export const DEFAULT_DATA_DIR = "./restic-data";

/** The options of `serve`, keyed by their configuration name. */
export const SERVE_OPTIONS = {
  dataDir: {
    flag: "path",
    takes: "DIR",
    default: DEFAULT_DATA_DIR,
    help: "data directory, or s3:https://HOST[:PORT]/BUCKET[/PREFIX] for an object store",
    parse: (value: string) => value || DEFAULT_DATA_DIR,
  } satisfies Option<string>,
  listen: {
    flag: "listen",
    takes: "ADDR",
    default: parseListen(":8000"),
    shown: ":8000",
    help: "listen address: :PORT, HOST:PORT or unix:/path",
    parse: parseListen,
  } satisfies Option<ListenAddress>,
  s3Cacert: text(
    "s3-cacert",
    "FILE",
    "CA certificates (PEM) the object store's certificate is signed by",
  ),
  noAuth: toggle("no-auth", "serve without authentication"),
  htpasswdFile: text("htpasswd-file", "FILE", "htpasswd file", "DIR/.htpasswd"),
  appendOnly: toggle("append-only", "refuse deletes (except of locks) and overwrites"),
  allowRepoDelete: toggle(
    "allow-repo-delete",
    "let users with full rights delete a whole repository (DELETE /REPO/)",
  ),
  privateRepos: toggle("private-repos", "users reach only repositories below /USER/"),
  policyFile: text("policy", "FILE", "per-user and per-repository policy (JSON)"),
  proxyAuthUsername: {
    ...text(
      "proxy-auth-username",
      "HEADER",
      "take the user name from this header, sent by a --trusted-proxy or over a unix socket",
    ),
    parse: (value: string) => {
      if (!/^[A-Za-z0-9-]+$/.test(value)) {
        throw new ConfigError(`Cannot use --proxy-auth-username "${value}": give a header name`);
      }
      return value;
    },
  } satisfies Option<string | null>,
  tls: toggle("tls", "serve HTTPS"),
  tlsCert: text("tls-cert", "FILE", "TLS certificate", "DIR/public_key"),
  tlsKey: text("tls-key", "FILE", "TLS private key", "DIR/private_key"),
  verifyUpload: {
    ...toggle("no-verify-upload", "do not check uploads against their SHA-256 name"),
    default: true,
    parse: (value: string, flag: string) => !parseBoolean(flag, value),
  } satisfies Option<boolean>,
  shutdownTimeoutSeconds: seconds("shutdown-timeout", "grace period for requests at shutdown", 10),
  shutdownDelaySeconds: seconds(
    "shutdown-delay",
    "at shutdown, first answer /healthz with 503 this long while serving on (for a load balancer)",
    0,
  ),
  syncIntervalSeconds: seconds(
    "sync-interval",
    "object store: how often servers on one bucket share what they stored; 0: never",
    10,
  ),
  maxSize: {
    flag: "max-size",
    takes: "SIZE",
    default: null,
    shown: null,
    help: "budget for the data directory: bytes, or 500M, 10G, 2T",
    parse: (value: string) => value === "0" ? null : parseSize(value),
  } satisfies Option<number | null>,
  accessLog: text("log", "FILE", "access log in combined format to FILE, or - for stdout"),
  prometheus: toggle("prometheus", "serve Prometheus metrics at /metrics"),
  prometheusNoAuth: toggle("prometheus-no-auth", "serve /metrics without authentication"),
  groupAccessibleRepos: toggle(
    "group-accessible-repos",
    "let the file system group read repositories (0770/0660)",
  ),
  idleTimeoutSeconds: seconds(
    "idle-timeout",
    "cut off an upload that sends nothing this long",
    60,
  ),
  headerTimeoutSeconds: seconds(
    "header-timeout",
    "close a new connection whose first request head takes longer; 0: no limit",
    30,
  ),
  keepAliveTimeoutSeconds: seconds(
    "keepalive-timeout",
    "close a connection idle between requests this long; 0: never",
    120,
  ),
  maxConnections: {
    flag: "max-connections",
    takes: "N",
    // 200 leaves most of the common limit of 1024 open files to the files requests open.
    default: 200,
    help: "connections served at once; more wait",
    parse: (value: string, flag: string) => parseCount(flag, value),
  } satisfies Option<number>,
  statusPage: {
    ...toggle(
      "no-status-page",
      "answer browsers as restic clients: no status page at / and /REPO/",
    ),
    default: true,
    parse: (value: string, flag: string) => !parseBoolean(flag, value),
  } satisfies Option<boolean>,
  staleAfterSeconds: {
    flag: "stale-after",
    takes: "DURATION",
    default: 48 * 3600,
    shown: "48h",
    help: "the status page marks a repository whose newest snapshot is older",
    parse: (value: string, flag: string) => parseDuration(flag, value),
  } satisfies Option<number>,
  loginFailures: {
    flag: "login-failures",
    takes: "N",
    default: 5,
    help: "failed logins an address may make per --login-window; then 429 without a check",
    parse: (value: string, flag: string) => parseCount(flag, value),
  } satisfies Option<number>,
  loginFailuresPerUser: {
    flag: "login-failures-per-user",
    takes: "N",
    default: 50,
    help: "failed logins for one user name per --login-window, from all addresses",
    parse: (value: string, flag: string) => parseCount(flag, value),
  } satisfies Option<number>,
  loginWindowSeconds: {
    flag: "login-window",
    takes: "DURATION",
    default: 60,
    shown: "60s",
    help: "the window failed logins are counted in",
    parse: (value: string, flag: string) => parseDuration(flag, value),
  } satisfies Option<number>,
  trustedProxies: {
    flag: "trusted-proxy",
    takes: "ADDR",
    default: [],
    shown: null,
    repeatable: true,
    help: "believe X-Forwarded-For (and --proxy-auth-username) from this address or range",
    parse: (value: string) => {
      const proxies = value.split(",").map((v) => v.trim()).filter(Boolean);
      TrustedProxies.parse(proxies); // refuses what is not an address or a range
      return proxies;
    },
  } satisfies Option<string[]>,
  debug: toggle("debug", "log every request and the reason for every 4xx"),
  tlsMinVer: {
    ...text("tls-min-ver", "VER", "rest-server's flag; only 1.2 (the default) is possible"),
    parse: (value: string) => {
      if (value !== "1.2") {
        throw new ConfigError(
          `Cannot use --tls-min-ver "${value}": Deno's TLS always allows 1.2 and 1.3; only "1.2" applies`,
        );
      }
      return value;
    },
  } satisfies Option<string | null>,
  cpuProfile: {
    ...text("cpu-profile", "FILE", "rest-server's flag; refused: use deno run --cpu-prof"),
    parse: () => {
      throw new ConfigError(
        "Cannot write a Go CPU profile (--cpu-profile): run under `deno run --cpu-prof` instead",
      );
    },
  } satisfies Option<string | null>,
  help: toggle("help", "show this help", { short: "h", noEnv: true }),
  version: toggle("version", "show the version (also -v)", { short: "V", noEnv: true }),
};

/** The values of every serve option, typed. */
export type ServeOptions = {
  -readonly [K in keyof typeof SERVE_OPTIONS]: OptionValue<typeof SERVE_OPTIONS[K]>;
};

/** A configuration key of a serve option. */
export type OptionKey = keyof typeof SERVE_OPTIONS;

/** Every option with its key, in help order. */
export function optionEntries(): [OptionKey, Option<unknown>][] {
  return Object.entries(SERVE_OPTIONS) as [OptionKey, Option<unknown>][];
}

/**
 * How an option's default reads in the help, or `null` when none is printed.
 *
 * @param option The option.
 * @returns The text inside `(default …)`.
 */
export function shownDefault(option: Option<unknown>): string | null {
  if (option.shown !== undefined) return option.shown;
  return option.default === null ? null : String(option.default);
}

/** The environment variable that stands in for an option. */
export function envName(flag: string): string {
  return `RESTIC_REST_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/**
 * The help lines of the options: flag, placeholder, help and default.
 *
 * @returns One line per option.
 */
export function optionHelpLines(): string[] {
  const entries = optionEntries().map(([, o]) => o);
  const width = Math.max(...entries.map((o) => o.flag.length + (o.takes?.length ?? -1)));
  return entries.map((o) => {
    const flag = o.takes ? `${o.flag} ${o.takes}` : o.flag;
    const short = o.short ? `-${o.short}, ` : "    ";
    const shown = shownDefault(o);
    return `  ${short}--${flag.padEnd(width + 1)}  ${o.help}${shown ? ` (default ${shown})` : ""}`;
  });
}
