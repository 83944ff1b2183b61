/**
 * Who a request comes from: the socket's address, or, when that socket is a
 * proxy the admin named (`--trusted-proxy`), the address that proxy put in
 * `X-Forwarded-For`. Without a named proxy the header is ignored: anybody
 * can send it. Pure.
 *
 * @module
 */

import { ConfigError } from "../base/errors.ts";

/** An address range: the first `bits` bits of `value` (IPv4 mapped into IPv6). */
interface Range {
  value: bigint;
  bits: number;
}

function parseIpv4(text: string): bigint | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    return null;
  }
  return parts.reduce((sum, part) => (sum << 8n) | BigInt(part), 0n);
}

const V4_MAPPED = 0xffffn << 32n;

function parseIpv6(text: string): bigint | null {
  let head = text;
  let tail4: bigint | null = null;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    tail4 = parseIpv4(text.slice(lastColon + 1));
    if (tail4 === null) return null;
    head = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string) => part === "" ? [] : part.split(":");
  const left = groups(halves[0]);
  const right = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...left, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...right];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  const value = all.reduce((sum, g) => (sum << 16n) | BigInt(parseInt(g, 16)), 0n);
  return tail4 === null ? value : (value & ~0xffffffffn) | tail4;
}

/** An address without the brackets of a URL's IPv6 host (`[::1]` → `::1`). */
function unbracket(text: string): string {
  return text.trim().replace(/^\[|\]$/g, "");
}

/** An address as a 128-bit number (IPv4 as `::ffff:a.b.c.d`), or `null`. */
function parseAddress(text: string): bigint | null {
  const bare = unbracket(text);
  const v4 = parseIpv4(bare);
  if (v4 !== null) return V4_MAPPED | v4;
  return bare.includes(":") ? parseIpv6(bare) : null;
}

function inRange(address: bigint, range: Range): boolean {
  const shift = BigInt(128 - range.bits);
  return address >> shift === range.value >> shift;
}

/** The proxies whose `X-Forwarded-For` is believed. */
export class TrustedProxies {
  readonly #ranges: Range[];

  private constructor(ranges: Range[]) {
    this.#ranges = ranges;
  }

  /**
   * Reads `--trusted-proxy` values: addresses or CIDR ranges
   * (`10.0.0.5`, `10.0.0.0/8`, `::1`, `fd00::/8`).
   *
   * @param values The flag's values.
   * @returns The trusted proxies.
   * @throws {ConfigError} For a value that is not an address or range.
   */
  static parse(values: readonly string[]): TrustedProxies {
    return new TrustedProxies(values.map((text) => {
      const [address, prefix, extra] = text.split("/");
      const value = parseAddress(address);
      const isV4 = parseIpv4(address.trim()) !== null;
      const bits = prefix === undefined ? 128 : Number(prefix) + (isV4 ? 96 : 0);
      const max = isV4 ? 32 : 128;
      if (
        value === null || extra !== undefined ||
        (prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= max))
      ) {
        throw new ConfigError(
          `Cannot use --trusted-proxy "${text}": give an IP address or a range like 10.0.0.0/8`,
        );
      }
      return { value, bits };
    }));
  }

  /** Whether any proxy is trusted. */
  get any(): boolean {
    return this.#ranges.length > 0;
  }

  /**
   * Tells whether an address is one of the trusted proxies.
   *
   * @param address The address as text.
   * @returns `true` when a range holds it.
   */
  trusts(address: string): boolean {
    const value = parseAddress(address);
    return value !== null && this.#ranges.some((range) => inRange(value, range));
  }
}

/**
 * The client's address: the socket's, or, from a trusted proxy, the nearest
 * address in `X-Forwarded-For` that is not itself a trusted proxy.
 *
 * @param socketAddress The peer of the connection.
 * @param forwardedFor The `X-Forwarded-For` header, or `null`.
 * @param trusted The trusted proxies.
 * @returns The address to log and throttle by.
 */
export function clientAddress(
  socketAddress: string,
  forwardedFor: string | null,
  trusted: TrustedProxies | null,
): string {
  if (!trusted?.any || forwardedFor === null || !trusted.trusts(socketAddress)) {
    return socketAddress;
  }
  const hops = forwardedFor.split(",").map((hop) => hop.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (parseAddress(hops[i]) === null) return socketAddress; // garbage: trust nothing of it
    if (!trusted.trusts(hops[i])) return unbracket(hops[i]);
  }
  return hops.length > 0 ? unbracket(hops[0]) : socketAddress;
}

/**
 * The key an address is throttled by: an IPv4 address itself, an IPv6
 * address by its /64 (one machine usually holds a whole /64).
 *
 * @param address The client's address.
 * @returns The key.
 */
export function throttleKey(address: string): string {
  const value = parseAddress(address);
  if (value === null || (value >> 32n) === 0xffffn) return address;
  return `${(value >> 64n).toString(16).padStart(16, "0").replace(/(.{4})(?!$)/g, "$1:")}::/64`;
}
