import assert from "node:assert/strict";
import { parseRange, type RangeDecision } from "../../lib/http/range.ts";

const full: RangeDecision = { kind: "full" };
const bad: RangeDecision = { kind: "unsatisfiable" };
const part = (start: number, end: number): RangeDecision => ({ kind: "partial", start, end });

// [header, size, expected]
const CASES: [string | null, number, RangeDecision][] = [
  [null, 100, full],
  [null, 0, full],
  ["bytes=0-", 100, part(0, 99)],
  ["bytes=10-", 100, part(10, 99)],
  ["bytes=99-", 100, part(99, 99)],
  ["bytes=0-0", 100, part(0, 0)],
  ["bytes=10-19", 100, part(10, 19)],
  ["bytes=10-99", 100, part(10, 99)],
  ["bytes=10-100", 100, part(10, 99)], // end past the file: clipped
  ["bytes=10-999999999999", 100, part(10, 99)],
  ["bytes=0-99999999999999999999", 100, part(0, 99)],
  ["bytes=-1", 100, part(99, 99)],
  ["bytes=-10", 100, part(90, 99)],
  ["bytes=-100", 100, part(0, 99)],
  ["bytes=-1000", 100, part(0, 99)], // suffix longer than the file: all of it
  ["bytes=100-", 100, bad], // start at the end
  ["bytes=101-", 100, bad],
  ["bytes=100-200", 100, bad],
  ["bytes=99999999999999999999-", 100, bad],
  ["bytes=0-", 0, bad], // empty file
  ["bytes=-1", 0, bad],
  ["bytes=-0", 100, bad],
  ["bytes=20-10", 100, bad], // end before start
  ["bytes=", 100, bad],
  ["bytes=-", 100, bad],
  ["bytes=abc", 100, bad],
  ["bytes=1-x", 100, bad],
  ["bytes=x-1", 100, bad],
  ["bytes=--1", 100, bad],
  ["bytes=-1-2", 100, bad],
  ["bytes=1.5-2", 100, bad],
  ["bytes=+1-2", 100, bad],
  ["bytes=0x10-", 100, bad],
  ["items=0-10", 100, bad], // other unit
  ["0-10", 100, bad],
  ["", 100, bad],
  ["BYTES=1-2", 100, part(1, 2)], // the unit is case-insensitive
  [" bytes=1-2 ", 100, part(1, 2)],
  ["bytes= 1-2", 100, part(1, 2)],
  ["bytes=0-1,5-6", 100, full], // several ranges: the whole file
  ["bytes=0-1, -5", 100, full],
  ["bytes=0-1,x", 100, bad],
  ["bytes=0-1,", 100, bad],
];

for (const [header, size, expected] of CASES) {
  Deno.test(`parseRange() ${JSON.stringify(header)} of ${size} bytes gives ${expected.kind}`, () => {
    assert.deepEqual(parseRange(header, size), expected);
  });
}
