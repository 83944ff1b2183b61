/**
 * The policy file: per user, which repository paths they may reach and in
 * which mode; per repository path, an optional size limit. JSON, so no
 * parser dependency is needed; the modes mean what `access.ts` says. See
 * README "Access control" for an example.
 *
 * ```json
 * {
 *   "users": {
 *     "admin": { "/": "full" },
 *     "*": { "/{user}/": "append-only", "/shared/": "read-only" }
 *   },
 *   "repositories": { "/*\/": { "maxSize": "50G" } }
 * }
 * ```
 *
 * @module
 */

import type { AccessMode, AccessPolicy } from "./access.ts";
import { ConfigError } from "../base/errors.ts";
import { USERNAME_PATTERN } from "../base/restic.ts";
import type { ScopedLimit } from "../storage/quota.ts";
import { isValidRepoSegment, type RepoPath } from "../base/repo_path.ts";
import { parseSize } from "../base/units.ts";

const MODES: readonly AccessMode[] = ["read-only", "append-only", "full"];
/** Stands for the requesting user's own name in a user rule. */
export const USER_PLACEHOLDER = "{user}";
/** Matches any one folder. */
export const ANY_SEGMENT = "*";

interface Rule {
  pattern: string[];
  mode: AccessMode;
  /** `true` for rules under the user's own name, which beat `*` rules of the same length. */
  named: boolean;
  source: string;
}

/** A size limit for every repository below a path. */
export interface SizeLimit {
  pattern: string[];
  maxBytes: number;
  source: string;
}

/** A loaded, validated policy: access modes, and size limits. */
export interface Policy extends AccessPolicy {
  /** The size limits that apply to a repository. */
  limitsFor(repo: RepoPath): ScopedLimit[];
  /** Whether the policy sets any size limit. */
  hasLimits(): boolean;
  /** Every user rule, for start-up checks: `[user or *, pattern, mode]`. */
  rules(): [string, string, AccessMode][];
}

function parsePattern(text: string, where: string, allowUser: boolean): string[] {
  if (!text.startsWith("/") || !text.endsWith("/")) {
    throw new ConfigError(
      `Cannot use policy path "${text}" (${where}): it must start and end with /`,
    );
  }
  const segments = text === "/" ? [] : text.slice(1, -1).split("/");
  for (const segment of segments) {
    const special = segment === ANY_SEGMENT || (allowUser && segment === USER_PLACEHOLDER);
    if (!special && (!isValidRepoSegment(segment) || /[{}*]/.test(segment))) {
      throw new ConfigError(
        `Cannot use policy path "${text}" (${where}): "${segment}" is not a valid folder name` +
          (allowUser ? "" : `; use ${ANY_SEGMENT} for any folder`),
      );
    }
  }
  return segments;
}

function matches(pattern: readonly string[], repo: RepoPath, user: string | null): boolean {
  if (pattern.length > repo.length) return false;
  return pattern.every((segment, i) =>
    segment === ANY_SEGMENT ||
    (segment === USER_PLACEHOLDER ? repo[i] === user : repo[i] === segment)
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses and validates a policy file's text.
 *
 * @param text The JSON text.
 * @param file The file name, for messages.
 * @returns The policy.
 * @throws {ConfigError} Naming the first problem.
 */
export function parsePolicy(text: string, file: string): Policy {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`Cannot read policy file "${file}": ${(err as Error).message}`);
  }
  if (!isObject(data)) {
    throw new ConfigError(`Cannot read policy file "${file}": expected an object`);
  }
  for (const key of Object.keys(data)) {
    if (key !== "users" && key !== "repositories") {
      throw new ConfigError(`Cannot read policy file "${file}": unknown key "${key}"`);
    }
  }
  return makePolicy(
    parseUserRules(data.users ?? {}, file),
    parseLimits(data.repositories ?? {}, file),
  );
}

function parseUserRules(users: unknown, file: string): Rule[] {
  if (!isObject(users)) {
    throw new ConfigError(`Cannot read policy file "${file}": "users" must be an object`);
  }
  const rules: Rule[] = [];
  for (const [user, paths] of Object.entries(users)) {
    if (user !== "*" && !USERNAME_PATTERN.test(user)) {
      throw new ConfigError(`Cannot use policy user "${user}" in "${file}": not a valid user name`);
    }
    if (!isObject(paths)) {
      throw new ConfigError(
        `Cannot use policy user "${user}" in "${file}": give {"/path/": "mode"}`,
      );
    }
    for (const [path, mode] of Object.entries(paths)) {
      const where = `user "${user}" in ${file}`;
      if (!MODES.includes(mode as AccessMode)) {
        throw new ConfigError(`Cannot use mode "${mode}" (${where}): use ${MODES.join(", ")}`);
      }
      rules.push({
        pattern: parsePattern(path, where, true),
        mode: mode as AccessMode,
        named: user !== "*",
        source: user,
      });
    }
  }
  return rules;
}

function parseLimits(repositories: unknown, file: string): SizeLimit[] {
  if (!isObject(repositories)) {
    throw new ConfigError(`Cannot read policy file "${file}": "repositories" must be an object`);
  }
  const limits: SizeLimit[] = [];
  for (const [path, settings] of Object.entries(repositories)) {
    const where = `repository "${path}" in ${file}`;
    if (!isObject(settings) || Object.keys(settings).some((k) => k !== "maxSize")) {
      throw new ConfigError(`Cannot use ${where}: give {"maxSize": "10G"}`);
    }
    if (settings.maxSize === undefined) continue;
    const maxBytes = parseSize(String(settings.maxSize));
    limits.push({ pattern: parsePattern(path, where, false), maxBytes, source: path });
  }
  return limits;
}

function makePolicy(rules: Rule[], limits: SizeLimit[]): Policy {
  return {
    modeFor(user, repo) {
      if (!USERNAME_PATTERN.test(user)) return null;
      let best: Rule | null = null;
      for (const rule of rules) {
        if (rule.named && rule.source !== user) continue;
        if (!matches(rule.pattern, repo, user)) continue;
        const better = best === null || rule.pattern.length > best.pattern.length ||
          (rule.pattern.length === best.pattern.length && rule.named && !best.named);
        if (better) best = rule;
      }
      return best?.mode ?? null;
    },
    hasLimits: () => limits.length > 0,
    limitsFor(repo) {
      return limits
        .filter((limit) => matches(limit.pattern, repo, null))
        .map((limit) => ({ scope: repo.slice(0, limit.pattern.length), maxBytes: limit.maxBytes }));
    },
    rules() {
      return rules.map((rule) => [
        rule.source,
        rule.pattern.length === 0 ? "/" : `/${rule.pattern.join("/")}/`,
        rule.mode,
      ]);
    },
  };
}

/**
 * Refuses a policy whose rules contradict the simple flags. (A policy with
 * `--no-auth` is refused with the other flag checks, in `config.ts`.)
 *
 * @param policy The loaded policy.
 * @param flags The flags it must agree with.
 * @throws {ConfigError} Naming the conflicting rule and the fix.
 */
export function checkPolicyAgainstFlags(
  policy: Policy,
  flags: { appendOnly: boolean; privateRepos: boolean },
): void {
  for (const [user, path, mode] of policy.rules()) {
    if (flags.appendOnly && mode === "full") {
      throw new ConfigError(
        `Cannot combine --append-only with policy rule "${user}" → ${path} "full": ` +
          `drop --append-only or make the rule "append-only"`,
      );
    }
    const first = path.split("/")[1];
    if (flags.privateRepos && first !== USER_PLACEHOLDER && first !== user) {
      throw new ConfigError(
        `Cannot combine --private-repos with policy rule "${user}" → ${path}: ` +
          `it reaches repositories outside the user's own; drop --private-repos or the rule`,
      );
    }
  }
}
