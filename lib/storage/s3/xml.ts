/**
 * The few XML documents of the S3 API the storage reads: a ListObjectsV2
 * page and an error. Parsed with `fast-xml-parser`; keys are decoded, sizes
 * and times turned into numbers.
 *
 * @module
 */

import { XMLParser } from "fast-xml-parser";

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  isArray: (name) => name === "Contents" || name === "CommonPrefixes",
});

/** One page of a bucket listing. */
export interface ListResult {
  keys: { key: string; size: number; mtimeMs: number; etag: string }[];
  /** Key prefixes one level down, with a delimiter. */
  prefixes: string[];
  /** Where the next page starts; `null` on the last page. */
  next: string | null;
}

/**
 * Reads a ListObjectsV2 answer.
 *
 * @param xml The body.
 * @returns Keys, prefixes and the continuation token.
 */
export function parseList(xml: string): ListResult {
  const result = parser.parse(xml).ListBucketResult ?? {};
  const contents: { Key?: string; Size?: string; LastModified?: string; ETag?: string }[] =
    result.Contents ?? [];
  return {
    keys: contents.map((c) => ({
      key: String(c.Key ?? ""),
      size: Number(c.Size ?? 0),
      mtimeMs: Date.parse(String(c.LastModified ?? "")) || 0,
      etag: String(c.ETag ?? ""),
    })),
    prefixes: (result.CommonPrefixes ?? []).map((p: { Prefix?: string }) => String(p.Prefix ?? "")),
    next: String(result.IsTruncated) === "true" ? String(result.NextContinuationToken ?? "") : null,
  };
}

/**
 * The code of an S3 error answer (`NoSuchKey`, `BadDigest`, …), or `""`.
 *
 * @param xml The body (only its code is kept: the rest may echo a key id).
 * @returns The code.
 */
export function errorCode(xml: string): string {
  try {
    return String(parser.parse(xml).Error?.Code ?? "");
  } catch {
    return "";
  }
}
