/**
 * Listen addresses: parsed from `--listen`, printed in the start-up line.
 * Pure.
 *
 * @module
 */

import { ConfigError } from "../base/errors.ts";

/** Where the server listens. */
export type ListenAddress =
  | { transport: "tcp"; hostname: string; port: number }
  | { transport: "unix"; path: string };

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
 * @param address The address a listener reports.
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
