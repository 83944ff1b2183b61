/**
 * Password checks on a small pool of Workers (`verify_worker.ts`): requests
 * with cached credentials, `/healthz` and downloads never wait behind bcrypt.
 * The pool starts its Workers when first needed and stops them after a
 * minute without work, so an idle server holds none. At most `maxWaiting`
 * checks wait; more are refused at once ({@link VerifierBusy}).
 *
 * @module
 */

import type { VerifyAnswer, VerifyJob } from "./verify_worker.ts";

/** Thrown when too many checks already wait. */
export class VerifierBusy extends Error {
  constructor() {
    super("too many password checks waiting");
  }
}

/** How the pool is sized. */
export interface PoolOptions {
  /** Workers at most (default: one core left to serving, 1 to 4). */
  size?: number;
  /** Checks waiting for a Worker at most (default 64). */
  maxWaiting?: number;
  /** A Worker with nothing to do for this long is stopped (default 60 s). */
  idleMs?: number;
}

interface Slot {
  worker: Worker;
  busy: boolean;
  idleTimer: ReturnType<typeof setTimeout> | null;
}

interface Waiting {
  job: VerifyJob;
  resolve(ok: boolean): void;
  reject(err: Error): void;
}

function defaultSize(): number {
  return Math.max(1, Math.min(4, (navigator.hardwareConcurrency ?? 2) - 1));
}

/** A pool of password-checking Workers. */
export class VerifierPool {
  readonly #size: number;
  readonly #maxWaiting: number;
  readonly #idleMs: number;
  readonly #slots: Slot[] = [];
  readonly #queue: Waiting[] = [];
  readonly #running = new Map<number, { slot: Slot; waiting: Waiting }>();
  #nextId = 1;
  #checks = 0;

  /** @param options Size, queue bound and idle time. */
  constructor(options: PoolOptions = {}) {
    this.#size = options.size ?? defaultSize();
    this.#maxWaiting = options.maxWaiting ?? 64;
    this.#idleMs = options.idleMs ?? 60_000;
  }

  /** Password checks run so far. */
  get checks(): number {
    return this.#checks;
  }

  /** Workers running now. */
  get workers(): number {
    return this.#slots.length;
  }

  /**
   * Checks a password against a stored hash on a Worker.
   *
   * @param password The password sent.
   * @param hash The stored hash.
   * @returns Whether they match.
   * @throws {VerifierBusy} When `maxWaiting` checks already wait.
   */
  verify(password: string, hash: string): Promise<boolean> {
    if (this.#queue.length >= this.#maxWaiting) return Promise.reject(new VerifierBusy());
    const { promise, resolve, reject } = Promise.withResolvers<boolean>();
    this.#queue.push({ job: { id: this.#nextId++, password, hash }, resolve, reject });
    this.#pump();
    return promise;
  }

  /** Stops every Worker; checks still waiting fail. */
  close(): void {
    for (const slot of this.#slots) {
      if (slot.idleTimer !== null) clearTimeout(slot.idleTimer);
      slot.worker.terminate();
    }
    this.#slots.length = 0;
    const failure = new Error("the password checker was stopped");
    for (const { waiting } of this.#running.values()) waiting.reject(failure);
    for (const waiting of this.#queue.splice(0)) waiting.reject(failure);
    this.#running.clear();
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const slot = this.#slots.find((s) => !s.busy) ??
        (this.#slots.length < this.#size ? this.#start() : null);
      if (!slot) return;
      const waiting = this.#queue.shift()!;
      if (slot.idleTimer !== null) clearTimeout(slot.idleTimer);
      slot.idleTimer = null;
      slot.busy = true;
      this.#running.set(waiting.job.id, { slot, waiting });
      this.#checks++;
      slot.worker.postMessage(waiting.job);
    }
  }

  #start(): Slot {
    const worker = new Worker(new URL("./verify_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const slot: Slot = { worker, busy: false, idleTimer: null };
    worker.onmessage = (event: MessageEvent<VerifyAnswer>) => {
      const running = this.#running.get(event.data.id);
      if (!running) return;
      this.#running.delete(event.data.id);
      slot.busy = false;
      running.waiting.resolve(event.data.ok);
      this.#pump();
      if (!slot.busy) this.#idleLater(slot);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#drop(slot, new Error(`password checker failed: ${event.message}`));
    };
    this.#slots.push(slot);
    return slot;
  }

  /** Stops a Worker that stayed idle; the next check starts one again. */
  #idleLater(slot: Slot): void {
    const timer = setTimeout(() => {
      if (!slot.busy) this.#drop(slot, null);
    }, this.#idleMs);
    Deno.unrefTimer(timer);
    slot.idleTimer = timer;
  }

  #drop(slot: Slot, failure: Error | null): void {
    slot.worker.terminate();
    if (slot.idleTimer !== null) clearTimeout(slot.idleTimer);
    this.#slots.splice(this.#slots.indexOf(slot), 1);
    for (const [id, running] of this.#running) {
      if (running.slot !== slot) continue;
      this.#running.delete(id);
      running.waiting.reject(failure ?? new Error("password checker stopped"));
    }
    this.#pump();
  }
}
