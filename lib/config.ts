/**
 * The server's configuration: its type, defaults and validation. Pure; the
 * command line and environment are read in `cli.ts`.
 *
 * @module
 */

import { join } from "./fs_util.ts";

/** Where the server listens. */
export type ListenAddress =
  | { transport: "tcp"; hostname: string; port: number }
  | { transport: "unix"; path: string };

/** Everything `serve` needs to run. */
export interface ServeConfig {
  /** The data directory; repositories live below it. */
  dataDir: string;
  listen: ListenAddress;
  /** Serve without authentication (explicit opt-in). */
  noAuth: boolean;
  /** The htpasswd file; `<dataDir>/.htpasswd` unless set. */
  htpasswdFile: string;
  /** Check each upload's SHA-256 against its name. */
  verifyUpload: boolean;
  /** No deletes (but of locks) and no overwrites. */
  appendOnly: boolean;
  /** Users reach only repositories below their own name. */
  privateRepos: boolean;
  /** Trust this request header for the user name (behind a reverse proxy). */
  proxyAuthUsername: string | null;
  /** The policy file, if any. */
  policyFile: string | null;
  /** TLS certificate and key files, when serving HTTPS. */
  tls: { certFile: string; keyFile: string } | null;
  /** Log one line per request and every 4xx reason. */
  debug: boolean;
  /** Serve `/metrics`, and whether it needs no authentication. */
  prometheus: boolean;
  prometheusNoAuth: boolean;
  /** The data directory budget in bytes (`--max-size`), if any. */
  maxSize: number | null;
  /** The access log: a file, `-` for stdout, or `null`. */
  accessLog: string | null;
  /** Folders 0770 and files 0660, so a group can read the repositories. */
  groupAccessibleRepos: boolean;
  /** How long in-flight requests may run on after SIGINT/SIGTERM. */
  shutdownTimeoutSeconds: number;
  /** An upload that sends no byte for this long is cut off (408). */
  idleTimeoutSeconds: number;
  /** A request head must arrive within this; 0 serves without the connection guard. */
  headerTimeoutSeconds: number;
  /** A connection idle between requests this long is closed (with the guard). */
  keepAliveTimeoutSeconds: number;
  /** Connections the guard serves at once; more wait in the kernel's queue. */
  maxConnections: number;
}

/** The default data directory, relative to the working directory. */
export const DEFAULT_DATA_DIR = "./restic-data";
/** The default listen address, as rest-server. */
export const DEFAULT_LISTEN = ":8000";
/** The default grace period for in-flight requests at shutdown. */
export const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 10;
/** The default time an upload may send nothing before it is cut off. */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 60;
/** The default time a request head may take, from its first byte or the connection's start. */
export const DEFAULT_HEADER_TIMEOUT_SECONDS = 30;
/**
 * The default number of connections served at once: each takes four file
 * descriptors, which fits the common limit of 1024 (`ulimit -n`) with room
 * for the files that requests open.
 */
export const DEFAULT_MAX_CONNECTIONS = 200;
/** The default time a connection may sit idle between requests; above Go's 90 s so restic closes first. */
export const DEFAULT_KEEPALIVE_TIMEOUT_SECONDS = 120;

/** A configuration value that cannot be used; the message says which and why. */
export class ConfigError extends Error {
  /** @param message Action first, no trailing period. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Parses a listen address: `:8000`, `host:port`, `[v6]:port` or `unix:/path`.
 *
 * @param value The address as given.
 * @returns The typed address; an empty host means all IPv4 interfaces.
 * @throws {ConfigError} When the address is malformed.
 */
export function parseListen(value: string): ListenAddress {
  if (value.startsWith("unix:")) {
    const path = value.slice("unix:".length);
    if (path === "") throw new ConfigError(`Cannot listen on "${value}": the socket path is empty`);
    return { transport: "unix", path };
  }
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new ConfigError(
      `Cannot listen on "${value}": use HOST:PORT, :PORT, [IPV6]:PORT or unix:/path`,
    );
  }
  const hostname = match[1] ?? (match[2] || "0.0.0.0");
  return { transport: "tcp", hostname, port };
}

/**
 * Formats a bound address the way the start-up line prints it.
 *
 * @param address The address `Deno.serve` reports.
 * @returns `host:port`, `[v6]:port` or `unix:/path`.
 */
export function formatAddress(address: Deno.Addr): string {
  if (address.transport === "vsock") return `vsock:${address.cid}:${address.port}`;
  if ("path" in address) return `unix:${address.path}`;
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${host}:${address.port}`;
}

/**
 * Formats a listen address as given (before binding).
 *
 * @param listen The parsed address.
 * @returns `host:port`, `[v6]:port` or `unix:/path`.
 */
export function formatListen(listen: ListenAddress): string {
  return listen.transport === "unix"
    ? `unix:${listen.path}`
    : formatAddress({ transport: "tcp", hostname: listen.hostname, port: listen.port });
}

/** The raw choices behind a {@link ServeConfig}, as the command line gives them. */
export interface ServeChoices {
  dataDir?: string;
  listen?: string;
  noAuth?: boolean;
  htpasswdFile?: string;
  noVerifyUpload?: boolean;
  appendOnly?: boolean;
  privateRepos?: boolean;
  proxyAuthUsername?: string;
  policy?: string;
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  debug?: boolean;
  shutdownTimeout?: string;
  idleTimeout?: string;
  headerTimeout?: string;
  keepAliveTimeout?: string;
  maxConnections?: string;
  prometheus?: boolean;
  prometheusNoAuth?: boolean;
  maxSize?: string;
  log?: string;
  groupAccessibleRepos?: boolean;
  cpuProfile?: string;
  tlsMinVer?: string;
  /** Set when systemd passed listening sockets (LISTEN_FDS). */
  systemdSockets?: boolean;
}

/**
 * Turns raw choices into a validated configuration, filling in defaults.
 *
 * @param choices What the user asked for.
 * @returns The configuration.
 * @throws {ConfigError} When a value is unusable.
 */
export function buildServeConfig(choices: ServeChoices): ServeConfig {
  const dataDir = choices.dataDir || DEFAULT_DATA_DIR;
  const shutdownTimeoutSeconds = parseSeconds(
    "--shutdown-timeout",
    choices.shutdownTimeout,
    DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
  );
  const idleTimeoutSeconds = parseSeconds(
    "--idle-timeout",
    choices.idleTimeout,
    DEFAULT_IDLE_TIMEOUT_SECONDS,
  );
  const headerTimeoutSeconds = parseSeconds(
    "--header-timeout",
    choices.headerTimeout,
    DEFAULT_HEADER_TIMEOUT_SECONDS,
  );
  const keepAliveTimeoutSeconds = parseSeconds(
    "--keepalive-timeout",
    choices.keepAliveTimeout,
    DEFAULT_KEEPALIVE_TIMEOUT_SECONDS,
  );
  const maxConnections = choices.maxConnections === undefined
    ? DEFAULT_MAX_CONNECTIONS
    : Number(choices.maxConnections);
  if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) {
    throw new ConfigError(
      `Cannot use --max-connections "${choices.maxConnections}": give a whole number above 0`,
    );
  }
  if (keepAliveTimeoutSeconds === 0 && headerTimeoutSeconds > 0) {
    throw new ConfigError(
      "Cannot use --keepalive-timeout 0: give seconds above 0, or --header-timeout 0 to serve without the guard",
    );
  }
  if (choices.cpuProfile !== undefined) {
    throw new ConfigError(
      "Cannot write a Go CPU profile (--cpu-profile): run under `deno run --cpu-prof` instead",
    );
  }
  if (choices.systemdSockets) {
    throw new ConfigError(
      "Cannot take sockets from systemd (LISTEN_FDS): Deno cannot adopt them; drop the .socket unit and use --listen",
    );
  }
  if (choices.tlsMinVer !== undefined && choices.tlsMinVer !== "1.2") {
    throw new ConfigError(
      `Cannot use --tls-min-ver "${choices.tlsMinVer}": Deno's TLS always allows 1.2 and 1.3; only "1.2" applies`,
    );
  }
  if (choices.prometheusNoAuth && !choices.prometheus) {
    throw new ConfigError("Cannot use --prometheus-no-auth without --prometheus: add --prometheus");
  }
  if (!choices.tls && (choices.tlsCert || choices.tlsKey)) {
    throw new ConfigError("Cannot use --tls-cert or --tls-key without --tls: add --tls");
  }
  if (
    choices.proxyAuthUsername !== undefined && !/^[A-Za-z0-9-]+$/.test(choices.proxyAuthUsername)
  ) {
    throw new ConfigError(
      `Cannot use --proxy-auth-username "${choices.proxyAuthUsername}": give a header name`,
    );
  }
  return {
    dataDir,
    listen: parseListen(choices.listen ?? DEFAULT_LISTEN),
    noAuth: choices.noAuth ?? false,
    htpasswdFile: choices.htpasswdFile || join(dataDir, ".htpasswd"),
    verifyUpload: !(choices.noVerifyUpload ?? false),
    appendOnly: choices.appendOnly ?? false,
    privateRepos: choices.privateRepos ?? false,
    proxyAuthUsername: choices.proxyAuthUsername ?? null,
    policyFile: choices.policy || null,
    tls: choices.tls
      ? {
        certFile: choices.tlsCert || join(dataDir, "public_key"),
        keyFile: choices.tlsKey || join(dataDir, "private_key"),
      }
      : null,
    debug: choices.debug ?? false,
    prometheus: choices.prometheus ?? false,
    prometheusNoAuth: choices.prometheusNoAuth ?? false,
    maxSize: choices.maxSize === undefined || choices.maxSize === "0"
      ? null
      : parseSize(choices.maxSize),
    accessLog: choices.log || null,
    groupAccessibleRepos: choices.groupAccessibleRepos ?? false,
    shutdownTimeoutSeconds,
    idleTimeoutSeconds,
    headerTimeoutSeconds,
    keepAliveTimeoutSeconds,
    maxConnections,
  };
}

function parseSeconds(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const seconds = Number(value);
  if (value.trim() === "" || !Number.isFinite(seconds) || seconds < 0) {
    throw new ConfigError(`Cannot use ${flag} "${value}": give seconds, 0 or more`);
  }
  return seconds;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};

/**
 * Parses a size: bytes, or a number with K, M, G or T (powers of 1024,
 * optionally followed by `B` or `iB`), such as `500M` or `10G`.
 *
 * @param value The size as written.
 * @returns Bytes.
 * @throws {ConfigError} When it is not a size.
 */
export function parseSize(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(value);
  if (!match) {
    throw new ConfigError(`Cannot read size "${value}": use bytes or a number with K, M, G or T`);
  }
  const bytes = Math.floor(Number(match[1]) * SIZE_UNITS[match[2].toUpperCase()]);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new ConfigError(`Cannot use size "${value}": it must be above 0`);
  }
  return bytes;
}
