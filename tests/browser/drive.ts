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
  page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.setViewport({ width: plan.width, height: 900 });
  await page.authenticate({ username: plan.user, password: plan.password });
  const response = await page.goto(plan.url, { waitUntil: "load" });
  const cards = await page.$$eval("section.repo", (sections) =>
    sections.map((section) => ({
      path: section.getAttribute("data-path") ?? "",
      state: section.className,
      snapshots: section.querySelector('[data-field="snapshots"]')?.textContent ?? "",
      newest: section.querySelector('[data-field="newest"]')?.textContent ?? "",
    })));
  const overflow = await page.evaluate(
    "document.documentElement.scrollWidth - window.innerWidth",
  ) as number;
  if (plan.screenshot) {
    await page.screenshot({ fullPage: true, type: "png", path: plan.screenshot });
  }
  const background = (): Promise<string> =>
    page.evaluate("getComputedStyle(document.body).backgroundColor") as Promise<string>;
  const light = await background();
  await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
  const dark = await background();
  const html = await page.content();
  await context.close();
  return {
    status: response?.status() ?? null,
    wwwAuthenticate: response?.headers()["www-authenticate"] ?? null,
    cards,
    html,
    overflow,
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
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
  try {
    const seen: Seen[] = [];
    for (const step of plan) seen.push(await visit(browser, step));
    console.log(JSON.stringify(seen));
  } finally {
    await browser.close();
  }
}
