import { describe, expect, it } from 'vitest';
import { FairSlots } from '../../../src/cache/semaphore.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('FairSlots (verification slots shared among owners)', () => {
  it('gives one key at most its share, and the free slots to other keys at once', async () => {
    const slots = new FairSlots(4, 2);
    const m1 = await slots.acquire('mallory');
    const m2 = await slots.acquire('mallory');
    let m3: (() => void) | null = null;
    void slots.acquire('mallory').then((r) => (m3 = r));
    await tick();
    expect(m3).toBeNull();
    expect(slots.heldBy('mallory')).toBe(2);
    // Alice is not behind mallory's third.
    const a1 = await slots.acquire('alice');
    const a2 = await slots.acquire('alice');
    expect(slots.heldBy('alice')).toBe(2);
    m1();
    await tick();
    expect(m3).not.toBeNull();
    for (const r of [m2, a1, a2, m3!]) r();
    expect(slots.heldBy('mallory') + slots.heldBy('alice')).toBe(0);
  });

  it('serves waiting keys in turn when slots free up', async () => {
    const slots = new FairSlots(1, 1);
    const first = await slots.acquire('a');
    const order: string[] = [];
    const wait = (key: string) => slots.acquire(key).then((release) => {
      order.push(key);
      setImmediate(release);
    });
    const all = [wait('a'), wait('a'), wait('b'), wait('c')];
    first();
    await Promise.all(all);
    expect(order).toEqual(['a', 'b', 'c', 'a']);
  });
});
