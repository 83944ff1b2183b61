/**
 * Reading the units people write on a command line or in a policy file:
 * sizes (`500M`, `10G`) and seconds. Pure.
 *
 * @module
 */

import { ConfigError } from "./errors.ts";

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

/**
 * Parses a number of seconds, 0 or more (fractions allowed).
 *
 * @param flag The flag, for the message.
 * @param value The text given.
 * @returns Seconds.
 * @throws {ConfigError} When it is not a number of seconds.
 */
export function parseSeconds(flag: string, value: string): number {
  const seconds = Number(value);
  if (value.trim() === "" || !Number.isFinite(seconds) || seconds < 0) {
    throw new ConfigError(`Cannot use ${flag} "${value}": give seconds, 0 or more`);
  }
  return seconds;
}

/**
 * Parses a whole number above 0.
 *
 * @param flag The flag, for the message.
 * @param value The text given.
 * @returns The number.
 * @throws {ConfigError} When it is not a whole number above 0.
 */
export function parseCount(flag: string, value: string): number {
  const count = Number(value);
  if (value.trim() === "" || !Number.isSafeInteger(count) || count < 1) {
    throw new ConfigError(`Cannot use ${flag} "${value}": give a whole number above 0`);
  }
  return count;
}

const DURATION_UNITS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Parses a duration above 0: seconds, or a number with s, m, h or d
 * (`90m`, `48h`, `2d`).
 *
 * @param flag The flag, for the message.
 * @param value The text given.
 * @returns Seconds.
 * @throws {ConfigError} When it is not a duration above 0.
 */
export function parseDuration(flag: string, value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/i.exec(value);
  const seconds = match ? Number(match[1]) * DURATION_UNITS[match[2].toLowerCase()] : NaN;
  if (!(seconds > 0) || !Number.isFinite(seconds)) {
    throw new ConfigError(
      `Cannot use ${flag} "${value}": give a duration above 0, like 90m, 48h or 2d`,
    );
  }
  return seconds;
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * Writes a byte count for people: `0 B`, `512 B`, `1.5 GiB`.
 *
 * @param bytes The count.
 * @returns The count with a binary unit, three significant digits.
 */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${BYTE_UNITS[unit]}`;
}
