/**
 * Repositories in the bucket: when one exists (its config, or the marker of
 * `POST ?create=true`), its removal (a removal marker first, then the
 * config, then its objects: a removal cut short lists as no repository and
 * is finished by the next walk, create, config upload or delete there), its
 * listings, and the walk over the whole bucket for the inventory.
 *
 * @module
 */

import type { RepoPath } from "../../base/repo_path.ts";
import { isObjectName, OBJECT_TYPES, type ObjectType } from "../../base/restic.ts";
import { CREATED_MARKER, type KeyLayout } from "./keys.ts";
import type { S3Ops } from "./ops.ts";
import { REMOVAL_MARKER } from "../../base/restic.ts";
import {
  type CleanupReport,
  type FoundObject,
  type ListOptions,
  type ListPage,
  StorageError,
} from "../types.ts";

/** DELETEs sent at once while a repository is removed. */
const DELETE_CONCURRENCY = 16;

/** What lies directly in a repository's prefix. */
interface RepoState {
  config: boolean;
  created: boolean;
  removing: boolean;
  /** Type prefixes present (`data/`, `keys/`, …). */
  types: string[];
}

/** The bucket's repositories. */
export class RepoKeeper {
  constructor(readonly ops: S3Ops, readonly keys: KeyLayout) {}

  /** One listing request with a delimiter: the markers, the config and the type prefixes. */
  async #state(repo: RepoPath, signal?: AbortSignal): Promise<RepoState> {
    const base = this.keys.repo(repo);
    const state: RepoState = { config: false, created: false, removing: false, types: [] };
    for await (const page of this.ops.list(base, { delimiter: "/", signal })) {
      for (const { key } of page.keys) {
        const name = key.slice(base.length);
        if (name === "config") state.config = true;
        else if (name === CREATED_MARKER) state.created = true;
        else if (name === REMOVAL_MARKER) state.removing = true;
      }
      for (const prefix of page.prefixes) {
        const type = prefix.slice(base.length, -1);
        if ((OBJECT_TYPES as readonly string[]).includes(type)) state.types.push(type);
      }
    }
    return state;
  }

  async exists(repo: RepoPath, signal?: AbortSignal): Promise<boolean> {
    const state = await this.#state(repo, signal);
    return !state.removing && (state.config || state.created);
  }

  /** Creates a repository: finishes a removal cut short there, then writes the creation marker. */
  async create(repo: RepoPath, signal?: AbortSignal): Promise<void> {
    await this.finishRemoval(repo, signal);
    await this.ops.put(this.keys.created(repo), new Uint8Array(0), {
      contentLength: 0,
      payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      signal,
    });
  }

  /** Finishes a removal cut short at this repository, if there is one. */
  async finishRemoval(repo: RepoPath, signal?: AbortSignal): Promise<boolean> {
    if ((await this.ops.head(this.keys.removing(repo), signal)) === null) return false;
    await this.#removeAll(repo, await this.#state(repo, signal), signal);
    return true;
  }

  /** Removes a repository; `false` when there was none (nor a removal to finish). */
  async remove(repo: RepoPath, signal?: AbortSignal): Promise<boolean> {
    const state = await this.#state(repo, signal);
    if (!state.config && !state.created && !state.removing && state.types.length === 0) {
      return false;
    }
    await this.#removeAll(repo, state, signal);
    return true;
  }

  async #removeAll(repo: RepoPath, state: RepoState, signal?: AbortSignal): Promise<void> {
    if (!state.removing) {
      await this.ops.put(this.keys.removing(repo), new Uint8Array(0), {
        contentLength: 0,
        payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        signal,
      });
    }
    // The config first: from here on restic sees no repository.
    await this.ops.delete(this.keys.object({ repo, type: "config" }), signal);
    for (const type of OBJECT_TYPES) {
      for await (const page of this.ops.list(this.keys.type(repo, type), { signal })) {
        const keys = page.keys.map((k) => k.key);
        for (let i = 0; i < keys.length; i += DELETE_CONCURRENCY) {
          await Promise.all(
            keys.slice(i, i + DELETE_CONCURRENCY).map((k) => this.ops.delete(k, signal)),
          );
        }
      }
    }
    await this.ops.delete(this.keys.created(repo), signal);
    await this.ops.delete(this.keys.removing(repo), signal);
  }

  /** The valid names of one type, a page per listing request; `NotFound` for no repository. */
  async listType(
    repo: RepoPath,
    type: ObjectType,
    options: ListOptions & { withSizes: boolean },
  ): Promise<AsyncIterable<ListPage>> {
    const prefix = this.keys.type(repo, type);
    const pages = this.ops.list(prefix, { signal: options.signal });
    const first = await pages.next();
    const exists = await this.exists(repo, options.signal);
    if (!exists) {
      await pages.return?.(undefined);
      throw new StorageError("NotFound", "list: no repository there");
    }
    const toPage = (keys: { key: string; size: number; mtimeMs: number }[]): ListPage => {
      const page: ListPage = {
        names: [],
        sizes: options.withSizes || options.withTimes ? [] : null,
      };
      if (options.withTimes) page.mtimes = [];
      for (const { key, size, mtimeMs } of keys) {
        const rest = key.slice(prefix.length).split("/");
        const name = rest.at(-1)!;
        // As on a disk: data lists the objects of every subfolder one level down; others are flat.
        const fanned = type === "data"
          ? rest.length === 2 && !rest[0].startsWith(".")
          : rest.length === 1;
        if (!fanned || !isObjectName(name)) continue;
        page.names.push(name);
        page.sizes?.push(size);
        page.mtimes?.push(mtimeMs);
      }
      return page;
    };
    return (async function* () {
      if (!first.done) yield toPage(first.value.keys);
      for await (const page of pages) yield toPage(page.keys);
    })();
  }

  /**
   * Walks the whole bucket under the prefix: finishes removals cut short and
   * reports every object restic would read (none of a repository whose
   * removal was under way).
   */
  async walk(
    onObject: ((found: FoundObject) => void) | null,
    signal?: AbortSignal,
    onRepo?: (repo: RepoPath) => void,
  ): Promise<CleanupReport> {
    const removing: RepoPath[] = [];
    const removingKeys = new Set<string>();
    for await (const page of this.ops.list(this.keys.prefix, { signal })) {
      for (const { key, size, mtimeMs } of page.keys) {
        const meaning = this.keys.meaning(key);
        if (meaning.kind === "removing") {
          removing.push(meaning.repo);
          removingKeys.add(this.keys.repo(meaning.repo));
        } else if (meaning.kind === "object" && onObject) {
          if (!removingKeys.has(this.keys.repo(meaning.ref.repo))) {
            onObject({ ref: meaning.ref, size, mtimeMs });
            if (meaning.ref.type === "config") onRepo?.(meaning.ref.repo);
          }
        } else if (meaning.kind === "created" && !removingKeys.has(this.keys.repo(meaning.repo))) {
          onRepo?.(meaning.repo);
        }
      }
    }
    for (const repo of removing) await this.finishRemoval(repo, signal);
    return { removedTempFiles: 0, finishedRemovals: removing.length };
  }
}
