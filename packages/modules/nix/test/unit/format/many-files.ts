import { MAGIC, nar } from './nar-builder.js';

/** A NAR of one directory holding `count` empty files `f0000000`…, streamed in ~64 KiB chunks. */
export function* manyEmptyFiles(count: number): Generator<Uint8Array> {
  yield nar(MAGIC, '(', 'type', 'directory');
  // One entry, copied and its 7 digits patched: building each with nar() is far slower.
  const template = nar('entry', '(', 'name', 'f0000000', 'node', '(', 'type', 'regular', 'contents', '', ')', ')');
  const digits = template.indexOf(0x66 /* f */, 48) + 1;
  const perChunk = Math.floor((64 * 1024) / template.length);
  for (let start = 0; start < count; start += perChunk) {
    const n = Math.min(perChunk, count - start);
    const chunk = Buffer.alloc(n * template.length);
    for (let k = 0; k < n; k++) {
      const at = k * template.length;
      chunk.set(template, at);
      chunk.write(String(start + k).padStart(7, '0'), at + digits, 'latin1');
    }
    yield chunk;
  }
  yield nar(')');
}

