/**
 * Which store paths of one cache are live, which are garbage, and in which order garbage
 * can go. Pure: no database, no clock (the caller passes `nowMs`). docs/garbage-collection.md
 * states the rules; in short:
 *
 * - a path is **live** when it is pinned, or was pushed or read within the retention
 *   period, or is referenced (directly or not) by a live path; everything else is garbage.
 *   So the live set is closed under references and garbage is closed under referrers:
 *   a served narinfo never lacks a reference.
 * - with a **size limit**, the live paths are then trimmed: the least recently used
 *   *roots* (unpinned paths no remaining path references) go first, oldest access first,
 *   until what remains fits. Taking only roots never breaks a closure.
 * - garbage is deleted **referrers first** (reverse topological order), in batches, so
 *   that at every moment between two batches every remaining path has its references.
 */

/** One store path as the collector sees it. */
export interface GcNode {
  /** The path's hash part (unique in its cache). */
  key: string;
  /** Hash parts it references; may include itself and paths the cache does not hold (ignored). */
  references: readonly string[];
  /** When it was last pushed or read (ms since the epoch). */
  lastUsedMs: number;
  /** Bytes it takes in storage (its NAR file), for the size limit. */
  size: number;
  pinned: boolean;
}

export interface GcPolicy {
  nowMs: number;
  /** Paths unused for longer are garbage unless something live needs them; 0 or absent = kept forever. */
  retentionMs?: number;
  /** Most bytes the cache may hold after collection; absent = no limit. */
  maxSize?: number;
}

export type GcReason = 'retention' | 'size-limit';

export interface GcPlan {
  /** Why each garbage path goes (absent: live). */
  garbage: Map<string, GcReason>;
  /** Garbage in deletion order: each batch's referrers are in it or in an earlier batch. */
  batches: string[][];
  /** Bytes of the paths that stay, and of those that go. */
  keptBytes: number;
  garbageBytes: number;
}

/** A graph over indices: references and referrers within the cache, self-references dropped. */
interface Graph {
  nodes: readonly GcNode[];
  refs: number[][];
  referrers: number[][];
}

function buildGraph(nodes: readonly GcNode[]): Graph {
  const index = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (index.has(n.key)) throw new Error(`two paths have the hash part ${n.key}`);
    index.set(n.key, i);
  });
  const refs: number[][] = nodes.map(() => []);
  const referrers: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    for (const key of new Set(n.references)) {
      const j = index.get(key);
      if (j === undefined || j === i) continue;
      refs[i]!.push(j);
      referrers[j]!.push(i);
    }
  });
  return { nodes, refs, referrers };
}

/** Everything reachable from `roots` along references (the roots included). */
function closeUnderReferences(graph: Graph, roots: Iterable<number>, within?: (i: number) => boolean): Set<number> {
  const seen = new Set<number>();
  const stack: number[] = [];
  for (const r of roots) {
    if (!seen.has(r)) {
      seen.add(r);
      stack.push(r);
    }
  }
  while (stack.length > 0) {
    const i = stack.pop()!;
    for (const j of graph.refs[i]!) {
      if (seen.has(j) || (within && !within(j))) continue;
      seen.add(j);
      stack.push(j);
    }
  }
  return seen;
}

/** The live paths under retention alone: pinned or recently used, and everything they reference. */
export function liveUnderRetention(nodes: readonly GcNode[], policy: GcPolicy): Set<string> {
  const graph = buildGraph(nodes);
  return new Set([...retentionLive(graph, policy)].map((i) => nodes[i]!.key));
}

function retentionLive(graph: Graph, policy: GcPolicy): Set<number> {
  const retention = policy.retentionMs ?? 0;
  const roots: number[] = [];
  graph.nodes.forEach((n, i) => {
    if (retention <= 0 || n.pinned || n.lastUsedMs >= policy.nowMs - retention) roots.push(i);
  });
  return closeUnderReferences(graph, roots);
}

/**
 * The collection plan: garbage by retention, then, if what stays exceeds `maxSize`, the
 * least recently used unpinned roots of what stays, one at a time (a root's references
 * may become roots in turn), until it fits or only pinned closures are left.
 */
export function planCollection(nodes: readonly GcNode[], policy: GcPolicy, batchSize = 100): GcPlan {
  if (!(batchSize >= 1)) throw new RangeError('batchSize must be at least 1');
  const graph = buildGraph(nodes);
  const live = retentionLive(graph, policy);
  const garbage = new Map<string, GcReason>();
  const gone = new Set<number>();
  nodes.forEach((n, i) => {
    if (!live.has(i)) {
      garbage.set(n.key, 'retention');
      gone.add(i);
    }
  });
  let keptBytes = 0;
  for (const i of live) keptBytes += nodes[i]!.size;

  if (policy.maxSize !== undefined && keptBytes > policy.maxSize) {
    const pinnedClosure = closeUnderReferences(
      graph,
      [...live].filter((i) => nodes[i]!.pinned),
    );
    // Referrers of each kept path among the kept ones: a path becomes an evictable root at 0.
    const keptReferrers = new Map<number, number>();
    for (const i of live) keptReferrers.set(i, graph.referrers[i]!.filter((r) => live.has(r)).length);
    const heap = new MinHeap<number>((a, b) => nodes[a]!.lastUsedMs - nodes[b]!.lastUsedMs || (nodes[a]!.key < nodes[b]!.key ? -1 : 1));
    for (const [i, count] of keptReferrers) if (count === 0 && !pinnedClosure.has(i)) heap.push(i);
    while (keptBytes > policy.maxSize && heap.size > 0) {
      const i = heap.pop()!;
      gone.add(i);
      garbage.set(nodes[i]!.key, 'size-limit');
      keptBytes -= nodes[i]!.size;
      for (const j of graph.refs[i]!) {
        const left = keptReferrers.get(j)! - 1;
        keptReferrers.set(j, left);
        if (left === 0 && !pinnedClosure.has(j) && !gone.has(j)) heap.push(j);
      }
    }
  }

  let garbageBytes = 0;
  for (const i of gone) garbageBytes += nodes[i]!.size;
  return { garbage, batches: deletionOrder(graph, gone, batchSize), keptBytes, garbageBytes };
}

/**
 * Garbage in batches, referrers first (Kahn's algorithm over referrers within the garbage).
 * Store paths cannot form cycles, but a cache can (a narinfo re-pushed with other
 * references): what is left when no path is free of referrers goes in one last batch,
 * which a deletion takes as a whole.
 */
function deletionOrder(graph: Graph, gone: Set<number>, batchSize: number): string[][] {
  const pending = new Map<number, number>();
  for (const i of gone) pending.set(i, graph.referrers[i]!.filter((r) => gone.has(r)).length);
  let ready = [...gone].filter((i) => pending.get(i) === 0).sort((a, b) => a - b);
  const batches: string[][] = [];
  let left = gone.size;
  while (left > 0) {
    if (ready.length === 0) {
      const rest = [...pending.entries()].filter(([, n]) => n >= 0).map(([i]) => i).sort((a, b) => a - b);
      batches.push(rest.map((i) => graph.nodes[i]!.key));
      break;
    }
    const batch = ready.slice(0, batchSize);
    ready = ready.slice(batchSize);
    for (const i of batch) pending.set(i, -1);
    left -= batch.length;
    batches.push(batch.map((i) => graph.nodes[i]!.key));
    const freed: number[] = [];
    for (const i of batch) {
      for (const j of graph.refs[i]!) {
        if (!gone.has(j)) continue;
        const n = pending.get(j)! - 1;
        pending.set(j, n);
        if (n === 0) freed.push(j);
      }
    }
    ready.push(...freed.sort((a, b) => a - b));
  }
  return batches;
}

/** A binary min-heap (the size limit pops the least recently used root each step). */
class MinHeap<T> {
  readonly #items: T[] = [];
  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    const a = this.#items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(a[i]!, a[parent]!) >= 0) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.#items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.compare(a[l]!, a[m]!) < 0) m = l;
        if (r < a.length && this.compare(a[r]!, a[m]!) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
