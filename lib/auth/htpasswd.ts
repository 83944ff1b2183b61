/**
 * htpasswd files: parsing, password verification for every hash format
 * Apache's `htpasswd` writes, and writing bcrypt entries. Pure but for
 * hashing; file I/O lives in `auth.ts` and `user_command.ts`.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import * as apacheMd5Module from "apache-md5";
import bcrypt from "bcryptjs";
import { encrypt as shaCrypt } from "unixcrypt";
import { USERNAME_PATTERN } from "../base/restic.ts";

// apache-md5 is CommonJS (`module.exports = fn`) but its types declare an
// ES default export, which Deno types as the whole module; the cast says what
// is really there.
const apacheMd5 = apacheMd5Module.default as unknown as (password: string, salt: string) => string;

/** The bcrypt cost of entries written by `restic-rest user add`. */
export const BCRYPT_COST = 10;

/** The hash formats understood. */
export type HashFormat = "bcrypt" | "sha1" | "apr1" | "sha256crypt" | "sha512crypt";

const FORMATS: [RegExp, HashFormat][] = [
  [/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/, "bcrypt"],
  [/^\{SHA\}[A-Za-z0-9+/]{27}=$/, "sha1"],
  [/^\$apr1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}$/, "apr1"],
  [/^\$5\$(rounds=\d+\$)?[^$]{1,16}\$[./A-Za-z0-9]{43}$/, "sha256crypt"],
  [/^\$6\$(rounds=\d+\$)?[^$]{1,16}\$[./A-Za-z0-9]{86}$/, "sha512crypt"],
];

/**
 * Names the format of a stored hash.
 *
 * @param hash The hash field of an htpasswd line.
 * @returns The format, or `null` when it is not one we can verify.
 */
export function hashFormat(hash: string): HashFormat | null {
  for (const [pattern, format] of FORMATS) if (pattern.test(hash)) return format;
  return null;
}

/**
 * Roughly how long one check against a hash takes here (ms), from its format
 * and cost parameters (measured on a 2-core machine: bcrypt cost 10 65 ms,
 * SHA-crypt 5000 rounds 18-19 ms, apr1 4 ms, {SHA} 0.02 ms). Only the order
 * matters much: it picks the entry an unknown user is checked against.
 *
 * @param hash A stored hash.
 * @returns The estimate; 0 for an unknown format.
 */
export function estimatedCheckMs(hash: string): number {
  switch (hashFormat(hash)) {
    case "bcrypt":
      return 0.064 * 2 ** Number(hash.slice(4, 6));
    case "sha256crypt":
    case "sha512crypt": {
      const rounds = /^\$[56]\$rounds=(\d+)\$/.exec(hash);
      return 0.0038 * Math.min(999_999_999, Math.max(1000, rounds ? Number(rounds[1]) : 5000));
    }
    case "apr1":
      return 4;
    case "sha1":
      return 0.02;
    default:
      return 0;
  }
}

/** The result of parsing an htpasswd file. */
export interface ParsedHtpasswd {
  /** User name to stored hash, in file order. */
  users: Map<string, string>;
  /** One message per skipped line, naming the line number but never the hash. */
  warnings: string[];
  /** Lines that were neither blank nor comments. */
  entryLines: number;
}

/**
 * Parses an htpasswd file: `user:hash` lines; `#` comments and blank lines
 * skipped; unusable lines skipped with a warning.
 *
 * @param text The file content.
 * @returns Users and warnings.
 */
export function parseHtpasswd(text: string): ParsedHtpasswd {
  const users = new Map<string, string>();
  const warnings: string[] = [];
  let entryLines = 0;
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].trim();
    if (line === "" || line.startsWith("#")) continue;
    entryLines++;
    const lineNo = index + 1;
    const colon = line.indexOf(":");
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (colon < 0) {
      warnings.push(`line ${lineNo}: no "user:hash" pair, skipped`);
    } else if (!USERNAME_PATTERN.test(user)) {
      warnings.push(`line ${lineNo}: the user name is not letters, digits or @._-, skipped`);
    } else if (hashFormat(hash) === null) {
      warnings.push(`line ${lineNo}: user "${user}" has an unsupported hash format, skipped`);
    } else {
      if (users.has(user)) warnings.push(`line ${lineNo}: user "${user}" again, this line wins`);
      users.set(user, hash);
    }
  }
  return { users, warnings, entryLines };
}

function constantTimeEqual(a: string, b: string): boolean {
  // Fixed-length digests, so neither the content nor the length leaks.
  const digest = (text: string): Buffer => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * apache-md5 hashes one byte per character (a "binary string"), while
 * Apache hashes the password's UTF-8 bytes: hand it those bytes.
 */
function utf8AsBinaryString(text: string): string {
  return String.fromCharCode(...new TextEncoder().encode(text));
}

/**
 * Checks a password against a stored hash in constant time (for the
 * comparison; the hash itself takes what its format costs).
 *
 * @param password The password the client sent.
 * @param hash The stored hash.
 * @returns Whether they match; `false` for an unknown format.
 */
export function verifyPassword(password: string, hash: string): boolean {
  switch (hashFormat(hash)) {
    case "bcrypt":
      return bcrypt.compareSync(password, hash);
    case "sha1":
      return constantTimeEqual(
        `{SHA}${createHash("sha1").update(password).digest("base64")}`,
        hash,
      );
    case "apr1":
      return constantTimeEqual(apacheMd5(utf8AsBinaryString(password), hash), hash);
    case "sha256crypt":
    case "sha512crypt":
      return constantTimeEqual(shaCrypt(password, hash.slice(0, hash.lastIndexOf("$"))), hash);
    default:
      return false;
  }
}

/**
 * Hashes a password for a new htpasswd entry (bcrypt, `$2y$` as Apache writes it).
 *
 * @param password The new password.
 * @returns The bcrypt hash.
 */
export function hashPassword(password: string): string {
  return bcrypt.hashSync(password, BCRYPT_COST).replace(/^\$2[ab]\$/, "$2y$");
}

/**
 * Sets or removes one user in htpasswd text, keeping every other line
 * (comments included) as it was.
 *
 * @param text The current file content ("" for a new file).
 * @param user The user name.
 * @param hash The new hash, or `null` to remove the user.
 * @returns The new content, ending in a newline.
 */
export function updateHtpasswd(text: string, user: string, hash: string | null): string {
  const lines = text.split(/\r?\n/).filter((line, i, all) => line !== "" || i < all.length - 1);
  const isUser = (line: string): boolean => line.trim().startsWith(`${user}:`);
  const kept = lines.filter((line) => !isUser(line));
  const at = lines.findIndex(isUser);
  if (hash !== null) {
    if (at < 0) kept.push(`${user}:${hash}`);
    else kept.splice(at, 0, `${user}:${hash}`);
  }
  return kept.length === 0 ? "" : kept.join("\n") + "\n";
}
