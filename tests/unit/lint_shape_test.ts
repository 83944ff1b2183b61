/** The lint plugin that keeps functions and modules short (tools/lint/shape.ts). */
import assert from "node:assert/strict";
import plugin, { MAX_FUNCTION_LINES, MAX_MODULE_LINES } from "../../tools/lint/shape.ts";

function diagnostics(file: string, source: string): string[] {
  return Deno.lint.runPlugin(plugin, file, source).map((d) => `${d.id}: ${d.message}`);
}

Deno.test("shape: a function over 60 lines is reported, one of 60 is not", () => {
  const body = (n: number) => Array.from({ length: n - 2 }, (_, i) => `  const v${i} = ${i};`);
  const ok = ["function fits() {", ...body(MAX_FUNCTION_LINES), "}"].join("\n");
  const long = ["const tooLong = () => {", ...body(MAX_FUNCTION_LINES + 1), "};"].join("\n");
  assert.deepEqual(diagnostics("lib/x.ts", ok), []);
  assert.deepEqual(diagnostics("lib/x.ts", long), [
    `shape/function-length: ${
      MAX_FUNCTION_LINES + 1
    } lines: split it to under ${MAX_FUNCTION_LINES}`,
  ]);
  const method = ["class A {", "  m() {", ...body(MAX_FUNCTION_LINES + 5), "  }", "}"].join("\n");
  assert.equal(diagnostics("lib/x.ts", method).length, 1, "a method counts too");
  assert.deepEqual(diagnostics("tests/unit/x_test.ts", long), [], "tests are scripts");
});

Deno.test("shape: a module over 350 lines is reported", () => {
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `export const c${i} = ${i};`);
  assert.deepEqual(diagnostics("lib/x.ts", lines(MAX_MODULE_LINES).join("\n") + "\n"), []);
  assert.deepEqual(diagnostics("lib/x.ts", lines(MAX_MODULE_LINES + 1).join("\n") + "\n"), [
    `shape/module-length: ${
      MAX_MODULE_LINES + 1
    } lines: split the module to under ${MAX_MODULE_LINES}`,
  ]);
});
