/**
 * Drives Debian's Chromium (headless, through puppeteer-core) over a plan of
 * page visits and prints what the browser saw, as JSON: the tests assert on
 * it. Kept apart, with its own import map and lockfile, so that the program
 * and its first run never download a browser driver.
 *
 *   deno run -A --config tests/browser/deno.json tests/browser/drive.ts PLAN.json
 *
 * @module
 */

// A command-line tool: printing its findings is its job.
// deno-lint-ignore-file no-console

import puppeteer, { type Browser, type Page } from "puppeteer-core";
import type { Seen, Visit } from "./plan.ts";

const CHROMIUM = "/usr/bin/chromium";

async function visit(browser: Browser, plan: Visit): Promise<Seen> {
  const context = await browser.createBrowserContext();
  const page: Page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on("request", (request) => requests.push(request.url()));
  page.on(
    "console",
    (message) => message.type() === "error" && errors.push(message.text()),
  );
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.setViewport({ width: plan.width, height: 900 });
  await page.authenticate({ username: plan.user, password: plan.password });
  const response = await page.goto(plan.url, { waitUntil: "load" });
  const cards = await page.$$eval(
    "section.repo",
    (sections) =>
      sections.map((section) => ({
        path: section.getAttribute("data-path") ?? "",
        state: section.className,
        snapshots:
          section.querySelector('[data-field="snapshots"]')?.textContent ?? "",
        newest: section.querySelector('[data-field="newest"]')?.textContent ??
          "",
        limit: section.querySelector('[data-field="limit"]')?.textContent ?? "",
      })),
  );
  const overflow = await page.evaluate(
    "document.documentElement.scrollWidth - window.innerWidth",
  ) as number;
  // Text that must stay on one line, and labels that must not run into each other.
  const layout = await page.evaluate(`(() => {
    const lines = (element) => {
      const range = document.createRange();
      range.selectNodeContents(element);
      return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
    };
    const broken = [...document.querySelectorAll(".badge, .figure, dt, .axis span")]
      .filter((element) => element.textContent.trim() !== "" && lines(element) > 1)
      .map((element) => element.textContent.trim());
    // A flag in brackets, a time with its zone: wherever they are, on one line.
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/\\(--[a-z-]+\\)|\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
        if (tops.size > 1) broken.push(match[0]);
      }
    }
    let overlapping = 0;
    for (const axis of document.querySelectorAll(".axis")) {
      const boxes = [...axis.querySelectorAll("span")].filter((s) => s.textContent !== "")
        .map((span) => {
          const range = document.createRange();
          range.selectNodeContents(span);
          return range.getBoundingClientRect();
        });
      for (let i = 1; i < boxes.length; i++) if (boxes[i].left < boxes[i - 1].right + 6) overlapping++;
    }
    return { broken, overlapping };
  })()`) as Seen["layout"];
  if (plan.screenshot) {
    await page.screenshot({
      fullPage: true,
      type: "png",
      path: plan.screenshot,
    });
  }
  const background = (): Promise<string> =>
    page.evaluate("getComputedStyle(document.body).backgroundColor") as Promise<
      string
    >;
  const light = await background();
  await page.emulateMediaFeatures([{
    name: "prefers-color-scheme",
    value: "dark",
  }]);
  const dark = await background();
  const html = await page.content();
  await context.close();
  return {
    status: response?.status() ?? null,
    wwwAuthenticate: response?.headers()["www-authenticate"] ?? null,
    cards,
    html,
    overflow,
    layout,
    background: { light, dark },
    requests,
    errors,
  };
}

if (import.meta.main) {
  const plan: Visit[] = JSON.parse(await Deno.readTextFile(Deno.args[0]));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--no-first-run",
    ],
  });
  try {
    const seen: Seen[] = [];
    for (const step of plan) seen.push(await visit(browser, step));
    console.log(JSON.stringify(seen));
  } finally {
    await browser.close();
  }
}
