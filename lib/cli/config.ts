/**
 * The server's configuration: the typed option values with their derived
 * defaults filled in, and every check between flags, made before any file is
 * read. Pure; the command line and environment are read in `cli.ts`, the
 * options themselves are declared in `options.ts`.
 *
 * @module
 */

import { ConfigError } from "../base/errors.ts";
import { join } from "../base/fs_util.ts";
import type { OptionKey, ServeOptions } from "./options.ts";
import type { StorageChoice } from "../storage/choice.ts";
import { checkLocation, isS3Url, parseS3Url } from "./location.ts";

/** Everything `serve` needs to run. */
export type ServeConfig =
  & Readonly<
    Omit<
      ServeOptions,
      "htpasswdFile" | "tlsCert" | "tlsKey" | "tls" | "help" | "version" | "s3Cacert"
    >
  >
  & {
    /** The htpasswd file; `<dataDir>/.htpasswd` unless set. */
    readonly htpasswdFile: string;
    /** TLS certificate and key files, when serving HTTPS. */
    readonly tls: { certFile: string; keyFile: string } | null;
    /** Where the repositories are stored. */
    readonly storage: StorageChoice;
  };

/** Facts about how the options were given, for the checks between them. */
export interface GivenOptions {
  /** Options set on the command line or in the environment. */
  given: ReadonlySet<OptionKey>;
  /** Set when systemd passed listening sockets (LISTEN_FDS). */
  systemdSockets?: boolean;
}

/** Each check: a condition on the flags that cannot run, and what to say. */
const FLAG_CHECKS: [(o: ServeOptions, g: GivenOptions) => boolean, string][] = [
  [
    (_, g) => g.systemdSockets === true,
    "Cannot take sockets from systemd (LISTEN_FDS): Deno cannot adopt them; drop the .socket unit and use --listen",
  ],
  [
    (o) => o.prometheusNoAuth && !o.prometheus,
    "Cannot use --prometheus-no-auth without --prometheus: add --prometheus",
  ],
  [
    (o) => !o.tls && (o.tlsCert !== null || o.tlsKey !== null),
    "Cannot use --tls-cert or --tls-key without --tls: add --tls",
  ],
  [
    (o) => o.tls && o.listen.transport === "unix",
    "Cannot combine --tls with a unix socket: drop one of them",
  ],
  [
    (o) => o.noAuth && o.proxyAuthUsername !== null,
    "Cannot combine --no-auth with --proxy-auth-username: drop one of them",
  ],
  [
    (o) => o.noAuth && o.policyFile !== null,
    "Cannot use --policy with --no-auth: a policy needs users; drop one of them",
  ],
  [
    (o) => o.noAuth && o.privateRepos,
    "Cannot use --private-repos with --no-auth: private repositories need users; drop one of them",
  ],
  [
    (o) =>
      o.proxyAuthUsername !== null && o.trustedProxies.length === 0 &&
      o.listen.transport !== "unix",
    "Cannot believe --proxy-auth-username from anybody: add --trusted-proxy ADDR " +
    "(your proxy's address), or listen on a unix socket only the proxy reaches",
  ],
  [
    (o) =>
      isS3Url(o.dataDir) && !o.noAuth && o.proxyAuthUsername === null && o.htpasswdFile === null,
    "Cannot look for users in an object store: give --htpasswd-file FILE (or --no-auth)",
  ],
  [
    (o) => isS3Url(o.dataDir) && o.tls && (o.tlsCert === null || o.tlsKey === null),
    "Cannot look for a TLS certificate in an object store: give --tls-cert and --tls-key",
  ],
  [
    (o) => isS3Url(o.dataDir) && o.groupAccessibleRepos,
    "Cannot use --group-accessible-repos with an object store: it has no file modes; drop it",
  ],
  [
    (o) => !isS3Url(o.dataDir) && o.s3Cacert !== null,
    "Cannot use --s3-cacert without an s3: location: drop it, or serve s3:https://HOST/BUCKET",
  ],
];

/** The medium the data location names. */
function storageChoice(options: ServeOptions): StorageChoice {
  const { dataDir } = options;
  if (isS3Url(dataDir)) {
    return { kind: "s3", location: parseS3Url(dataDir), caFile: options.s3Cacert };
  }
  return { kind: "fs", dir: dataDir, groupAccessible: options.groupAccessibleRepos };
}

/**
 * Checks the options against each other and fills in the defaults that
 * depend on other options (files in the data directory).
 *
 * @param options The typed option values.
 * @param facts Which were given, and how the process was started.
 * @returns The configuration.
 * @throws {ConfigError} Naming the first conflict and how to fix it.
 */
export function buildServeConfig(options: ServeOptions, facts: GivenOptions): ServeConfig {
  checkLocation(options.dataDir);
  for (const [conflicts, message] of FLAG_CHECKS) {
    if (conflicts(options, facts)) throw new ConfigError(message);
  }
  const {
    htpasswdFile,
    tlsCert,
    tlsKey,
    tls,
    s3Cacert: _s3Cacert,
    help: _help,
    version: _version,
    ...rest
  } = options;
  const { dataDir } = options;
  return {
    ...rest,
    htpasswdFile: htpasswdFile ?? join(dataDir, ".htpasswd"),
    storage: storageChoice(options),
    tls: tls
      ? {
        certFile: tlsCert ?? join(dataDir, "public_key"),
        keyFile: tlsKey ?? join(dataDir, "private_key"),
      }
      : null,
  };
}
