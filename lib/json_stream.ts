/**
 * A JSON array produced as a byte stream, item by item, so that a listing of
 * a million objects starts at once and never sits whole in memory.
 *
 * @module
 */

/** Bytes of JSON text gathered before a chunk is sent. */
const CHUNK_CHARS = 64 << 10;

/**
 * Streams `items` as a JSON array.
 *
 * @param items The items, produced lazily.
 * @param toJson Maps an item to the value written for it.
 * @returns UTF-8 bytes of `[…]`; `[]` when there are no items.
 */
export function jsonArrayStream<T>(
  items: AsyncIterable<T>,
  toJson: (item: T) => unknown,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = items[Symbol.asyncIterator]();
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
        text += (first ? "" : ",") + JSON.stringify(toJson(next.value));
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
