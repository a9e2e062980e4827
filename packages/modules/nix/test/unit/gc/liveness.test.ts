import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { liveUnderRetention, planCollection, type GcNode } from '../../../src/gc/liveness.js';

const DAY = 86_400_000;
const NOW = 100 * DAY;

/** A path last used `daysAgo` days ago, of `size` bytes, referencing `refs`. */
function p(key: string, daysAgo: number, refs: string[] = [], options: { size?: number; pinned?: boolean } = {}): GcNode {
  return { key, references: refs, lastUsedMs: NOW - daysAgo * DAY, size: options.size ?? 100, pinned: options.pinned ?? false };
}

const garbageOf = (nodes: GcNode[], retentionDays?: number, maxSize?: number) =>
  Object.fromEntries(planCollection(nodes, { nowMs: NOW, retentionMs: retentionDays === undefined ? undefined : retentionDays * DAY, maxSize }).garbage);

describe('liveness under retention', () => {
  it('keeps everything when retention is 0 or absent', () => {
    const nodes = [p('a', 1000), p('b', 2000, ['a'])];
    expect(garbageOf(nodes)).toEqual({});
    expect(garbageOf(nodes, 0)).toEqual({});
  });

  it('a recently used path keeps its whole closure, however old (shared dependencies included)', () => {
    // app1 (new) → lib → libc; app2 (old) → lib; tool (old) → libc
    const nodes = [p('libc', 90), p('lib', 90, ['libc']), p('app1', 1, ['lib']), p('app2', 60, ['lib']), p('tool', 60, ['libc'])];
    expect(garbageOf(nodes, 30)).toEqual({ app2: 'retention', tool: 'retention' });
  });

  it('a diamond stays whole while its top is live and goes whole when it is not', () => {
    const diamond = (topAge: number) => [p('base', 99), p('left', 99, ['base']), p('right', 99, ['base']), p('top', topAge, ['left', 'right'])];
    expect(garbageOf(diamond(5), 30)).toEqual({});
    expect(garbageOf(diamond(45), 30)).toEqual({ base: 'retention', left: 'retention', right: 'retention', top: 'retention' });
  });

  it('a self-reference neither keeps a path alive nor blocks its deletion', () => {
    const nodes = [p('self', 99, ['self']), p('user', 1, ['dep']), p('dep', 99, ['dep'])];
    const plan = planCollection(nodes, { nowMs: NOW, retentionMs: 30 * DAY });
    expect(Object.fromEntries(plan.garbage)).toEqual({ self: 'retention' });
    expect(plan.batches).toEqual([['self']]);
  });

  it('a pin keeps the pinned path and its closure, whatever their age', () => {
    const nodes = [p('dep', 400), p('release', 300, ['dep'], { pinned: true }), p('old', 300, ['dep'])];
    expect(garbageOf(nodes, 30)).toEqual({ old: 'retention' });
  });

  it('references to paths the cache does not hold are ignored', () => {
    expect(garbageOf([p('a', 1, ['upstream-only'])], 30)).toEqual({});
  });

  it('is computed per cache: the same path in two caches lives or goes by each cache\'s own use and pins', () => {
    const alice = [p('shared', 90), p('app', 90, ['shared'])];
    const bob = [p('shared', 90), p('app', 90, ['shared'], { pinned: true })];
    expect(liveUnderRetention(alice, { nowMs: NOW, retentionMs: 30 * DAY })).toEqual(new Set());
    expect(liveUnderRetention(bob, { nowMs: NOW, retentionMs: 30 * DAY })).toEqual(new Set(['shared', 'app']));
  });

  it('refuses a graph that names one hash part twice', () => {
    expect(() => planCollection([p('a', 1), p('a', 2)], { nowMs: NOW })).toThrow(/two paths have the hash part a/);
  });
});

describe('deletion order', () => {
  it('goes referrers first, in batches, so every remaining path keeps its references between batches', () => {
    // chain d → c → b → a, plus e → a
    const nodes = [p('a', 99), p('b', 99, ['a']), p('c', 99, ['b']), p('d', 99, ['c']), p('e', 99, ['a'])];
    const plan = planCollection(nodes, { nowMs: NOW, retentionMs: DAY }, 2);
    expect(plan.batches).toEqual([['d', 'e'], ['c'], ['b'], ['a']]);
  });

  it('puts a cycle (a narinfo re-pushed with other references) in one batch', () => {
    const nodes = [p('x', 99, ['y']), p('y', 99, ['x']), p('z', 99, ['x'])];
    const plan = planCollection(nodes, { nowMs: NOW, retentionMs: DAY });
    expect(plan.batches).toEqual([['z'], ['x', 'y']]);
  });
});

describe('size limit', () => {
  it('evicts least recently used roots first, never a path something kept references', () => {
    // lib is the oldest, but app still needs it: app (older of the two roots) goes first, then lib is a root.
    const nodes = [p('lib', 50, [], { size: 300 }), p('app', 10, ['lib'], { size: 100 }), p('new', 1, [], { size: 100 })];
    expect(garbageOf(nodes, undefined, 400)).toEqual({ app: 'size-limit' });
    expect(garbageOf(nodes, undefined, 300)).toEqual({ app: 'size-limit', lib: 'size-limit' });
  });

  it('never evicts a pinned closure, even when the limit cannot be met', () => {
    const nodes = [p('dep', 50, [], { size: 500 }), p('pinned', 40, ['dep'], { size: 500, pinned: true }), p('other', 1, [], { size: 10 })];
    const plan = planCollection(nodes, { nowMs: NOW, maxSize: 100 });
    expect(Object.fromEntries(plan.garbage)).toEqual({ other: 'size-limit' });
    expect(plan.keptBytes).toBe(1000);
  });

  it('applies after retention, and counts only what retention kept', () => {
    const nodes = [p('expired', 90, [], { size: 1000 }), p('a', 5, [], { size: 100 }), p('b', 2, [], { size: 100 })];
    expect(garbageOf(nodes, 30, 150)).toEqual({ expired: 'retention', a: 'size-limit' });
    expect(garbageOf(nodes, 30, 200)).toEqual({ expired: 'retention' });
  });
});

/** Random caches: paths reference only earlier ones (as Nix builds them), a few pinned. */
const caches = fc
  .array(
    fc.record({ age: fc.integer({ min: 0, max: 100 }), size: fc.integer({ min: 1, max: 1000 }), pinned: fc.boolean({ freq: 8 }), refs: fc.array(fc.nat(), { maxLength: 4 }), self: fc.boolean() }),
    { maxLength: 40 },
  )
  .map((specs) =>
    specs.map((s, i) => p(`p${i}`, s.age, [...(i === 0 ? [] : s.refs.map((r) => `p${r % i}`)), ...(s.self ? [`p${i}`] : [])], { size: s.size, pinned: s.pinned })),
  );

describe('properties over random caches', () => {
  it('what stays is closed under references, pins stay, batches go referrers first, the limit is met unless pins forbid it', () => {
    fc.assert(
      fc.property(caches, fc.integer({ min: 0, max: 60 }), fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: undefined }), fc.integer({ min: 1, max: 5 }), (nodes, retentionDays, maxSize, batchSize) => {
        const plan = planCollection(nodes, { nowMs: NOW, retentionMs: retentionDays * DAY, maxSize }, batchSize);
        const byKey = new Map(nodes.map((n) => [n.key, n]));
        const kept = nodes.filter((n) => !plan.garbage.has(n.key));
        // Closure completeness: nothing kept references something that goes.
        for (const n of kept) for (const r of n.references) expect(plan.garbage.has(r), `${n.key} → ${r}`).toBe(false);
        for (const n of nodes) if (n.pinned) expect(plan.garbage.has(n.key)).toBe(false);
        // Recently used paths go only for the size limit.
        for (const [key, reason] of plan.garbage) {
          if (reason === 'retention') expect(byKey.get(key)!.lastUsedMs).toBeLessThan(NOW - retentionDays * DAY);
        }
        // Every garbage path is in exactly one batch, after all its garbage referrers (or with them in a cycle batch).
        const position = new Map<string, number>();
        plan.batches.forEach((batch, b) => batch.forEach((k) => position.set(k, b)));
        expect([...position.keys()].sort()).toEqual([...plan.garbage.keys()].sort());
        for (const n of nodes) {
          if (!plan.garbage.has(n.key)) continue;
          for (const r of n.references) if (r !== n.key && plan.garbage.has(r)) expect(position.get(n.key)!).toBeLessThanOrEqual(position.get(r)!);
        }
        for (const batch of plan.batches.slice(0, -1)) expect(batch.length).toBeLessThanOrEqual(batchSize);
        expect(plan.keptBytes + plan.garbageBytes).toBe(nodes.reduce((s, n) => s + n.size, 0));
        if (maxSize !== undefined && plan.keptBytes > maxSize) {
          // Over the limit only when every kept path is in a pinned closure (no evictable root was left).
          const pinnedClosure = liveUnderRetention(nodes, { nowMs: NOW + 1000 * DAY, retentionMs: 1 });
          for (const n of kept) expect(pinnedClosure.has(n.key), n.key).toBe(true);
        }
      }),
      { numRuns: 300, seed: 15 },
    );
  });
});
