/**
 * The user named by a trusted reverse proxy in a request header.
 *
 * @module
 */

import { USERNAME_PATTERN } from "../base/restic.ts";
import { type Authenticator, type AuthResult, type Peer, refused, UNKNOWN_PEER } from "./types.ts";

/**
 * The user named by a trusted reverse proxy in a request header. The header
 * counts only on connections from a `--trusted-proxy` address or a unix
 * socket: anyone else could send it too.
 */
export class ProxyHeaderAuth implements Authenticator {
  readonly description: string;

  /** @param header The header the proxy sets, such as `X-Forwarded-User`. */
  constructor(readonly header: string) {
    this.description = `user name from the ${header} header`;
  }

  /** Reads the user from the header; missing, invalid or not from a trusted proxy fails. */
  authenticate(request: Request, peer: Peer = UNKNOWN_PEER): Promise<AuthResult> {
    return Promise.resolve(this.#decide(request, peer));
  }

  #decide(request: Request, peer: Peer): AuthResult {
    if (!peer.fromTrustedProxy) {
      return refused(`${this.header} counts only from a --trusted-proxy address`);
    }
    const user = request.headers.get(this.header);
    if (user === null) return refused(`no ${this.header} header`);
    if (!USERNAME_PATTERN.test(user)) return refused(`invalid user name in ${this.header}`);
    return { kind: "ok", user };
  }
}
