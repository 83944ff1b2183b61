/**
 * A JSON array produced as a byte stream, page by page, so that a listing of
 * a million objects starts at once and never sits whole in memory.
 *
 * @module
 */

/** Characters of JSON text gathered before a chunk is sent. */
const CHUNK_CHARS = 64 << 10;

/**
 * Streams pages of items as one JSON array.
 *
 * @param pages The items, a page at a time, produced lazily.
 * @param encode Writes one page's items as JSON values joined by commas,
 *   or `""` for none (the caller knows them: object names need no escaping).
 * @returns UTF-8 bytes of `[…]`; `[]` when there are no items.
 */
export function jsonPagesStream<T>(
  pages: AsyncIterable<T>,
  encode: (page: T) => string,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = pages[Symbol.asyncIterator]();
  let first = true;
  let done = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (done) return;
      let text = first ? "[" : "";
      while (text.length < CHUNK_CHARS) {
        const next = await iterator.next();
        if (next.done) {
          done = true;
          text += "]";
          break;
        }
        const items = encode(next.value);
        if (items === "") continue;
        text += (first ? "" : ",") + items;
        first = false;
      }
      controller.enqueue(encoder.encode(text));
      if (done) controller.close();
    },
    async cancel() {
      await iterator.return?.();
    },
  }, { highWaterMark: 0 });
}
