/**
 * The hostile corpus's shared pieces: the case type and how cases are added.
 *
 * @module
 */

/** One hostile request and the one status it must get (0: the server hangs up unanswered). */
export interface HostileCase {
  name: string;
  method: string;
  target: string;
  headers: [string, string][];
  /** A body, or `[character, count]` for a long one. */
  body?: string | [string, number];
  /** Adds this many `X-Hn: v` headers. */
  manyHeaders?: number;
  expect: number;
}

/** alice's valid Basic credentials (a placeholder the test fills in). */
export const AUTH: [string, string] = ["Authorization", "{AUTH}"];
