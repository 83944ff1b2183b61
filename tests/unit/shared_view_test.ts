/**
 * The shared view of servers on one location, on a storage in memory with
 * notes in memory and a clock the test moves: every server ends with the
 * view a fresh listing would give, whichever server wrote, whatever raced a
 * listing, and whoever died; limits shared by three servers are never
 * overshot together.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Inventory, withInventory } from "../../lib/storage/inventory.ts";
import { SharedView } from "../../lib/storage/shared_view.ts";
import { withQuota } from "../../lib/storage/quota.ts";
import type { FoundObject, ObjectRef, ScanOptions, SharedNotes } from "../../lib/storage/types.ts";
import { keyOf, MemoryStorage } from "../helpers/memory_storage.ts";
import type { Logger } from "../../lib/base/log.ts";
import type { ObjectType } from "../../lib/base/restic.ts";

const INTERVAL = 10_000;

/** Notes in memory: what a bucket's notes folder holds. */
class MemoryNotes implements SharedNotes {
  readonly texts = new Map<string, { text: string; tag: string }>();
  #tags = 0;
  /** Runs while a listing of the notes is under way. */
  onList: (() => Promise<void>) | null = null;
  async list() {
    await this.onList?.();
    return [...this.texts].map(([name, { tag }]) => ({ name, tag }));
  }
  read(name: string) {
    return Promise.resolve(this.texts.get(name)?.text ?? null);
  }
  write(name: string, text: string) {
    this.texts.set(name, { text, tag: String(++this.#tags) });
    return Promise.resolve();
  }
  remove(name: string) {
    this.texts.delete(name);
    return Promise.resolve();
  }
}

const quiet: Logger = {
  info: () => {},
  warn: () => {},
  error: () => {},
  debug: () => {},
  debugEnabled: false,
  accessEnabled: false,
  access: () => {},
};

/** One location (storage + notes) and a clock. */
class Location {
  readonly memory = new MemoryStorage();
  readonly notes = new MemoryNotes();
  clock = 1_000_000;
  /** Called after each object a listing reports, with how many so far. */
  duringListing: ((seen: number) => Promise<void>) | null = null;

  /**
   * Lists as a bucket does: in key order, reading the current state as it
   * goes, so writes while it runs are seen or not by where their key sorts.
   */
  async scan(onObject: (found: FoundObject) => void, options: ScanOptions = {}) {
    let after = "";
    let seen = 0;
    for (;;) {
      const next = [...this.memory.objects.keys()].filter((k) => k > after).sort()[0];
      if (next === undefined) break;
      after = next;
      const listed: FoundObject[] = [];
      await this.memory.scan((found) => {
        if (keyOf(found.ref) === next) listed.push(found);
      });
      for (const found of listed) {
        onObject(found);
        if (found.ref.type === "config") options.onRepo?.(found.ref.repo);
      }
      await this.duringListing?.(++seen);
    }
    for (const prefix of this.memory.created) options.onRepo?.(prefix.split("/").slice(0, -1));
    return { removedTempFiles: 0 };
  }

  /** What a fresh listing counts now. */
  async truth(): Promise<Inventory> {
    const inventory = new Inventory();
    await this.memory.scan((found) => inventory.added(found.ref, found.size, found.mtimeMs), {
      onRepo: (repo) => inventory.repoCreated(repo),
    });
    return inventory;
  }

  server(): Server {
    const inventory = new Inventory();
    const now = () => this.clock;
    const view = new SharedView({
      notes: this.notes,
      inventory,
      scan: (onObject, options) => this.scan(onObject, options),
      intervalMs: INTERVAL,
      log: quiet,
      now,
    });
    const storage = withInventory(this.memory, inventory, now, (c) => view.record(c));
    return { inventory, view, storage };
  }
}

interface Server {
  inventory: Inventory;
  view: SharedView;
  storage: ReturnType<typeof withInventory>;
}

let names = 0;
function ref(repo: string[], type: ObjectType, first = ""): ObjectRef {
  const name = (first + createHash("sha256").update(String(names++)).digest("hex")).slice(0, 64);
  return { repo, type, name };
}

async function store(server: Server, target: ObjectRef, size: number): Promise<void> {
  await server.storage.save(target, new Uint8Array(size), {
    verifyHash: false,
    contentLength: size,
  });
}

/** What an inventory says, in a form that compares. */
function summary(inventory: Inventory) {
  return {
    total: inventory.bytesUnder([]),
    objects: inventory.objects,
    repos: [...inventory.repos()].filter(([, s]) => s.exists || s.count > 0).map((
      [path, s],
    ) => ({
      path,
      bytes: s.bytes,
      count: s.count,
      objects: s.objects,
      snapshots: [...s.snapshots.keys()].sort(),
      exists: s.exists,
    })).sort((a, b) => a.path.localeCompare(b.path)),
  };
}

async function assertAllSeeTruth(location: Location, servers: Server[], what: string) {
  const truth = summary(await location.truth());
  for (const [i, server] of servers.entries()) {
    assert.deepEqual(summary(server.inventory), truth, `${what}: server ${i}`);
  }
}

async function roundOnAll(location: Location, servers: Server[]) {
  location.clock += INTERVAL;
  for (const server of servers) await server.view.syncNow();
  for (const server of servers) await server.view.syncNow();
}

Deno.test("servers on one location see each other's writes, new repositories and deletes", async () => {
  const location = new Location();
  const [a, b, c] = [location.server(), location.server(), location.server()];
  for (const server of [a, b, c]) await server.view.start();
  await a.storage.createRepo(["office"]);
  await store(a, { repo: ["office"], type: "config" }, 155);
  const pack = ref(["office"], "data");
  await store(a, pack, 4_000_000);
  await store(b, ref(["office"], "snapshots"), 300);
  await c.storage.createRepo(["anna", "laptop"]);
  await store(c, ref(["anna", "laptop"], "data"), 1_000_000);
  await roundOnAll(location, [a, b, c]);
  await assertAllSeeTruth(location, [a, b, c], "after writes through each");
  assert.equal(a.inventory.bytesUnder([]), 5_000_455);
  await b.storage.remove(pack);
  await c.storage.removeRepo(["anna", "laptop"]);
  await roundOnAll(location, [a, b, c]);
  await assertAllSeeTruth(location, [a, b, c], "after a delete and a repository removal");
  assert.equal(a.view.servers(), 3);
  assert.deepEqual([a, b, c].map((s) => s.view.listings), [1, 1, 1], "no listing needed");
});

Deno.test("writes and deletes that race a listing are counted once", async () => {
  const location = new Location();
  const writer = location.server();
  await writer.view.start();
  await writer.storage.createRepo(["r"]);
  const early = Array.from({ length: 6 }, (_, i) => ref(["r"], "data", `${i}`));
  for (const target of early) await store(writer, target, 1000);
  await roundOnAll(location, [writer]);
  // A second server starts; halfway through its listing the first one writes and deletes.
  const late = location.server();
  location.duringListing = async (seen) => {
    if (seen !== 3) return;
    location.clock += 1000;
    await store(writer, ref(["r"], "data", "0"), 10); // sorts before: the listing misses it
    await store(writer, ref(["r"], "data", "f"), 20); // sorts after: the listing sees it
    await writer.storage.remove(early[0]); // already listed: the listing counts it
    await writer.storage.remove(early[5]); // not yet listed: the listing misses it
    await store(writer, ref(["r"], "snapshots"), 30);
    await writer.view.syncNow(); // published while the listing still runs
    await store(writer, ref(["r"], "data", "e"), 40); // published only after it ended
  };
  await late.view.start();
  location.duringListing = null;
  await roundOnAll(location, [writer, late]);
  await assertAllSeeTruth(location, [writer, late], "after the race");
  // And the window closes: later writes still count exactly once.
  location.clock += 5 * INTERVAL;
  await store(late, ref(["r"], "data", "1"), 50);
  await roundOnAll(location, [writer, late]);
  await assertAllSeeTruth(location, [writer, late], "after the window");
});

Deno.test("a server that dies before publishing: the others list and find its writes", async () => {
  const location = new Location();
  const [a, b] = [location.server(), location.server()];
  await a.view.start();
  await b.view.start();
  await roundOnAll(location, [a, b]);
  await b.storage.createRepo(["x"]);
  await store(b, ref(["x"], "data"), 7777); // never published: b is killed now
  await store(b, ref(["x"], "snapshots"), 300);
  location.clock += 4 * INTERVAL; // b's heartbeat goes stale
  await a.view.syncNow();
  assert.equal(a.view.listings, 2, "a listing after a peer stopped without closing");
  assert.equal(a.view.servers(), 1);
  await assertAllSeeTruth(location, [a], "after the listing");
  // A server that closes cleanly publishes its last changes: no listing for that.
  const c = location.server();
  await c.view.start();
  await a.view.syncNow();
  await c.storage.createRepo(["y"]);
  await store(c, ref(["y"], "data"), 100);
  await c.view.close();
  location.clock += 4 * INTERVAL;
  await a.view.syncNow();
  assert.equal(a.view.listings, 2, "no listing after a clean close");
  await assertAllSeeTruth(location, [a], "after a clean close");
});

Deno.test("a server that missed changes (its peer's journal moved on) lists again", async () => {
  const location = new Location();
  const a = location.server();
  const small = new SharedView({
    notes: location.notes,
    inventory: new Inventory(),
    scan: (onObject, options) => location.scan(onObject, options),
    intervalMs: INTERVAL,
    log: quiet,
    now: () => location.clock,
    retainChanges: 3,
  });
  const b = { inventory: new Inventory(), view: small, storage: null! } as Server;
  b.storage = withInventory(
    location.memory,
    b.inventory,
    () => location.clock,
    (c) => small.record(c),
  );
  await a.view.start();
  await b.view.start();
  await b.storage.createRepo(["m"]);
  await store(b, ref(["m"], "data"), 1);
  await roundOnAll(location, [a, b]);
  for (let i = 0; i < 10; i++) await store(b, ref(["m"], "data"), 2);
  await b.view.syncNow(); // keeps only the last 3 of 10
  await a.view.syncNow();
  assert.equal(a.view.listings, 2, "the gap is noticed and a listing closes it");
  await assertAllSeeTruth(location, [a], "after the gap");
});

Deno.test("three servers that cannot see each other's newest writes stay within a limit together", async () => {
  const limit = 100_000_000;
  const pack = 4_000_000;
  const memory = new MemoryStorage();
  await store({ storage: withInventory(memory, new Inventory()) } as Server, ref([], "data"), 10);
  const servers = Array.from({ length: 3 }, () => {
    const inventory = new Inventory();
    inventory.added(ref([], "data"), 40_000_000, 0); // all know 40 MB stored before
    const unseen = { bytes: 0 };
    const sharing = { servers: () => 3, unseenUnder: () => unseen.bytes };
    const storage = withQuota(
      withInventory(memory, inventory),
      inventory,
      () => [{ scope: [], maxBytes: limit }],
      sharing,
    );
    return { storage, unseen };
  });
  let admitted = 0;
  let refused = 0;
  // Each server takes packs until refused, never seeing the others' (the worst within a bound).
  for (const server of servers) {
    for (;;) {
      try {
        await server.storage.save(ref([], "data"), new Uint8Array(pack), {
          verifyHash: false,
          contentLength: pack,
        });
        server.unseen.bytes += pack;
        admitted += pack;
      } catch (err) {
        assert.match(String(err), /QuotaExceeded|do not fit/);
        refused++;
        break;
      }
    }
  }
  assert.equal(refused, 3);
  assert.ok(40_000_000 + admitted <= limit, `${admitted} admitted over 40 MB stay within ${limit}`);
  // Refused at most one pack a server early: the room left is under 3 packs.
  assert.ok(limit - 40_000_000 - admitted < 3 * pack, `${admitted} admitted`);
});

Deno.test("a delete that arrives before the store it undoes (a lock through two servers) counts right", async () => {
  const location = new Location();
  const [a, b, c] = [location.server(), location.server(), location.server()];
  for (const server of [a, b, c]) await server.view.start();
  await a.storage.createRepo(["l"]);
  await store(a, { repo: ["l"], type: "config" }, 155);
  await roundOnAll(location, [a, b, c]);
  // Long after the listings (changes apply as they come), every server alive.
  for (let i = 0; i < 3; i++) await roundOnAll(location, [a, b, c]);
  const lock = ref(["l"], "locks");
  const snapshot = ref(["l"], "snapshots");
  await store(a, lock, 200); // a has not published yet…
  await store(a, snapshot, 300);
  location.clock += 100;
  await b.storage.remove(lock); // …when b deletes both and publishes
  await b.storage.remove(snapshot);
  await b.view.syncNow();
  await c.view.syncNow(); // c learns of the deletes first
  await a.view.syncNow();
  await c.view.syncNow();
  await assertAllSeeTruth(location, [c], "after the delete arrived first");
  const stats = new Map(c.inventory.repos()).get("/l/")!;
  assert.equal(stats.objects.locks, 0);
  assert.equal(stats.snapshots.size, 0);
});

Deno.test("a server's own write while its listing reads the journals is counted", async () => {
  const location = new Location();
  const a = location.server();
  await a.storage.createRepo(["o"]);
  let lists = 0;
  location.notes.onList = async () => {
    // The second read of the notes is the one right after the listing, before the swap.
    if (++lists === 2) await store(a, ref(["o"], "data"), 5000);
  };
  await a.view.start();
  location.notes.onList = null;
  assert.equal(lists, 2);
  await assertAllSeeTruth(location, [a], "after the write between listing and swap");
  assert.equal(a.inventory.bytesUnder([]), 5000);
});

Deno.test("a lock stored through a peer and deleted here before the peer published it counts zero", async () => {
  const location = new Location();
  const [a, b] = [location.server(), location.server()];
  await b.view.start();
  await b.storage.createRepo(["k"]);
  await b.view.syncNow();
  await a.view.start(); // a's listing has no lock; changes close to it are checked key by key
  location.clock += 10;
  const lock = ref(["k"], "locks");
  await store(b, lock, 136); // not yet published…
  location.clock += 10;
  await a.storage.remove(lock); // …when restic deletes it through a
  await a.view.syncNow();
  await b.view.syncNow(); // now b publishes the store
  await a.view.syncNow();
  await b.view.syncNow();
  await assertAllSeeTruth(location, [a, b], "after the lock came and went");
  assert.equal(new Map(a.inventory.repos()).get("/k/")!.objects.locks, 0);
});

Deno.test("a listing at start that fails is made again in the next round", async () => {
  const location = new Location();
  const writer = location.server();
  await writer.view.start();
  await writer.storage.createRepo(["s"]);
  await store(writer, ref(["s"], "data"), 700);
  await writer.view.syncNow();
  const late = location.server();
  location.notes.onList = () => Promise.reject(new Error("the store went away"));
  await assert.rejects(late.view.start(), /went away/);
  assert.equal(late.inventory.complete, false);
  location.notes.onList = null;
  await late.view.syncNow();
  assert.equal(late.inventory.complete, true);
  await assertAllSeeTruth(location, [late], "after the second try");
  await late.view.close();
  await writer.view.close();
});
