import { describe, expect, it } from 'vitest';
import { NARINFO_MEMO_BYTES, NARINFO_MEMO_ENTRY_BYTES, NarInfoMemo } from '../../../src/cache/narinfo-memo.js';

describe('the narinfo memo', () => {
  it('is capped by bytes, whatever the number of narinfos', () => {
    const memo = new NarInfoMemo({ maxBytes: 100_000 });
    for (let i = 0; i < 1000; i++) memo.set(1, `hash${i}`, { body: Buffer.alloc(2_000, 'x'), pathId: i }, memo.epoch());
    expect(memo.usage.bytes).toBeLessThanOrEqual(100_000);
    expect(memo.usage.entries).toBeLessThan(100);
    expect(memo.get(1, 'hash999')?.pathId).toBe(999);
    expect(memo.get(1, 'hash0')).toBeUndefined();
  });

  it('serves a huge narinfo without keeping it, and has a default cap', () => {
    const memo = new NarInfoMemo();
    memo.set(1, 'huge', { body: Buffer.alloc(NARINFO_MEMO_ENTRY_BYTES + 1), pathId: 1 }, memo.epoch());
    expect(memo.get(1, 'huge')).toBeUndefined();
    memo.set(1, 'miss', { body: null, pathId: 0 }, memo.epoch());
    expect(memo.get(1, 'miss')).toEqual({ body: null, pathId: 0 });
    expect(NARINFO_MEMO_BYTES).toBeGreaterThan(0);
  });

  it('forgets a path, an owner, and answers read before a change', () => {
    const memo = new NarInfoMemo();
    const body = Buffer.from('StorePath: …\n');
    for (const [owner, hash] of [[1, 'a'], [1, 'b'], [2, 'a']] as const) memo.set(owner, hash, { body, pathId: 1 }, memo.epoch());
    const before = memo.epoch();
    memo.invalidate(1, 'a');
    memo.set(1, 'a', { body, pathId: 1 }, before);
    expect(memo.get(1, 'a')).toBeUndefined();
    memo.invalidateOwner(1);
    expect([memo.get(1, 'b'), memo.get(2, 'a')?.pathId]).toEqual([undefined, 1]);
  });
});
