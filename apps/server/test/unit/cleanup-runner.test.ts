import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CleanupTask, Logger } from '@forge/core';
import { CleanupRunner } from '../../src/cleanup/cleanup-runner.js';
import { CleanupScheduler } from '../../src/cleanup/cleanup-scheduler.js';
import type { RunnerLock } from '../../src/cleanup/runner-lock.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** A lock another process may hold: `held` decides what tryAcquire answers. */
class FakeLock implements RunnerLock {
  held = false;
  acquired = 0;
  released = 0;
  async tryAcquire() {
    if (this.held) return null;
    this.acquired++;
    return async () => {
      this.released++;
    };
  }
}

function task(name: string, log: string[], options: { perOwner?: boolean; fail?: boolean; gate?: Promise<void> } = {}): CleanupTask {
  return {
    name,
    perOwner: options.perOwner ?? true,
    async run({ dryRun, ownerId, onProgress }) {
      log.push(`${name} start ${dryRun ? 'dry' : 'wet'} ${ownerId ?? '-'}`);
      onProgress?.({ step: 'working', done: 1, total: 2 });
      await options.gate;
      if (options.fail) throw new Error(`${name} broke`);
      log.push(`${name} end`);
      return { summary: name, bytes: 10 };
    },
  };
}

describe('CleanupRunner', () => {
  it('runs the tasks in registration order, one at a time, and adds up the bytes', async () => {
    const log: string[] = [];
    const runner = new CleanupRunner(new FakeLock(), silent);
    runner.register(task('a', log));
    runner.register(task('b', log));
    const progress: string[] = [];
    const report = await runner.run({ dryRun: true, onProgress: (p) => progress.push(`${p.task}:${p.step}:${p.done}/${p.total}`) });
    expect(log).toEqual(['a start dry -', 'a end', 'b start dry -', 'b end']);
    expect(report).toMatchObject({ dryRun: true, bytes: 20, tasks: [{ name: 'a', result: { summary: 'a' } }, { name: 'b' }] });
    expect(progress).toEqual(['a:working:1/2', 'b:working:1/2']);
  });

  it('refuses a second task of the same name and names that are not lowercase words', () => {
    const runner = new CleanupRunner(new FakeLock(), silent);
    runner.register(task('nix-gc', []));
    expect(() => runner.register(task('nix-gc', []))).toThrow(/two cleanup tasks are named "nix-gc"/);
    expect(() => runner.register(task('Nix GC', []))).toThrow(/must match/);
  });

  it('a failing task is reported and the next one still runs', async () => {
    const log: string[] = [];
    const runner = new CleanupRunner(new FakeLock(), silent);
    runner.register(task('a', log, { fail: true }));
    runner.register(task('b', log));
    const report = await runner.run({ dryRun: false });
    expect(report!.tasks).toMatchObject([{ name: 'a', error: 'a broke' }, { name: 'b', result: { bytes: 10 } }]);
    expect(report!.bytes).toBe(10);
    expect(log).toContain('b end');
  });

  it('a run for one owner skips the host-wide tasks', async () => {
    const log: string[] = [];
    const runner = new CleanupRunner(new FakeLock(), silent);
    runner.register(task('gc', log, { perOwner: true }));
    runner.register(task('sweep', log, { perOwner: false }));
    const report = await runner.run({ dryRun: false, ownerId: 7 });
    expect(log).toEqual(['gc start wet 7', 'gc end']);
    expect(report!.tasks.map((t) => t.name)).toEqual(['gc']);
  });

  it('two runs in one process never overlap', async () => {
    const log: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const runner = new CleanupRunner(new FakeLock(), silent);
    runner.register(task('slow', log, { gate }));
    const first = runner.run({ dryRun: false });
    const second = runner.run({ dryRun: true });
    await new Promise((r) => setTimeout(r, 20));
    expect(log).toEqual(['slow start wet -']);
    open();
    await Promise.all([first, second]);
    expect(log).toEqual(['slow start wet -', 'slow end', 'slow start dry -', 'slow end']);
  });

  it('when another process holds the lock: null without waiting, or waits until it is free', async () => {
    const lock = new FakeLock();
    lock.held = true;
    const log: string[] = [];
    const runner = new CleanupRunner(lock, silent);
    runner.register(task('a', log));
    expect(await runner.run({ dryRun: false })).toBeNull();
    expect(log).toEqual([]);
    const waiting: string[] = [];
    const waited = runner.run({ dryRun: false, wait: true, pollMs: 5, onProgress: (p) => waiting.push(p.task) });
    await new Promise((r) => setTimeout(r, 30));
    expect(waiting[0]).toBe('waiting');
    expect(log).toEqual([]);
    lock.held = false;
    expect((await waited)!.tasks).toHaveLength(1);
    expect(lock.released).toBe(lock.acquired);
  });
});

describe('CleanupScheduler', () => {
  afterEach(() => vi.useRealTimers());

  it('runs every interval, never before the first interval, and stops', async () => {
    vi.useFakeTimers();
    const log: string[] = [];
    const runner = new CleanupRunner(new FakeLock(), silent);
    runner.register(task('a', log));
    const scheduler = new CleanupScheduler(runner, 60_000, silent);
    scheduler.start();
    await vi.advanceTimersByTimeAsync(59_000);
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(log).toEqual(['a start wet -', 'a end']);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(log).toHaveLength(4);
    await scheduler.stop();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(log).toHaveLength(4);
  });

  it('an interval of 0 never runs', async () => {
    vi.useFakeTimers();
    const log: string[] = [];
    const runner = new CleanupRunner(new FakeLock(), silent);
    runner.register(task('a', log));
    new CleanupScheduler(runner, 0, silent).start();
    await vi.advanceTimersByTimeAsync(86_400_000);
    expect(log).toEqual([]);
  });
});
