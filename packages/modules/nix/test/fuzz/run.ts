/**
 * The long fuzz run: a million generated inputs per parser by default.
 *
 *   npm run fuzz                                  # every target, 1 000 000 inputs each
 *   npm run fuzz -- --runs 50000 --target narinfo # one target, fewer inputs
 *   npm run fuzz -- --seed 42                     # another sequence of inputs
 *
 * Runs each target's property (test/fuzz/properties.ts) in batches of 10 000 inputs with
 * seeds seed, seed+1, …, and shows one progress line per target. A failure prints the
 * counterexample fast-check shrank, and the seed and path to replay it; the run goes on
 * with the next target and exits non-zero at the end.
 */
import fc from 'fast-check';
import { TARGETS, type TargetName } from './properties.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const runs = Number(option('runs') ?? 1_000_000);
const seed = Number(option('seed') ?? Date.now() % 1_000_000);
const targets = (option('target')?.split(',') ?? Object.keys(TARGETS)) as TargetName[];
for (const t of targets) if (!(t in TARGETS)) throw new Error(`unknown target '${t}' (known: ${Object.keys(TARGETS).join(', ')})`);

const BATCH = 10_000;
const tty = process.stdout.isTTY;
const line = (text: string, final = false): void => {
  if (tty) process.stdout.write(`\r\x1b[K${text}${final ? '\n' : ''}`);
  else if (final) console.log(text);
};

console.log(`fuzzing ${targets.join(', ')}: ${runs} inputs each, seed ${seed}`);
const summary: string[] = [];
let failed = false;
for (const name of targets) {
  const property = TARGETS[name] as fc.IAsyncProperty<unknown[]> | fc.IProperty<unknown[]>;
  const start = performance.now();
  let done = 0;
  let lastPrint = 0;
  let failure: string | undefined;
  let maxRss = 0;
  for (let batch = 0; done < runs; batch++) {
    const n = Math.min(BATCH, runs - done);
    const details = await fc.check(property as fc.IAsyncProperty<unknown[]>, { numRuns: n, seed: seed + batch });
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
    if (details.failed) {
      failure = fc.defaultReportMessage(details) ?? 'failed';
      done += details.numRuns;
      break;
    }
    done += n;
    const elapsed = (performance.now() - start) / 1000;
    const percent = Math.floor((done / runs) * 100);
    if (tty || percent >= lastPrint + 10) {
      lastPrint = percent - (percent % 10);
      const bar = '#'.repeat(Math.floor(percent / 5)).padEnd(20, '.');
      const text = `[${bar}] ${name.padEnd(11)} ${String(done).padStart(8)}/${runs} inputs  ${elapsed.toFixed(0)} s  ${((elapsed * 1e6) / done).toFixed(0)} µs/input  rss ${(maxRss / 2 ** 20).toFixed(0)} MiB`;
      if (tty) line(text);
      else console.log(text);
    }
  }
  const elapsed = (performance.now() - start) / 1000;
  const result = failure
    ? `${name}: FAILED after ${done} inputs (${elapsed.toFixed(0)} s)`
    : `${name}: ${done} inputs, no failure, ${elapsed.toFixed(0)} s (${((elapsed * 1e6) / done).toFixed(0)} µs/input), max RSS ${(maxRss / 2 ** 20).toFixed(0)} MiB`;
  line(result, true);
  if (failure) {
    failed = true;
    console.log(failure);
  }
  summary.push(result);
}
console.log(`\nseed ${seed}\n${summary.join('\n')}`);
process.exitCode = failed ? 1 : 0;
