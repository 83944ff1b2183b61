/**
 * How to sign for an object store: credentials the way restic and the AWS
 * tools take them (the `AWS_*` variables, or a profile of the shared
 * credentials file). Where the store is comes from `cli/location.ts`.
 *
 * @module
 */

import { ConfigError } from "../../base/errors.ts";

/** Credentials and region for signing (never logged, never in an error message). */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region: string;
}

/** The profiles of an AWS shared credentials file (`[name]` sections of `key = value`). */
export function parseCredentialsFile(text: string): Map<string, Record<string, string>> {
  const profiles = new Map<string, Record<string, string>>();
  let current: Record<string, string> | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (section) {
      profiles.set(section[1], current = {});
      continue;
    }
    const eq = line.indexOf("=");
    if (current && eq > 0) {
      current[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
    }
  }
  return profiles;
}

/**
 * The credentials from the environment, as restic and the AWS tools read
 * them: `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (with
 * `AWS_SESSION_TOKEN`), or else `AWS_PROFILE` (default `default`) in
 * `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`).
 *
 * @param env The environment.
 * @returns The credentials and region.
 * @throws {ConfigError} When there are none; the message names the variables, never a value.
 */
export async function credentialsFrom(
  env: Record<string, string | undefined>,
): Promise<S3Credentials> {
  const region = env.AWS_DEFAULT_REGION || env.AWS_REGION || "us-east-1";
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN || undefined,
      region,
    };
  }
  const file = env.AWS_SHARED_CREDENTIALS_FILE || `${env.HOME ?? ""}/.aws/credentials`;
  const profile = env.AWS_PROFILE || "default";
  let text = "";
  try {
    text = await Deno.readTextFile(file);
  } catch { /* no file: the message below */ }
  const entry = parseCredentialsFile(text).get(profile);
  if (entry?.aws_access_key_id && entry.aws_secret_access_key) {
    return {
      accessKeyId: entry.aws_access_key_id,
      secretAccessKey: entry.aws_secret_access_key,
      sessionToken: entry.aws_session_token || undefined,
      region: env.AWS_DEFAULT_REGION || env.AWS_REGION || entry.region || region,
    };
  }
  throw new ConfigError(
    "Cannot sign for the object store: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, " +
      `or AWS_PROFILE with a profile in ${file}`,
  );
}
