import { FsStorage } from "./lib/storage/fs.ts";
const s = new FsStorage("/tmp/bfull/templates/million-1000000");
const t = performance.now();
let n = 0;
await s.scan(() => n++);
const m = Deno.memoryUsage();
console.log(
  Deno.args[0] ?? "",
  n,
  "objects",
  ((performance.now() - t) / 1000).toFixed(1),
  "s rss",
  (m.rss / 1048576).toFixed(1),
  "heapTotal",
  (m.heapTotal / 1048576).toFixed(1),
);
