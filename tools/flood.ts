/**
 * A password flood against one server, for the tests and for trying a
 * deployment: CLIENTS connections, each sending requests with a user name
 * and a random wrong password as fast as the answers come, from a chosen
 * local address (any 127.x.y.z on loopback, so the flood has an address of
 * its own). Prints one JSON line: requests, answers by status, and 429s
 * without a Retry-After. With `--user-bytes N`, every request names a new
 * random user of N bytes (a memory attack on tables keyed by user name);
 * `--requests N` stops after N answers.
 *
 *   deno run -A tools/flood.ts --url http://127.0.0.1:8000/anna/keys/ --user anna \
 *     --clients 16 --seconds 15 --from 127.0.0.2
 *
 * @module
 */

import net from "node:net";
import { parseArgs } from "node:util";

/** What the flood saw. */
export interface FloodReport {
  requests: number;
  statuses: Record<string, number>;
  missingRetryAfter: number;
}

function randomPassword(): string {
  return crypto.getRandomValues(new Uint32Array(4)).join("-");
}

/**
 * A new user name of `bytes` letters and digits, every one different: a
 * random head on a random body made once (a fresh 40 KiB of randomness per
 * request would keep the flood from flooding).
 */
const randomUser = (() => {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const random = (n: number) =>
    Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => alphabet[b % 36]).join("");
  let body = "";
  return (bytes: number): string => {
    if (body.length < bytes) body = random(bytes);
    return random(24) + body.slice(24, bytes);
  };
})();

/** What every connection of a flood does. */
interface Attack {
  url: URL;
  /** A fixed user name, or a new random one of this many bytes per request. */
  user: string | number;
  from?: string;
  deadline: number;
  /** Stop after this many answers in all. */
  requests: number;
}

/** One connection's loop: request, read the whole answer, again, until the deadline. */
async function attack(plan: Attack, report: FloodReport): Promise<void> {
  const { url, from, deadline } = plan;
  const goOn = () => Date.now() < deadline && report.requests < plan.requests;
  while (goOn()) {
    const socket = net.connect({
      host: url.hostname,
      port: Number(url.port),
      ...(from ? { localAddress: from } : {}),
    });
    let buffered = Buffer.alloc(0);
    let wake: (() => void) | null = null;
    let closed = false;
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      wake?.();
    });
    const onEnd = () => {
      closed = true;
      wake?.();
    };
    socket.on("close", onEnd);
    socket.on("error", onEnd);
    const more = () => new Promise<void>((resolve) => wake = resolve);
    while (!closed && goOn()) {
      const user = typeof plan.user === "string" ? plan.user : randomUser(plan.user);
      const credentials = btoa(`${user}:${randomPassword()}`);
      socket.write(
        `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Basic ${credentials}\r\n\r\n`,
      );
      let end: number;
      while ((end = buffered.indexOf("\r\n\r\n")) < 0 && !closed) await more();
      if (end < 0) break;
      const head = buffered.subarray(0, end).toString("latin1");
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      while (buffered.length < end + 4 + length && !closed) await more();
      buffered = buffered.subarray(end + 4 + length);
      const status = head.slice(9, 12);
      report.requests++;
      report.statuses[status] = (report.statuses[status] ?? 0) + 1;
      if (status === "429" && !/\r\nretry-after:\s*\d+/i.test(head)) report.missingRetryAfter++;
    }
    socket.destroy();
  }
}

/**
 * Runs a flood.
 *
 * @param options Target, user name, connections, duration and source address.
 * @returns What it saw.
 */
export async function flood(options: {
  url: string;
  user: string;
  clients: number;
  seconds: number;
  from?: string;
  userBytes?: number;
  requests?: number;
}): Promise<FloodReport> {
  const report: FloodReport = { requests: 0, statuses: {}, missingRetryAfter: 0 };
  const plan: Attack = {
    url: new URL(options.url),
    user: options.userBytes ?? options.user,
    from: options.from,
    deadline: Date.now() + options.seconds * 1000,
    requests: options.requests ?? Infinity,
  };
  await Promise.all(Array.from({ length: options.clients }, () => attack(plan, report)));
  return report;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      url: { type: "string" },
      user: { type: "string", default: "anna" },
      clients: { type: "string", default: "16" },
      seconds: { type: "string", default: "15" },
      from: { type: "string" },
      "user-bytes": { type: "string" },
      requests: { type: "string" },
    },
  });
  if (!values.url) throw new Error("give --url");
  const report = await flood({
    url: values.url,
    user: values.user!,
    clients: Number(values.clients),
    seconds: Number(values.seconds),
    from: values.from,
    userBytes: values["user-bytes"] ? Number(values["user-bytes"]) : undefined,
    requests: values.requests ? Number(values.requests) : undefined,
  });
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(report) + "\n"));
}
