import { describe, expect, it } from 'vitest';
import { Memo } from '@forge/core';

describe('Memo', () => {
  it('keeps at most maxEntries, the least recently used going first', () => {
    const memo = new Memo<string, number>({ maxEntries: 3, ttlMs: 60_000 });
    for (const k of ['a', 'b', 'c']) memo.set(k, k.charCodeAt(0), memo.epoch());
    expect(memo.get('a')).toBe(97); // a is now the most recently used
    memo.set('d', 100, memo.epoch());
    expect(memo.get('b')).toBeUndefined();
    expect([memo.get('a'), memo.get('c'), memo.get('d')]).toEqual([97, 99, 100]);
    expect(memo.usage.entries).toBe(3);
  });

  it('keeps at most maxBytes, and never an entry larger than maxEntryBytes', () => {
    const memo = new Memo<string, Buffer>({ maxEntries: 1000, maxBytes: 10_000, maxEntryBytes: 4_000, ttlMs: 60_000, sizeOf: (b) => b.length });
    for (let i = 0; i < 10; i++) memo.set(`k${i}`, Buffer.alloc(3_000), memo.epoch());
    expect(memo.usage.bytes).toBeLessThanOrEqual(10_000);
    expect(memo.usage.entries).toBe(3);
    expect(memo.get('k9')).toBeDefined();
    memo.set('huge', Buffer.alloc(5_000), memo.epoch());
    expect(memo.get('huge')).toBeUndefined();
    expect(memo.get('k9')).toBeDefined();
  });

  it('keeps at most maxEntries however small the entries are', () => {
    const memo = new Memo<number, string>({ maxEntries: 10, maxBytes: 1_000_000, ttlMs: 60_000, sizeOf: () => 1 });
    for (let i = 0; i < 100; i++) memo.set(i, 'x', memo.epoch());
    expect(memo.usage.entries).toBe(10);
    expect(memo.get(99)).toBe('x');
    expect(memo.get(89)).toBeUndefined();
  });

  it('remembers misses (null) as answers', async () => {
    const memo = new Memo<number, string | null>({ maxEntries: 10, ttlMs: 60_000 });
    let reads = 0;
    const read = async () => {
      reads++;
      return null;
    };
    expect(await memo.load(1, read)).toBeNull();
    expect(await memo.load(1, read)).toBeNull();
    expect(reads).toBe(1);
  });

  it('does not store a read that raced a change (the epoch moved)', async () => {
    const memo = new Memo<string, string>({ maxEntries: 10, ttlMs: 60_000 });
    let release!: () => void;
    const slow = memo.load('k', () => new Promise<string>((resolve) => (release = () => resolve('old'))));
    memo.forget('k'); // a change notice arrives while the read is under way
    release();
    expect(await slow).toBe('old');
    expect(memo.get('k')).toBeUndefined();

    const epoch = memo.epoch();
    memo.forgetWhere((key) => key.startsWith('other/'));
    memo.set('k', 'stale', epoch);
    expect(memo.get('k')).toBeUndefined();
    memo.set('k', 'fresh', memo.epoch());
    expect(memo.get('k')).toBe('fresh');
  });

  it('forgets entries by key pattern and all at once', () => {
    const memo = new Memo<string, number>({ maxEntries: 10, ttlMs: 60_000 });
    for (const k of ['1/a', '1/b', '2/a']) memo.set(k, 1, memo.epoch());
    memo.forgetWhere((k) => k.startsWith('1/'));
    expect([memo.get('1/a'), memo.get('1/b'), memo.get('2/a')]).toEqual([undefined, undefined, 1]);
    memo.clear();
    expect(memo.usage).toEqual({ entries: 0, bytes: 0 });
  });

  it('lets an entry expire after ttlMs, or sooner when set says so', async () => {
    const memo = new Memo<string, number>({ maxEntries: 10, ttlMs: 60_000 });
    memo.set('short', 1, memo.epoch(), 20);
    memo.set('long', 2, memo.epoch());
    await new Promise((r) => setTimeout(r, 60));
    expect(memo.get('short')).toBeUndefined();
    expect(memo.get('long')).toBe(2);
  });
});
