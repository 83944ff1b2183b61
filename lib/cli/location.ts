/**
 * Where the repositories are, from the DIR argument or `--path`: a folder,
 * or an object store in restic's own URL syntax
 * (`s3:https://HOST[:PORT]/BUCKET[/PREFIX]`, `s3:HOST/BUCKET` for https).
 * Pure.
 *
 * @module
 */

import { ConfigError } from "../base/errors.ts";
import type { S3Location } from "../storage/choice.ts";

const BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$|^[A-Za-z0-9._-]{1,255}$/;

/** Other programs' repository schemes, which restic-rest does not serve. */
const OTHER_SCHEMES = /^(?:sftp|rest|rclone|b2|azure|gs|swift|local|file|http|https|ftp):/i;

/**
 * Refuses a location that looks like another kind of URL rather than a
 * folder: `s3://…` (restic writes `s3:…`), a scheme in capitals, or another
 * program's scheme. A folder whose name holds a colon can be given as
 * `./name:…`.
 *
 * @param location The DIR argument or `--path`.
 * @throws {ConfigError} Naming the location and the syntax that works.
 */
export function checkLocation(location: string): void {
  const s3 = "s3:https://HOST[:PORT]/BUCKET[/PREFIX]";
  if (/^s3:\/\//i.test(location)) {
    throw new ConfigError(
      `Cannot use "${location.replace(/@.*$/, "@…")}": restic's syntax is ${s3} ` +
        "(AWS: s3:s3.amazonaws.com/BUCKET/PREFIX)",
    );
  }
  if (/^s3:/i.test(location) && !location.startsWith("s3:")) {
    throw new ConfigError(
      `Cannot use "${location.split("@")[0]}": write the scheme in lower case, ${s3}`,
    );
  }
  const other = OTHER_SCHEMES.exec(location);
  if (other) {
    throw new ConfigError(
      `Cannot serve "${location.split("@")[0]}": restic-rest serves a folder or an S3-compatible ` +
        `store (Swift, MinIO, Ceph, B2 and R2 speak S3): give a folder or ${s3}` +
        " (for a folder with a colon in its name, start it with ./)",
    );
  }
}

/**
 * Tells whether a data location names an object store.
 *
 * @param location The DIR argument or `--path`.
 * @returns `true` for `s3:…`.
 */
export function isS3Url(location: string): boolean {
  return location.startsWith("s3:");
}

/**
 * Parses restic's `s3:` URL.
 *
 * @param location `s3:https://host:port/bucket/prefix`, or `s3:host/bucket/prefix` (https).
 * @returns The endpoint, bucket and prefix.
 * @throws {ConfigError} When it is not such a URL.
 */
export function parseS3Url(location: string): S3Location {
  const rest = location.slice("s3:".length);
  if (/^(?:https?:\/\/)?[^/]*@/.test(rest)) {
    // Never echoed: what stands before the @ is a key, or a secret.
    throw new ConfigError(
      "Cannot use an s3: location with credentials in it: give them in AWS_ACCESS_KEY_ID and " +
        "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and the location as s3:https://HOST[:PORT]/BUCKET[/PREFIX]",
    );
  }
  const withScheme = /^https?:\/\//.test(rest) ? rest : `https://${rest}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError(`Cannot use "${location}": give s3:https://HOST[:PORT]/BUCKET[/PREFIX]`);
  }
  const [bucket, ...prefix] = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (!bucket || !BUCKET_PATTERN.test(bucket) || url.search || url.hash || url.username) {
    throw new ConfigError(
      `Cannot use "${location}": give s3:https://HOST[:PORT]/BUCKET[/PREFIX] (a bucket name, no query)`,
    );
  }
  return {
    endpoint: `${url.protocol}//${url.host}`,
    bucket,
    prefix: prefix.length === 0 ? "" : `${prefix.join("/")}/`,
  };
}
