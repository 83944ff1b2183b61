/**
 * One view of a location that several servers share (a bucket): each server
 * writes its changes into its own journal note, reads the others' every
 * interval and applies theirs. A full listing is the ground truth (at start,
 * after a peer stopped without saying so, after missed changes, daily);
 * changes that raced it are checked against what it saw (`Listing`). Costs
 * and figures: docs/object-stores.md.
 *
 * @module
 */

import type { Logger } from "../base/log.ts";
import { formatRepo, type RepoPath } from "../base/repo_path.ts";
import { Inventory, type StoredChange } from "./inventory.ts";
import { applyChange, type Change, type Journal, ListedKeys, Listing, refKey } from "./journal.ts";
import type { CleanupReport, FoundObject, ScanOptions, SharedNotes } from "./types.ts";

export type { Change } from "./journal.ts";

/** What this server knows of a peer's journal. */
interface Peer {
  tag: string;
  journal: Journal;
  /** The last change applied. */
  applied: number;
  /** Its death was handled (a listing after it). */
  buried: boolean;
}

/** The settings of a shared view. */
export interface SharedViewOptions {
  notes: SharedNotes;
  /** The inventory the server uses; replaced whole after each listing. */
  inventory: Inventory;
  /** Walks the medium itself (not through the inventory's wrapper). */
  scan: (onObject: (found: FoundObject) => void, options?: ScanOptions) => Promise<CleanupReport>;
  /** How often journals are written and read (ms). */
  intervalMs: number;
  log: Logger;
  now?: () => number;
  /** A full listing this often besides the ones needed (ms); default a day. */
  relistEveryMs?: number;
  /** How long changes stay in a journal (ms); default ten minutes. */
  retainMs?: number;
  /** At most this many changes stay in a journal. */
  retainChanges?: number;
}

/** The journal's note name of a server. */
const journalName = (server: string) => `journal-${server}`;

/** A server's part in the view of a shared location. */
export class SharedView {
  readonly server = crypto.randomUUID().slice(0, 13).replace("-", "");
  readonly #options: Required<Omit<SharedViewOptions, "now">> & { now: () => number };
  readonly #started: number;
  readonly #changes: Change[] = [];
  #seq = 0;
  readonly #peers = new Map<string, Peer>();
  #listing: Listing | null = null;
  #relisting: Promise<void> | null = null;
  #relistWanted: string | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  #round: Promise<void> = Promise.resolve();
  #listings = 0;
  #failing = false;

  constructor(options: SharedViewOptions) {
    this.#options = {
      relistEveryMs: 24 * 3600_000,
      retainMs: 600_000,
      retainChanges: 20_000,
      now: Date.now,
      ...options,
    };
    this.#started = this.#options.now();
  }

  /**
   * How far a listing may be from the moment it ran: clocks of servers
   * differ, and a store's listing may lag its writes (Swift updates its
   * container listings after the write has been confirmed). Changes this
   * close to a listing are checked against it key by key.
   */
  get #marginMs(): number {
    return Math.max(this.#options.intervalMs, 30_000);
  }

  /** How long a write through one server takes at most to reach every other's view (ms). */
  get boundMs(): number {
    return 2 * this.#options.intervalMs + 5_000;
  }

  /**
   * Records a change this server made (the inventory already counts it);
   * it is published with the next interval.
   */
  record(change: StoredChange): void {
    const numbered = { s: ++this.#seq, ...change };
    this.#changes.push(numbered);
    this.#listing?.counts(numbered);
  }

  /** Servers on the location now, this one included (peers that wrote within three intervals). */
  servers(): number {
    const since = this.#options.now() - 3 * this.#options.intervalMs;
    let live = 1;
    for (const peer of this.#peers.values()) {
      if (!peer.journal.closed && peer.journal.beat >= since) live++;
    }
    return live;
  }

  /**
   * Bytes this server stored under a folder so recently that peers may not
   * count them yet (within {@link boundMs}).
   */
  unseenUnder(scope: RepoPath): number {
    const since = this.#options.now() - this.boundMs;
    const prefix = formatRepo(scope);
    let bytes = 0;
    for (let i = this.#changes.length - 1; i >= 0; i--) {
      const change = this.#changes[i];
      if (change.t < since) break;
      if (change.op === "+" && formatRepo(change.r).startsWith(prefix)) bytes += change.z ?? 0;
    }
    return bytes;
  }

  /** Lists the location into the inventory, then keeps it in step; settles with the start line. */
  async start(): Promise<string> {
    const began = this.#options.now();
    let report: CleanupReport;
    try {
      await this.#sync(false);
      report = await this.#relist("start");
    } catch (err) {
      // The store went away after it answered at start-up: list again in the next rounds.
      this.#relistWanted = "the listing at start failed";
      this.#schedule();
      throw err;
    }
    this.#schedule();
    const { inventory } = this.#options;
    return [
      `inventory complete: ${inventory.objects} object(s), ${
        inventory.bytesUnder([])
      } bytes stored` +
      ` (${((this.#options.now() - began) / 1000).toFixed(1)}s); shared with ` +
      `${this.servers() - 1} other server(s) on this location, every ${
        this.#options.intervalMs / 1000
      }s`,
      ...(report.finishedRemovals
        ? [`finished ${report.finishedRemovals} interrupted repository removal(s)`]
        : []),
    ].join("; ");
  }

  /** Publishes the last changes with a mark that nothing is lost, and stops. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#round;
    await this.#relisting?.catch(() => {});
    await this.#publish(true).catch((err) =>
      this.#options.log.warn(`cannot publish the last changes: ${(err as Error).message}`)
    );
  }

  /** One round now (tests; the timer runs them otherwise); rounds never overlap. */
  syncNow(): Promise<void> {
    const round = this.#round.then(async () => {
      await this.#sync(true);
      if (this.#relistWanted !== null) await this.#relist(this.#relistWanted);
    });
    this.#round = round.catch(() => {});
    return round;
  }

  #schedule(): void {
    if (this.#closed) return;
    const timer = setTimeout(async () => {
      try {
        await this.syncNow();
        if (this.#failing) this.#options.log.info("shared view: the store answers again");
        this.#failing = false;
      } catch (err) {
        if (!this.#failing) {
          this.#options.log.warn(`shared view: ${(err as Error).message}; trying again`);
        }
        this.#failing = true;
      }
      this.#schedule();
    }, this.#options.intervalMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #trim(): void {
    const { retainMs, retainChanges, now } = this.#options;
    const since = now() - retainMs;
    let drop = 0;
    while (
      drop < this.#changes.length &&
      (this.#changes[drop].t < since || this.#changes.length - drop > retainChanges)
    ) drop++;
    if (drop > 0) this.#changes.splice(0, drop);
  }

  async #publish(closed = false): Promise<void> {
    this.#trim();
    const journal: Journal = {
      v: 1,
      server: this.server,
      started: this.#started,
      beat: this.#options.now(),
      ...(closed ? { closed } : {}),
      changes: this.#changes,
    };
    await this.#options.notes.write(journalName(this.server), JSON.stringify(journal));
  }

  /** Publishes this server's journal, reads the peers', applies what is new. */
  async #sync(apply: boolean): Promise<void> {
    const { notes, now, intervalMs, retainMs } = this.#options;
    await this.#publish();
    const seen = new Set<string>();
    for (const { name, tag } of await notes.list()) {
      if (!name.startsWith("journal-") || name === journalName(this.server)) continue;
      seen.add(name);
      const known = this.#peers.get(name);
      if (known?.tag === tag) continue;
      const text = await notes.read(name);
      if (text === null) continue;
      let journal: Journal;
      try {
        journal = JSON.parse(text);
        if (journal.v !== 1 || !Array.isArray(journal.changes)) throw new Error("not a journal");
      } catch {
        continue; // another version's note, or a torn one: not ours to read
      }
      const peer: Peer = known ?? { tag, journal, applied: 0, buried: false };
      peer.tag = tag;
      peer.journal = journal;
      this.#peers.set(name, peer);
      if (apply) this.#applyPeer(peer);
    }
    for (const [name, peer] of this.#peers) {
      if (!seen.has(name)) this.#peers.delete(name);
      const { beat, closed } = peer.journal;
      const stale = beat < now() - 3 * intervalMs;
      if (stale && !closed && !peer.buried) {
        peer.buried = true;
        // Its last changes may never have been published: only a listing knows.
        if (apply && this.#listing && beat >= this.#listing.started - intervalMs) {
          this.#relistWanted ??= `server ${peer.journal.server} stopped without closing`;
        }
      }
      if (stale && beat < now() - retainMs) {
        await notes.remove(name).catch(() => {}); // any server may tidy a long-dead journal
        this.#peers.delete(name);
      }
    }
    if (apply && this.#listing && now() - this.#listing.started > this.#options.relistEveryMs) {
      this.#relistWanted ??= "the daily listing";
    }
  }

  /** Applies a peer's changes newer than the last applied; asks for a listing on a gap. */
  #applyPeer(peer: Peer): void {
    const changes = peer.journal.changes;
    if (changes.length > 0 && changes[0].s > peer.applied + 1 && peer.applied > 0) {
      this.#relistWanted ??= `changes of server ${peer.journal.server} were missed`;
    }
    for (const change of changes) {
      if (change.s <= peer.applied) continue;
      this.#applyChecked(this.#options.inventory, change);
      peer.applied = change.s;
    }
  }

  /** Applies a change as far as the last listing has not counted it already. */
  #applyChecked(inventory: Inventory, change: Change): void {
    const step = this.#listing?.wants(change) ?? 0;
    if (step === 0) return;
    if (change.op !== "+" && change.op !== "-") return applyChange(inventory, change);
    const op = step > 0 ? "+" : "-";
    applyChange(inventory, op === change.op ? change : { ...change, op });
  }

  /** Lists the whole location into a new inventory, replays the changes that raced it, swaps. */
  #relist(why: string): Promise<CleanupReport> {
    this.#relistWanted = null;
    this.#listings++;
    const run = (async () => {
      const { now, log, scan, inventory } = this.#options;
      const began = now();
      const fresh = new Inventory();
      const keys = new ListedKeys();
      const report = await scan((found) => {
        fresh.added(found.ref, found.size, found.mtimeMs);
        keys.add(refKey(found.ref));
      }, { onRepo: (repo) => fresh.repoCreated(repo) });
      keys.seal();
      const ended = now();
      await this.#sync(false);
      // From here to the swap nothing awaits: a change of this server's own in between would
      // be noted by the new listing without being in the new inventory.
      const listing = new Listing(began, ended, keys, this.#marginMs);
      this.#listing = listing;
      const own: Peer = {
        tag: "",
        journal: { v: 1, server: this.server, started: 0, beat: 0, changes: this.#changes },
        applied: 0,
        buried: false,
      };
      for (const peer of [own, ...this.#peers.values()]) {
        peer.applied = 0;
        for (const change of peer.journal.changes) {
          this.#applyChecked(fresh, change);
          peer.applied = change.s;
        }
      }
      inventory.adopt(fresh);
      inventory.markComplete();
      // Changes that raced the listing arrive within two intervals; then the keys can go.
      const release = setTimeout(
        () => listing.forget(),
        this.#marginMs + 3 * this.#options.intervalMs + 5_000,
      );
      Deno.unrefTimer(release);
      if (why !== "start") {
        log.info(
          `shared view: listed ${fresh.objects} object(s) in ${
            ((now() - began) / 1000).toFixed(1)
          }s (${why})`,
        );
      }
      return report;
    })();
    this.#relisting = run.then(() => {}, () => {});
    return run;
  }

  /** Full listings made so far, the first at start included. */
  get listings(): number {
    return this.#listings;
  }
}
