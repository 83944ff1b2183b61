import assert from "node:assert/strict";
import {
  hashFormat,
  hashPassword,
  parseHtpasswd,
  updateHtpasswd,
  verifyPassword,
} from "../../lib/auth/htpasswd.ts";

/** Runs Apache's htpasswd (Debian apache2-utils) to make a vector. */
async function apacheHash(flags: string[], password: string): Promise<string> {
  const output = await new Deno.Command("htpasswd", {
    args: ["-nb", ...flags, "vector-user", password],
    stdin: "null",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const line = new TextDecoder().decode(output.stdout).trim();
  return line.slice("vector-user:".length);
}

const FLAGS: [string, string[], string][] = [
  ["bcrypt (-B)", ["-B", "-C", "5"], "bcrypt"],
  ["SHA-1 (-s)", ["-s"], "sha1"],
  ["Apache MD5 (-m)", ["-m"], "apr1"],
  ["SHA-256 crypt (-2)", ["-2"], "sha256crypt"],
  ["SHA-512 crypt (-5)", ["-5"], "sha512crypt"],
  ["SHA-256 crypt with rounds (-2 -r 12000)", ["-2", "-r", "12000"], "sha256crypt"],
  ["SHA-512 crypt with rounds (-5 -r 1000)", ["-5", "-r", "1000"], "sha512crypt"],
];
const PASSWORDS = ["secret", "correct horse battery staple", "pässwörd ✓", "a:b:c", "x".repeat(60)];

for (const [label, flags, format] of FLAGS) {
  Deno.test(`verifyPassword() accepts Apache htpasswd ${label} and refuses wrong passwords`, async () => {
    for (const password of PASSWORDS) {
      const hash = await apacheHash(flags, password);
      assert.equal(hashFormat(hash), format, hash);
      assert.equal(verifyPassword(password, hash), true, `${password} / ${hash}`);
      assert.equal(verifyPassword(password + "x", hash), false);
      assert.equal(verifyPassword(password.slice(1), hash), false);
      assert.equal(verifyPassword("", hash), false);
    }
  });
}

// Fixed vectors made once by htpasswd 2.4 (password "secret"), so the formats
// stay covered even where apache2-utils is missing.
const FIXED: [string, string][] = [
  ["$apr1$yyOEIbm2$lwT.PaHBBbKaL5yvoHsQo1", "apr1"],
  ["$5$U5sThHT6brOK6kZD$zBcDZ/a3lQyCDpqhWAAfMADdSUEKW75oHmrNNlL0qJ9", "sha256crypt"],
  [
    "$6$rounds=5000$PqnXXOZc.rJRRKZ.$G0m4W1CgGaNmrjQ2/CG.sfqrrsjED9A40U0I8x9pdo/wBwSpWnHwdcsjU7IgZbAX0wuCP9pObi.B/qwji9m4H.",
    "sha512crypt",
  ],
  ["$2y$05$aW2vGRdrM9TOjJrkbbjKeeXUxZzSIkaPQHqt4PSxTMYsMLJxoGtzS", "bcrypt"],
  ["{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "sha1"],
];
for (const [hash, format] of FIXED) {
  Deno.test(`verifyPassword() fixed ${format} vector`, () => {
    assert.equal(hashFormat(hash), format);
    assert.equal(verifyPassword("secret", hash), true);
    assert.equal(verifyPassword("Secret", hash), false);
  });
}

Deno.test("verifyPassword() refuses unknown and damaged hashes", () => {
  for (
    const hash of [
      "plaintext",
      "",
      "$1$abc$def",
      "$apr1$yyOEIbm2$lwT.PaHBBbKaL5yvoHsQo",
      "{SHA}short=",
      "$2y$05$tooShort",
      "$7$whatever",
      "crypt13chars!",
    ]
  ) {
    assert.equal(hashFormat(hash), null, hash);
    assert.equal(verifyPassword("secret", hash), false, hash);
  }
});

Deno.test("hashPassword() writes $2y$ bcrypt that Apache's htpasswd verifies", async () => {
  const hash = hashPassword("from restic-rest");
  assert.match(hash, /^\$2y\$10\$/);
  assert.equal(verifyPassword("from restic-rest", hash), true);
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, `u:${hash}\n`);
    const good = await new Deno.Command("htpasswd", {
      args: ["-vb", file, "u", "from restic-rest"],
    })
      .output();
    assert.equal(good.code, 0, new TextDecoder().decode(good.stderr));
    const bad = await new Deno.Command("htpasswd", { args: ["-vb", file, "u", "nope"] }).output();
    assert.notEqual(bad.code, 0);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("parseHtpasswd() skips comments, blanks and unusable lines, naming the line but not the hash", () => {
  const text = [
    "# a comment",
    "",
    "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
    "no-colon-here",
    "bad user:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
    "carol:plaintextpassword",
    "dave:$apr1$yyOEIbm2$lwT.PaHBBbKaL5yvoHsQo1",
    "   ",
    "eve@example.com:$2y$05$aW2vGRdrM9TOjJrkbbjKeeXUxZzSIkaPQHqt4PSxTMYsMLJxoGtzS\r",
    ":{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
  ].join("\n");
  const parsed = parseHtpasswd(text);
  assert.deepEqual([...parsed.users.keys()], ["alice", "dave", "eve@example.com"]);
  assert.equal(parsed.entryLines, 7);
  assert.equal(parsed.warnings.length, 4);
  assert.match(parsed.warnings[0], /^line 4:/);
  assert.match(parsed.warnings[1], /^line 5:/);
  assert.match(parsed.warnings[2], /^line 6:/);
  assert.match(parsed.warnings[3], /^line 10:/);
  for (const warning of parsed.warnings) {
    assert.doesNotMatch(warning, /plaintextpassword|5en6G6|\$apr1/);
  }
});

Deno.test("updateHtpasswd() adds, replaces and removes one user, keeping other lines", () => {
  const start = "# users\nalice:OLD\nbob:B\n";
  assert.equal(updateHtpasswd(start, "carol", "C"), "# users\nalice:OLD\nbob:B\ncarol:C\n");
  assert.equal(updateHtpasswd(start, "alice", "NEW"), "# users\nalice:NEW\nbob:B\n");
  assert.equal(updateHtpasswd(start, "alice", null), "# users\nbob:B\n");
  assert.equal(updateHtpasswd("", "x", "H"), "x:H\n");
  assert.equal(updateHtpasswd("x:H\n", "x", null), "");
  assert.equal(updateHtpasswd("alice2:A\n", "alice", null), "alice2:A\n", "prefix of another name");
});
