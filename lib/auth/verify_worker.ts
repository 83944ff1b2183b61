/**
 * A Worker that checks passwords against htpasswd hashes, so bcrypt's tens
 * of milliseconds never run on the thread that serves requests. Started by
 * `verify_pool.ts`.
 *
 * @module
 */

import { verifyPassword } from "./htpasswd.ts";

/** A check to make. */
export interface VerifyJob {
  id: number;
  password: string;
  hash: string;
}

/** Its answer. */
export interface VerifyAnswer {
  id: number;
  ok: boolean;
}

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<VerifyJob>) => void) | null;
  postMessage(answer: VerifyAnswer): void;
};

scope.onmessage = (event) => {
  const { id, password, hash } = event.data;
  let ok = false;
  try {
    ok = verifyPassword(password, hash);
  } catch {
    ok = false;
  }
  scope.postMessage({ id, ok });
};
