/**
 * A flood of connections beyond the open-file limit. Deno.serve stops for
 * good when accept() fails with EMFILE; the server's own accept loop only
 * waits, --max-connections keeps the process under the limit, and Deno.serve
 * alone (the fallback front) is started again once the flood ends.
 */
import assert from "node:assert/strict";
import { eventually, tempDir } from "../helpers/files.ts";
import { E2E, startServerProcess } from "../helpers/process.ts";

/** Opens `count` connections that send nothing (fewer if the kernel refuses). */
async function flood(port: number, count: number): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < count; i++) {
    try {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    } catch {
      break; // the listen queue is full
    }
  }
  return conns;
}

function closeAll(conns: Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch { /* closed by the server */ }
  }
}

async function createRepo(url: string, timeoutMs = 20_000): Promise<number> {
  const response = await fetch(`${url}/?create=true`, {
    method: "POST",
    signal: AbortSignal.timeout(timeoutMs),
  });
  await response.body?.cancel();
  return response.status;
}

Deno.test({
  name:
    "fd exhaustion: with --max-connections, 300 silent connections under ulimit -n 256 never stop the server",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    await using server = await startServerProcess(
      [data.path, "--no-auth", "--header-timeout", "1", "--max-connections", "40"],
      { openFileLimit: 256 },
    );
    const port = Number(server.address.split(":").pop());
    const conns = await flood(port, 300);
    assert.ok(conns.length >= 150, `only ${conns.length} connections opened`);
    // Queued behind the flood, which the header timeout clears in batches.
    assert.equal(await createRepo(server.url), 200);
    closeAll(conns);
    assert.equal(await createRepo(server.url), 200);
    assert.ok(
      server.stderr.some((l) => /40 connections open \(--max-connections\): new ones wait/.test(l)),
      "the limit is logged",
    );
    assert.ok(!server.stderr.some((l) => /HTTP server stopped/.test(l)), server.stderr.join("\n"));
    assert.equal(await server.stop(), 0, "a clean exit");
  },
});

Deno.test({
  name:
    "fd exhaustion: with --header-timeout 0, a flood past ulimit -n 96 delays accepting but never stops the server",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    await using server = await startServerProcess(
      [data.path, "--no-auth", "--header-timeout", "0"],
      { openFileLimit: 96 },
    );
    const port = Number(server.address.split(":").pop());
    const conns = await flood(port, 150);
    await new Promise((r) => setTimeout(r, 500));
    closeAll(conns);
    let lastError = "";
    const served = await eventually(async () => {
      try {
        return await createRepo(server.url, 2000) === 200;
      } catch (err) {
        lastError = `${err} (${(err as Error).cause})`;
        return false;
      }
    }, 15_000);
    assert.ok(served, `not served: ${lastError}\n${server.stderr.join("\n")}`);
    assert.ok(
      server.stderr.some((l) => /accepting a connection failed: .*Too many open files/.test(l)),
      "the server ran out of descriptors: " + server.stderr.join("\n"),
    );
    assert.ok(!server.stderr.some((l) => /HTTP server stopped/.test(l)), server.stderr.join("\n"));
    assert.equal(await server.stop(), 0, "a clean exit");
  },
});

Deno.test({
  name: "fd exhaustion: Deno.serve alone (the fallback front) serves again once a flood has gone",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    const script = `
      import { PlainFront } from "${new URL("../../lib/front/plain.ts", import.meta.url).href}";
      // As main.ts does before serving (Deno cannot register one without a free descriptor).
      Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
      const front = new PlainFront({
        listen: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
        tls: null,
        log: { debug: () => {}, error: (m) => console.error(m) },
        onError: () => new Response("error", { status: 500 }),
      });
      const address = await front.serve(() => new Response("ok"));
      console.error("start server on 127.0.0.1:" + address.port);
    `;
    const file = `${data.path}/plain.ts`;
    await Deno.writeTextFile(file, script);
    const child = new Deno.Command("bash", {
      args: ["-c", 'ulimit -n 96 && exec "$@"', "bash", Deno.execPath(), "run", "-A", file],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const lines: string[] = [];
    const reading = (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
        lines.push(...text.split("\n").filter(Boolean));
      }
    })();
    try {
      assert.ok(await eventually(() => lines.some((l) => l.startsWith("start server on")), 20_000));
      const url = `http://${lines.find((l) => l.startsWith("start server on"))!.slice(16)}`;
      const conns = await flood(Number(url.split(":").pop()), 150);
      await new Promise((r) => setTimeout(r, 500));
      closeAll(conns);
      const served = await eventually(async () => {
        try {
          const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
          return (await response.text()) === "ok";
        } catch {
          return false;
        }
      }, 15_000);
      assert.ok(served, lines.join("\n"));
      assert.ok(
        lines.some((l) => /HTTP server stopped .*Too many open files/.test(l)),
        lines.join("\n"),
      );
      assert.ok(lines.some((l) => /HTTP server is back on/.test(l)));
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await reading.catch(() => {});
    }
  },
});
