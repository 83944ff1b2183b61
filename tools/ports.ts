/**
 * A free loopback port, for the tools, tests and benchmarks that start
 * servers on loopback (a port another process may take before it is used:
 * good enough on a test machine).
 *
 * @module
 */

/**
 * Asks the system for a free port on 127.0.0.1 and releases it.
 *
 * @returns The port.
 */
export function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr;
  probe.close();
  return port;
}
