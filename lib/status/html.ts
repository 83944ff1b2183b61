/**
 * The status page as HTML: one document with inline CSS and inline SVG, no
 * script and nothing fetched from elsewhere, so it works on a NAS without
 * internet under a Content-Security-Policy that allows only its own style
 * block (by hash). Every name is escaped. Pure.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { RepoLimit, RepoStatus, ServerStatus, StatusReport } from "./report.ts";
import { formatBytes } from "../base/units.ts";
import type { ObjectType } from "../base/restic.ts";

const CSS = `
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--text:#1b1f24;--muted:#5b6470;
--line:#d9dde3;--ok:#1a7f37;--warn:#b35900;--bad:#c62828;--mark:#2f6fdb;--empty:#e3e7ec}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1b2027;--text:#e6e9ee;
--muted:#9aa4b1;--line:#2c333d;--ok:#4cc36b;--warn:#f0a34a;--bad:#ff6b6b;--mark:#6aa1ff;
--empty:#2a313b}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:960px;margin:0 auto;padding:16px}
h1{font-size:1.35rem;margin:0 0 4px}
h2{font-size:1.05rem;margin:0;word-break:break-all}
a{color:inherit}
.muted{color:var(--muted)}
.summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:10px;
margin:14px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.figure{font-size:1.25rem;font-weight:600}
.repo{margin:10px 0}
.repo.stale{border-left:5px solid var(--warn)}
.repo.never{border-left:5px solid var(--bad)}
.head{display:flex;flex-wrap:wrap;gap:8px;align-items:baseline;justify-content:space-between}
.badge{display:inline-block;font-size:.8rem;font-weight:600;padding:1px 8px;border-radius:99px;
border:1px solid}
.timeline{max-width:520px}
.badge.ok{color:var(--ok)}.badge.stale{color:var(--warn)}.badge.never{color:var(--bad)}
dl{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:4px 14px;
margin:10px 0}
dt{font-size:.78rem;color:var(--muted)}dd{margin:0}
svg{display:block;width:100%;height:auto}
.day{fill:var(--empty)}.day.on{fill:var(--mark)}
.bar{fill:var(--empty)}.bar.used{fill:var(--mark)}.bar.full{fill:var(--bad)}
.axis{display:flex;font-size:.75rem;color:var(--muted);line-height:1.2;margin-top:3px}
.axis span{flex:1 1 0;min-width:0;white-space:nowrap;overflow:visible}
.axis .today{text-align:right;direction:rtl}
.flag{white-space:nowrap}
.when{font-size:.8rem;white-space:nowrap}
footer{margin:18px 0 6px;font-size:.8rem;color:var(--muted)}
`;

/** The page's Content-Security-Policy: its own style block, nothing else. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash("sha256").update(CSS).digest("base64")}'`,
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for HTML content and attribute values.
 *
 * @param text Any text.
 * @returns The text with `&<>"'` escaped.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const AGE_UNITS: [number, string][] = [
  [86_400, "day"],
  [3600, "hour"],
  [60, "minute"],
];

/**
 * A count with its noun, singular or plural: `1 key`, `3 keys`, `0 snapshots`.
 *
 * @param count How many.
 * @param singular The noun for one.
 * @param plural The noun for any other count; the singular with `s` unless given.
 * @returns The count and the noun.
 */
export function countOf(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}

/** The words for each object type, as counted on a repository's card. */
const OBJECT_NOUNS: Record<ObjectType, string> = {
  data: "data file",
  index: "index file",
  keys: "key",
  locks: "lock",
  snapshots: "snapshot",
};

/**
 * How long ago a time was, as people say it: `just now`, `3 hours ago`.
 *
 * @param fromMs The time, epoch ms.
 * @param nowMs Now, epoch ms.
 * @returns The age in its largest whole unit.
 */
export function formatAge(fromMs: number, nowMs: number): string {
  const seconds = Math.max(0, (nowMs - fromMs) / 1000);
  for (const [size, unit] of AGE_UNITS) {
    const count = Math.floor(seconds / size);
    if (count >= 1) return `${countOf(count, unit)} ago`;
  }
  return "just now";
}

function formatDuration(seconds: number): string {
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) {
    return `${Math.floor(seconds / 3600)} h ${Math.floor(seconds % 3600 / 60)} min`;
  }
  return `${Math.floor(seconds / 86_400)} d ${Math.floor(seconds % 86_400 / 3600)} h`;
}

/** A setting's length as people write it: `48 hours`, `2 days`, `90 minutes`. */
function formatSpan(seconds: number): string {
  const [size, unit] = seconds % 86_400 === 0 && seconds >= 3 * 86_400
    ? [86_400, "day"]
    : seconds % 3600 === 0
    ? [3600, "hour"]
    : [60, "minute"];
  return countOf(Math.round(seconds / size), unit);
}

function formatTime(iso: string): string {
  return iso.slice(0, 16).replace("T", " ") + " UTC";
}

const MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");

/** `2026-11-04` as people read it on an axis: `Nov 4`. */
function shortDay(day: string): string {
  return `${MONTHS[Number(day.slice(5, 7)) - 1]} ${Number(day.slice(8, 10))}`;
}

/** Every seventh day from the first shown is labelled, under its own cell. */
const TICK_EVERY = 7;

function timelineSvg(repo: RepoStatus): string {
  const cell = 10;
  const last = repo.timeline.length - 1;
  const days = repo.timeline.map(({ day, snapshots }, index) =>
    `<rect class="day${snapshots > 0 ? " on" : ""}" x="${index * cell}" y="0" width="${
      cell - 2
    }" height="18" rx="2"><title>${day}: ${countOf(snapshots, "snapshot")}</title></rect>`
  ).join("");
  // One span per day, as wide as its cell (the SVG is as wide as its cells with their gaps).
  const ticks = repo.timeline.map(({ day }, index) => {
    if (index === last) return `<span class="today">today</span>`;
    // The last label keeps at least a week's room before "today".
    const labelled = index % TICK_EVERY === 0 && last - index >= TICK_EVERY;
    return `<span>${labelled ? shortDay(day) : ""}</span>`;
  }).join("");
  return `<div class="timeline"><svg viewBox="0 0 ${
    repo.timeline.length * cell
  } 18" role="img" aria-label="snapshots per day, ${
    repo.timeline[0]?.day ?? ""
  } to today">${days}</svg>` +
    `<div class="axis" aria-hidden="true">${ticks}</div></div>`;
}

/** `594 B of 50 MiB`, with the folder when the limit is shared. */
function limitText(limit: RepoLimit, path: string): string {
  const shared = limit.scope === path ? "" : ` under ${escapeHtml(limit.scope)}`;
  return limit.usedBytes === null
    ? `${formatBytes(limit.maxBytes)}${shared}`
    : `${formatBytes(limit.usedBytes)} of ${formatBytes(limit.maxBytes)}${shared}`;
}

function repoCard(repo: RepoStatus, nowMs: number): string {
  const state = repo.newestSnapshot === null ? "never" : repo.stale ? "stale" : "ok";
  const badge = { ok: "backed up", stale: "stale", never: "never backed up" }[state];
  const newest = repo.newestSnapshot === null
    ? "none yet"
    : `${formatAge(Date.parse(repo.newestSnapshot), nowMs)}<br><span class="muted when">${
      formatTime(repo.newestSnapshot)
    }</span>`;
  const lastWrite = repo.lastWrite === null
    ? "never"
    : `${formatAge(Date.parse(repo.lastWrite), nowMs)}`;
  const objects = Object.entries(repo.objects).map(([type, count]) =>
    countOf(count, OBJECT_NOUNS[type as ObjectType])
  ).join(", ");
  const limit = repo.limit === null
    ? ""
    : `<div><dt>Size limit</dt><dd data-field="limit">${
      limitText(repo.limit, repo.path)
    }</dd></div>`;
  const path = escapeHtml(repo.path);
  return `<section class="card repo ${state}" data-path="${path}">
<div class="head"><h2><a href="${path}">${path}</a></h2><span class="badge ${state}">${badge}</span></div>
<dl>
<div><dt>Stored</dt><dd data-field="stored">${formatBytes(repo.storedBytes)}</dd></div>
<div><dt>Snapshots</dt><dd data-field="snapshots">${repo.snapshots}</dd></div>
<div><dt>Newest snapshot</dt><dd data-field="newest">${newest}</dd></div>
<div><dt>Last write</dt><dd>${lastWrite}</dd></div>
${limit}</dl>
<p class="muted">${objects}</p>
${timelineSvg(repo)}
</section>`;
}

function budgetBar(used: number, budget: number): string {
  const share = Math.min(1, used / budget);
  const percent = (share * 100).toFixed(1);
  return `<svg viewBox="0 0 100 8" preserveAspectRatio="none" role="img" aria-label="${percent}% of the budget"><rect class="bar" width="100" height="8" rx="2"/><rect class="bar ${
    share >= 0.9 ? "full" : "used"
  }" width="${(share * 100).toFixed(2)}" height="8" rx="2"/></svg>`;
}

/** The stored figure of a page about one folder: its own bytes against its own limit. */
function scopeStored(scope: string, repos: RepoStatus[]): string {
  const mine = repos.reduce((sum, repo) => sum + repo.storedBytes, 0);
  const own = repos.find((repo) => repo.limit?.scope === scope)?.limit;
  const budget = !own || own.usedBytes === null
    ? ""
    : `${budgetBar(own.usedBytes, own.maxBytes)}<div class="muted">of ${
      formatBytes(own.maxBytes)
    } <span class="flag">(size limit)</span></div>`;
  return `<div class="card"><div class="muted">Stored in ${
    escapeHtml(scope)
  }</div><div class="figure" data-field="scope-stored">${formatBytes(mine)}</div>${budget}</div>`;
}

function summary(server: ServerStatus, repos: RepoStatus[], scope: string): string {
  const cards: string[] = [];
  if (scope !== "/") {
    cards.push(scopeStored(scope, repos));
  } else if (server.storedBytes !== null) {
    const budget = server.maxSizeBytes === null
      ? ""
      : `${budgetBar(server.storedBytes, server.maxSizeBytes)}<div class="muted">of ${
        formatBytes(server.maxSizeBytes)
      } <span class="flag">(--max-size)</span></div>`;
    cards.push(
      `<div class="card"><div class="muted">Stored</div><div class="figure" data-field="server-stored">${
        formatBytes(server.storedBytes)
      }</div>${budget}</div>`,
    );
  } else {
    const mine = repos.reduce((sum, repo) => sum + repo.storedBytes, 0);
    cards.push(
      `<div class="card"><div class="muted">Stored in your repositories</div><div class="figure">${
        formatBytes(mine)
      }</div></div>`,
    );
  }
  if (server.freeBytes !== null) {
    cards.push(
      `<div class="card"><div class="muted">Free on the disk</div><div class="figure">${
        formatBytes(server.freeBytes)
      }</div></div>`,
    );
  }
  const stale = repos.filter((repo) => repo.stale).length;
  cards.push(
    `<div class="card"><div class="muted">Repositories</div><div class="figure">${repos.length}</div>${
      stale > 0 ? `<div class="badge stale">${countOf(stale, "needs", "need")} attention</div>` : ""
    }</div>`,
    `<div class="card"><div class="muted">Up for</div><div class="figure">${
      formatDuration(server.uptimeSeconds)
    }</div><div class="muted">version ${escapeHtml(server.version)}</div></div>`,
  );
  return `<div class="summary">${cards.join("")}</div>`;
}

/**
 * Renders the status page.
 *
 * @param report What the caller may see.
 * @param scope `/` for the whole server, or the repository the page is about.
 * @returns A complete HTML document.
 */
export function renderStatusPage(report: StatusReport, scope: string): string {
  const { server, repositories } = report;
  const nowMs = Date.parse(server.generatedAt);
  const staleAfter = formatSpan(server.staleAfterSeconds);
  const counting = server.inventoryComplete
    ? ""
    : `<p class="card">Still counting what was stored before the start: figures will grow.</p>`;
  const list = repositories.length === 0
    ? `<p class="card muted">No repository to show yet. Point restic at <code>rest:${
      escapeHtml(scope)
    }</code> on this server and run <code>restic init</code>.</p>`
    : repositories.map((repo) => repoCard(repo, nowMs)).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>restic-rest: ${escapeHtml(scope)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>Backups${scope === "/" ? "" : ` in ${escapeHtml(scope)}`}</h1>
<div class="muted">restic-rest ${escapeHtml(server.version)} · ${
    formatTime(server.generatedAt)
  } · stale after ${staleAfter} without a snapshot</div>
${summary(server, repositories, scope)}
${counting}
${list}
<footer>Snapshot days come from the snapshot objects' times, in UTC; nothing is decrypted.</footer>
</main>
</body>
</html>
`;
}
