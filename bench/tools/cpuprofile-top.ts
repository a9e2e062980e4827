/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per
 * package/file, and inclusive ("total") time of the heaviest frames, so a profile can be
 * read and quoted in docs/benchmarks.md without opening DevTools.
 *
 *   node --import tsx bench/tools/cpuprofile-top.ts PROFILE.cpuprofile [--top 30] [--filter text]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' }, filter: { type: 'string' } } });
const top = Number(values.top);
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node from the samples and their time deltas (µs).
const self = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);

const short = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/.*node_modules\//, '')
    .replace(/.*\/(packages|apps)\//, '$1/');
const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
const pkg = (n: Node) => {
  const u = n.callFrame.url;
  if (!u) return n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : '(native)';
  if (u.startsWith('node:')) return u.split('/')[0]!.replace(/^node:/, 'node:') + (u.includes('/') ? '/' + u.split('/')[1] : '');
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (m) return m[1]!;
  const w = /\/(packages\/(?:modules\/)?[^/]+|apps\/[^/]+)\//.exec(u);
  return w ? w[1]! : short(u);
};

const selfByLabel = new Map<string, number>();
const selfByPkg = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  selfByLabel.set(label(n), (selfByLabel.get(label(n)) ?? 0) + t);
  selfByPkg.set(pkg(n), (selfByPkg.get(pkg(n)) ?? 0) + t);
  // Inclusive: every distinct frame on the stack gets the sample once.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (seen.has(l)) continue;
    seen.add(l);
    inclusive.set(l, (inclusive.get(l) ?? 0) + t);
  }
}

const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
const print = (title: string, m: Map<string, number>, n: number) => {
  console.log(`\n## ${title}`);
  const rows = [...m].filter(([k]) => !values.filter || k.includes(values.filter)).sort((a, b) => b[1] - a[1]).slice(0, n);
  for (const [k, t] of rows) console.log(`${pct(t)} ${(t / 1000).toFixed(0).padStart(7)} ms  ${k}`);
};
console.log(`profile: ${((profile.endTime - profile.startTime) / 1e6).toFixed(2)} s wall, ${(total / 1e6).toFixed(2)} s sampled`);
print('self time by package', selfByPkg, 20);
print('self time by function', selfByLabel, top);
print('inclusive time by function', inclusive, top);
