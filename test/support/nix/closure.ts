/**
 * Builds closures of fresh store paths from a declarative spec: one Nix expression, one
 * `nix-instantiate`, one `nix-store --realise` (parallel, `max-jobs` = CPUs).
 *
 * Every call salts all derivations with a random string in their environment, so every test
 * run gets store paths (and NAR contents) that no cache has seen before.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BUILDER_SCRIPT, GENERATOR } from './builder.js';
import type { NixClient } from './client.js';

export type ContentKind = 'text' | 'binary' | 'mixed';

export interface PathSpec {
  /** Store path name (`[A-Za-z0-9+\-._?=]`, not starting with `.`); unique within the spec. */
  name: string;
  /** Bytes of file content, split across `files` (default 1024). The NAR adds a little. */
  size?: number;
  /** `text` (compressible, the default), `binary` (random) or `mixed` (¼ random 64 KiB blocks). */
  content?: ContentKind;
  /** Number of data files (default 1; 0 allowed when size is 0). */
  files?: number;
  /** Add an executable `bin/<name>`. */
  bin?: boolean;
  /** Add a relative symlink `link`. */
  symlink?: boolean;
  /** Names of other paths in the spec; their store paths are written into this output. */
  references?: string[];
  /** Also write the output's own store path into it (a self-reference). */
  selfReference?: boolean;
  /** The output is one regular file instead of a directory (no bin/symlink). */
  singleFile?: boolean;
}

export interface ClosureSpec {
  paths: PathSpec[];
}

export interface BuiltPath {
  name: string;
  /** `/nix/store/<hash>-<name>` */
  outPath: string;
  /** `/nix/store/<hash>-<name>.drv` */
  drvPath: string;
  /** Store paths this output references (dependencies, and itself if selfReference). */
  references: string[];
  spec: Required<Omit<PathSpec, 'references'>> & { references: string[] };
}

export interface BuiltClosure {
  salt: string;
  /** Topological order: every path comes after the paths it references. */
  paths: BuiltPath[];
  outPaths: string[];
  drvPaths: string[];
  byName: Record<string, BuiltPath>;
  /** Output paths that nothing else in the closure references (copying these copies all). */
  roots: string[];
  /** Sum of `size` over the spec. */
  totalBytes: number;
  exprFile: string;
  buildMs: number;
}

export interface BuildClosureOptions {
  /** Override the salt (default: 16 random hex characters). */
  salt?: string;
  /** `max-jobs` for this build (default: the client's). */
  maxJobs?: number;
  timeoutMs?: number;
}

const NAME_RE = /^[A-Za-z0-9+\-_?=][A-Za-z0-9+\-._?=]*$/;

function normalise(p: PathSpec): BuiltPath['spec'] {
  const spec = {
    name: p.name,
    size: p.size ?? 1024,
    content: p.content ?? 'text',
    files: p.files ?? 1,
    bin: p.bin ?? false,
    symlink: p.symlink ?? false,
    references: [...new Set(p.references ?? [])],
    selfReference: p.selfReference ?? false,
    singleFile: p.singleFile ?? false,
  };
  if (!NAME_RE.test(spec.name) || spec.name.length > 200) throw new Error(`invalid store path name ${JSON.stringify(spec.name)}`);
  if (!Number.isSafeInteger(spec.size) || spec.size < 0) throw new Error(`${spec.name}: size must be a non-negative integer`);
  if (!Number.isSafeInteger(spec.files) || spec.files < 0) throw new Error(`${spec.name}: files must be a non-negative integer`);
  if (spec.size > 0 && spec.files === 0 && !spec.singleFile) throw new Error(`${spec.name}: size > 0 needs files >= 1`);
  if (!['text', 'binary', 'mixed'].includes(spec.content)) throw new Error(`${spec.name}: unknown content ${spec.content}`);
  if (spec.singleFile && (spec.bin || spec.symlink)) throw new Error(`${spec.name}: a single-file output has no bin/ or symlink`);
  return spec;
}

/** Validates the DAG and returns the specs in topological order (stable: spec order where free). */
export function topoSort(paths: readonly PathSpec[]): BuiltPath['spec'][] {
  const specs = paths.map(normalise);
  const byName = new Map<string, BuiltPath['spec']>();
  for (const s of specs) {
    if (byName.has(s.name)) throw new Error(`duplicate path name ${s.name}`);
    byName.set(s.name, s);
  }
  for (const s of specs) {
    for (const r of s.references) {
      if (!byName.has(r)) throw new Error(`${s.name} references unknown path ${r}`);
      if (r === s.name) throw new Error(`${s.name} references itself by name; use selfReference`);
    }
  }
  const order: BuiltPath['spec'][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (s: BuiltPath['spec'], stack: string[]) => {
    const st = state.get(s.name);
    if (st === 'done') return;
    if (st === 'visiting') throw new Error(`reference cycle: ${[...stack, s.name].join(' -> ')}`);
    state.set(s.name, 'visiting');
    for (const r of s.references) visit(byName.get(r)!, [...stack, s.name]);
    state.set(s.name, 'done');
    order.push(s);
  };
  for (const s of specs) visit(s, []);
  return order;
}

function nixString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$\{/g, '\\${')}"`;
}

function renderExpression(order: BuiltPath['spec'][], salt: string): string {
  const ident = new Map(order.map((s, i) => [s.name, `p${i}`]));
  const lines = order.map((s) => {
    const refs = s.references.map((r) => ident.get(r)).join(' ');
    return (
      `  ${ident.get(s.name)} = mk ${nixString(s.name)} { size = ${s.size}; files = ${s.files}; content = "${s.content}"; ` +
      `bin = ${s.bin}; symlink = ${s.symlink}; selfRef = ${s.selfReference}; singleFile = ${s.singleFile}; refs = [ ${refs} ]; };`
    );
  });
  return `# generated by test/support/nix/closure.ts
let
  salt = ${nixString(salt)};
  generator = builtins.readFile ./generator.pl;
  mk = name: attrs: derivation ({
    inherit name salt generator;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" ${nixString(BUILDER_SCRIPT)} ];
    PATH = "/bin:/usr/bin";
  } // attrs);
${lines.join('\n')}
in map (d: { out = d.outPath; drv = d.drvPath; }) [ ${order.map((s) => ident.get(s.name)).join(' ')} ]
`;
}

/**
 * Builds the paths of `spec` (fresh, salted) and returns them in topological order.
 * Throws (with the client's log tail) if evaluation or a build fails.
 */
export async function buildClosure(client: NixClient, spec: ClosureSpec | PathSpec[], options: BuildClosureOptions = {}): Promise<BuiltClosure> {
  const started = Date.now();
  const order = topoSort(Array.isArray(spec) ? spec : spec.paths);
  const salt = options.salt ?? randomBytes(8).toString('hex');
  const dir = client.workPath(`closure-${salt}`);
  mkdirSync(dir, { recursive: true });
  const exprFile = path.join(dir, 'closure.nix');
  writeFileSync(path.join(dir, 'generator.pl'), GENERATOR);
  writeFileSync(exprFile, renderExpression(order, salt));

  const evaluated = await client.run('nix-instantiate', ['--eval', '--strict', '--json', '--read-write-mode', exprFile], { check: true });
  const pairs = JSON.parse(evaluated.stdout) as { out: string; drv: string }[];
  if (pairs.length !== order.length) throw client.error(`expected ${order.length} derivations, evaluation returned ${pairs.length}`);

  const realiseArgs = ['--realise', ...pairs.map((p) => p.drv)];
  if (options.maxJobs !== undefined) realiseArgs.push('--max-jobs', String(options.maxJobs));
  const realised = await client.run('nix-store', realiseArgs, { check: true, timeoutMs: options.timeoutMs ?? 3_600_000 });
  const built = new Set(realised.stdout.split('\n').filter(Boolean));
  for (const p of pairs) if (!built.has(p.out)) throw client.error(`nix-store --realise did not report ${p.out}`, realised);

  const outByName = new Map(order.map((s, i) => [s.name, pairs[i]!.out]));
  const paths: BuiltPath[] = order.map((s, i) => ({
    name: s.name,
    outPath: pairs[i]!.out,
    drvPath: pairs[i]!.drv,
    references: [...s.references.map((r) => outByName.get(r)!), ...(s.selfReference ? [pairs[i]!.out] : [])],
    spec: s,
  }));
  const referenced = new Set(order.flatMap((s) => s.references));
  const buildMs = Date.now() - started;
  client.appendLog(`# built ${paths.length} paths (${order.reduce((a, s) => a + s.size, 0)} bytes) with salt ${salt} in ${buildMs} ms\n`);
  return {
    salt,
    paths,
    outPaths: paths.map((p) => p.outPath),
    drvPaths: paths.map((p) => p.drvPath),
    byName: Object.fromEntries(paths.map((p) => [p.name, p])),
    roots: paths.filter((p) => !referenced.has(p.name)).map((p) => p.outPath),
    totalBytes: order.reduce((a, s) => a + s.size, 0),
    exprFile,
    buildMs,
  };
}

/** `nix-store --add FILE`: a content-addressed single path (note: CA paths need no signature to substitute). */
export async function addFile(client: NixClient, file: string): Promise<string> {
  const r = await client.run('nix-store', ['--add', path.resolve(file)], { check: true });
  return r.stdout.trim();
}

/**
 * Writes `text` (plus, unless `salt: false`, a random salt line so the path is fresh) to a
 * file named `name` and adds it with `nix-store --add`.
 */
export async function addText(client: NixClient, name: string, text: string, options: { salt?: boolean } = {}): Promise<string> {
  const dir = client.workPath('add');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, options.salt === false ? text : `${text}\nsalt ${randomBytes(8).toString('hex')}\n`);
  return addFile(client, file);
}
