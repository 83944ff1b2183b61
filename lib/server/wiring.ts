/**
 * From a configuration to a working app, without a socket: authentication,
 * policy, the storage stack (medium, inventory, limits), metrics, the request
 * pipeline and the start-up lines. Listening and shutdown are `server.ts`'s.
 *
 * @module
 */

import { createApp } from "../http/app.ts";
import type { Authenticator } from "../auth/types.ts";
import type { ServeConfig } from "../cli/config.ts";
import type { TlsMaterial } from "../front/types.ts";
import { ConfigError } from "../base/errors.ts";
import { type TrackedHandler, trackInFlight } from "./in_flight.ts";
import { Inventory, withInventory } from "../storage/inventory.ts";
import type { Logger } from "../base/log.ts";
import { Metrics } from "../status/metrics.ts";
import { checkPolicyAgainstFlags, parsePolicy, type Policy } from "../access/policy.ts";
import { withQuota } from "../storage/quota.ts";
import { SharedView } from "../storage/shared_view.ts";
import { TrustedProxies } from "../auth/client_address.ts";
import { LoginThrottle } from "../auth/throttle.ts";
import { StatusPage } from "../status/page.ts";
import { describeStorage, openStorage } from "../storage/mod.ts";
import type { Storage } from "../storage/types.ts";
import { VERSION } from "../base/version.ts";

const SHUTTING_DOWN = { ok: false, detail: "shutting down" };

/** Everything built from the configuration. */
export interface Wiring {
  /** The request pipeline, counting requests in flight. */
  app: TrackedHandler<Deno.ServeHandlerInfo>;
  /** The storage stack as the app uses it. */
  storage: Storage;
  inventory: Inventory;
  metrics: Metrics | null;
  /** TLS material read from the configured files, when serving HTTPS. */
  tls: TlsMaterial | null;
  /** What the server prints before `start server on …`. */
  startupLines: string[];
  /**
   * Counts what was stored before the start (and removes crash leftovers),
   * while the server already answers; settles with the line to log.
   */
  buildInventory(): Promise<string>;
  /** Re-reads the htpasswd file (SIGHUP). */
  reload(): Promise<void>;
  /** From now on `/healthz` answers 503: a shutdown has begun. */
  announceShutdown(): void;
  /** After the last request: tells servers sharing the location that this one stopped cleanly. */
  close(): Promise<void>;
}

/**
 * The authenticator the configuration asks for, loaded only when there is
 * one (the htpasswd one brings the hash libraries: 2.5 MiB of memory less
 * for a server without authentication).
 */
async function buildAuth(
  config: ServeConfig,
  log: Logger,
  throttle: LoginThrottle,
): Promise<Authenticator | null> {
  if (config.proxyAuthUsername !== null) {
    const { ProxyHeaderAuth } = await import("../auth/proxy_auth.ts");
    return new ProxyHeaderAuth(config.proxyAuthUsername);
  }
  if (config.noAuth) return null;
  const { HtpasswdAuth } = await import("../auth/htpasswd_auth.ts");
  return await HtpasswdAuth.load({ file: config.htpasswdFile, log, throttle });
}

async function readFileFor(file: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (err) {
    throw new ConfigError(`Cannot read ${what} "${file}": ${(err as Error).message}`);
  }
}

async function loadPolicy(config: ServeConfig): Promise<Policy | null> {
  if (config.policyFile === null) return null;
  const policy = parsePolicy(
    await readFileFor(config.policyFile, "policy file"),
    config.policyFile,
  );
  checkPolicyAgainstFlags(policy, config);
  return policy;
}

async function readTls(config: ServeConfig): Promise<TlsMaterial | null> {
  if (config.tls === null) return null;
  const { certFile, keyFile } = config.tls;
  const cert = await readFileFor(certFile, "TLS certificate");
  const key = await readFileFor(keyFile, "TLS key");
  const isKey = (pem: string) => /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem);
  const isCert = (pem: string) => pem.includes("-----BEGIN CERTIFICATE-----");
  if (isKey(cert) && isCert(key)) {
    throw new ConfigError(
      `Cannot use the TLS files: "${certFile}" holds a key and "${keyFile}" a certificate; ` +
        "swap --tls-cert and --tls-key",
    );
  }
  if (!isCert(cert)) {
    throw new ConfigError(
      `Cannot use --tls-cert "${certFile}": no PEM certificate in it (-----BEGIN CERTIFICATE-----)`,
    );
  }
  if (!isKey(key)) {
    throw new ConfigError(
      `Cannot use --tls-key "${keyFile}": no PEM private key in it (-----BEGIN PRIVATE KEY-----)`,
    );
  }
  return { cert, key };
}

/**
 * The storage stack: the medium, the inventory it keeps (shared with the
 * other servers on a bucket), and the limits when there are any.
 */
async function buildStorage(
  config: ServeConfig,
  inventory: Inventory,
  policy: Policy | null,
  log: Logger,
): Promise<{ storage: Storage; view: SharedView | null }> {
  const medium = await openStorage(config.storage, Deno.env.toObject());
  const view = medium.notes && config.syncIntervalSeconds > 0
    ? new SharedView({
      notes: medium.notes,
      inventory,
      scan: (onObject, options) => medium.scan(onObject, options),
      intervalMs: config.syncIntervalSeconds * 1000,
      log,
    })
    : null;
  const counted = withInventory(
    medium,
    inventory,
    Date.now,
    view ? (change) => view.record(change) : undefined,
  );
  const { maxSize } = config;
  const hasLimits = maxSize !== null || (policy?.hasLimits() ?? false);
  if (!hasLimits) return { storage: counted, view };
  const storage = withQuota(counted, inventory, (repo) => [
    ...(maxSize === null ? [] : [{ scope: [], maxBytes: maxSize }]),
    ...(policy?.limitsFor(repo) ?? []),
  ], view ?? undefined);
  return { storage, view };
}

/** Scans the storage into the inventory; the line says what was found and removed. */
async function countStored(
  storage: Storage,
  inventory: Inventory,
  maxSize: number | null,
): Promise<string> {
  const started = Date.now();
  const { removedTempFiles, finishedRemovals = 0 } = await storage.scan(() => {});
  inventory.markComplete();
  return [
    `inventory complete: ${inventory.objects} object(s), ${inventory.bytesUnder([])} bytes stored` +
    (maxSize === null ? "" : ` of ${maxSize} (--max-size)`) +
    ` (${((Date.now() - started) / 1000).toFixed(1)}s)`,
    ...(removedTempFiles > 0 ? [`removed ${removedTempFiles} unfinished upload(s)`] : []),
    ...(finishedRemovals > 0
      ? [`finished ${finishedRemovals} interrupted repository removal(s)`]
      : []),
  ].join("; ");
}

/** The start-up lines that describe the flags in effect. */
function flagLines(config: ServeConfig, metrics: Metrics | null, policy: Policy | null): string[] {
  return [
    config.appendOnly && "append-only mode",
    config.statusPage && "status page for browsers at / and /REPO/",
    config.allowRepoDelete && "repositories may be deleted (--allow-repo-delete)",
    metrics && `metrics at /metrics${config.prometheusNoAuth ? " (no authentication)" : ""}`,
    config.groupAccessibleRepos && "group-accessible repositories (0770/0660)",
    config.privateRepos && "private repositories",
    config.trustedProxies.length > 0 &&
    `client addresses from X-Forwarded-For of ${config.trustedProxies.join(", ")}`,
    policy && `policy: ${config.policyFile}`,
    !config.verifyUpload && "upload verification disabled (--no-verify-upload)",
  ].filter((line): line is string => typeof line === "string");
}

function statusPage(
  config: ServeConfig,
  inventory: Inventory,
  storage: Storage,
  policy: Policy | null,
): StatusPage {
  return new StatusPage({
    inventory,
    health: () => storage.health(),
    version: VERSION,
    startedMs: Date.now(),
    staleAfterSeconds: config.staleAfterSeconds,
    maxSizeBytes: config.maxSize,
    limitsFor: policy?.hasLimits() ? (repo) => policy.limitsFor(repo) : undefined,
  });
}

/** A warning when the storage takes no writes at start. */
async function writableLines(storage: Storage): Promise<string[]> {
  const writable = await storage.health();
  if (writable.ok) return [];
  return [
    `warning: the storage takes no writes (${writable.detail}): restic can list, read and ` +
    "restore; backups, creates and deletes answer 507 and /healthz 503 until it does",
  ];
}

/**
 * Builds the app and its parts from the configuration, reading the files it
 * names and preparing the storage (its leftovers removed, its objects counted).
 *
 * @param config The validated configuration.
 * @param log Where the app logs.
 * @returns The parts, ready to be served.
 * @throws {ConfigError} When a file cannot be used.
 */
export async function wire(config: ServeConfig, log: Logger): Promise<Wiring> {
  const throttle = new LoginThrottle({
    perAddress: config.loginFailures,
    perUser: config.loginFailuresPerUser,
    windowMs: config.loginWindowSeconds * 1000,
  }, log);
  const auth = await buildAuth(config, log, throttle);
  const policy = await loadPolicy(config);
  const tls = await readTls(config);
  const inventory = new Inventory();
  const { storage, view } = await buildStorage(config, inventory, policy, log);
  const storageLines = await storage.prepare();
  const metrics = config.prometheus ? new Metrics(inventory, config.maxSize) : null;
  const passwords = !config.noAuth && config.proxyAuthUsername === null;
  if (passwords) metrics?.countLogins(throttle);
  const status = config.statusPage ? statusPage(config, inventory, storage, policy) : null;
  let stopping = false;
  const app = trackInFlight(createApp({
    // From the first moment of a shutdown /healthz says 503: a load balancer stops sending first.
    storage: {
      ...storage,
      health: () => stopping ? Promise.resolve(SHUTTING_DOWN) : storage.health(),
    },
    log,
    auth,
    policy,
    metrics,
    metricsNoAuth: config.prometheusNoAuth,
    trustedProxies: TrustedProxies.parse(config.trustedProxies),
    status,
    inventoryComplete: () => inventory.complete,
    idleTimeoutMs: config.idleTimeoutSeconds > 0 ? config.idleTimeoutSeconds * 1000 : undefined,
    verifyUpload: config.verifyUpload,
    allowRepoDelete: config.allowRepoDelete,
    appendOnly: config.appendOnly,
    privateRepos: config.privateRepos,
  }));
  const startupLines = [
    `restic-rest ${VERSION}`,
    auth ? `authentication: ${auth.description}` : "authentication disabled (--no-auth)",
    await describeStorage(config.storage),
    ...storageLines,
    ...await writableLines(storage),
    ...flagLines(config, metrics, policy),
  ];
  return {
    app,
    storage,
    inventory,
    metrics,
    tls,
    startupLines,
    buildInventory: () => view ? view.start() : countStored(storage, inventory, config.maxSize),
    reload: async () => void await auth?.reload?.("SIGHUP"),
    announceShutdown: () => void (stopping = true),
    close: async () => await view?.close(),
  };
}
