/**
 * What a user name may be, shared by htpasswd files, the policy file and
 * the proxy header; a module of its own so that none of them pulls in
 * another's dependencies.
 *
 * @module
 */

/** Letters, digits, `@ . _ -`: the user names accepted (docs/protocol.md §5). */
export const USERNAME_PATTERN = /^[A-Za-z0-9@._-]{1,128}$/;
