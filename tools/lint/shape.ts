/**
 * A `deno lint` plugin that keeps the program's code in small pieces:
 * functions under 60 lines, modules under 350. Tests, which are scripts of
 * steps, are left out. Part of `deno task check` (deno.json `lint.plugins`).
 *
 * @module
 */

/** The longest function, in lines. */
export const MAX_FUNCTION_LINES = 60;
/** The longest module, in lines. */
export const MAX_MODULE_LINES = 350;

/** Lines from `start` to `end` (offsets) of `text`, both ends counted. */
function linesBetween(text: string, start: number, end: number): number {
  let lines = 1;
  for (let i = start; i < end; i++) if (text.charCodeAt(i) === 10) lines++;
  return lines;
}

function isTest(filename: string): boolean {
  return /(^|\/)tests\//.test(filename);
}

const plugin: Deno.lint.Plugin = {
  name: "shape",
  rules: {
    "function-length": {
      create(context) {
        if (isTest(context.filename)) return {};
        const check = (node: Deno.lint.Node & { range: Deno.lint.Range }): void => {
          const [start, end] = node.range;
          const lines = linesBetween(context.sourceCode.text, start, end);
          if (lines > MAX_FUNCTION_LINES) {
            context.report({
              node,
              message: `${lines} lines: split it to under ${MAX_FUNCTION_LINES}`,
            });
          }
        };
        return {
          FunctionDeclaration: check,
          FunctionExpression: check,
          ArrowFunctionExpression: check,
        };
      },
    },
    "module-length": {
      create(context) {
        if (isTest(context.filename)) return {};
        return {
          Program(node) {
            const text = context.sourceCode.text;
            const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
            if (lines > MAX_MODULE_LINES) {
              context.report({
                node,
                message: `${lines} lines: split the module to under ${MAX_MODULE_LINES}`,
              });
            }
          },
        };
      },
    },
  },
};

export default plugin;
