/**
 * The real restic client, with a test password and a private cache.
 *
 * @module
 */

/** Result of a restic run. */
export interface ResticResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `restic` binary with a test password and a private cache. */
export async function restic(
  repo: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<ResticResult> {
  const output = await new Deno.Command("restic", {
    args: ["-r", repo, "--no-cache", ...args],
    env: { RESTIC_PASSWORD: "test-password-1", ...env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs restic and fails with its output when it does not exit 0. */
export async function resticOk(
  repo: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const result = await restic(repo, args, env);
  if (result.code !== 0) {
    throw new Error(
      `restic ${args.join(" ")} exited ${result.code}:\n${result.stderr}\n${result.stdout}`,
    );
  }
  return result.stdout;
}
