/**
 * The recipes of docs/nix-cache.md §13, as printed there: the post-build hook pushes every
 * build of the real Nix 2.8 (its script is taken from the document, only the host and the
 * key file replaced), and the GitHub and Gitea/Forgejo Actions workflows are linted as YAML
 * and checked for the steps the recipe promises.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { testDatabaseKinds } from '@forge/db/testing';
import { startTestServer, type TestServer } from '@forge/server/testing';
import { REPO } from '../support/nginx/index.js';
import { buildClosure, createNixClient, deleteLocal, generateKey, requireNix, type NixClient } from '../support/nix/index.js';

const DOC = readFileSync(path.join(REPO, 'docs/nix-cache.md'), 'utf8');
const DOC_CACHE = 'https://forge.example/api/packages/alice/nix';

/** The first fenced block of `lang` after the heading that starts with `heading`. */
function blockAfter(heading: string, lang: string): string {
  const at = DOC.indexOf(`\n### ${heading}`);
  if (at < 0) throw new Error(`docs/nix-cache.md has no heading "### ${heading}"`);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)\\n```').exec(DOC.slice(at));
  if (!m) throw new Error(`no ${lang} block after "### ${heading}"`);
  return m[1]!;
}

describe('CI workflows in docs/nix-cache.md', () => {
  it.each([
    ['GitHub Actions', 'actions/checkout', 'cachix/install-nix-action'],
    ['Gitea / Forgejo Actions', 'https://github.com/actions/checkout', 'https://github.com/cachix/install-nix-action'],
  ])('%s: valid YAML with install, netrc from a secret, build and nix copy', (heading, checkout, installer) => {
    const doc = parseDocument(blockAfter(heading, 'yaml'), { strict: true, uniqueKeys: true, prettyErrors: true });
    expect(doc.errors.map(String)).toEqual([]);
    expect(doc.warnings.map(String)).toEqual([]);
    const wf = doc.toJS() as { on: unknown; jobs: Record<string, { 'runs-on': string; steps: Array<Record<string, unknown>> }> };
    expect(wf.on).toBeTruthy();
    const jobs = Object.values(wf.jobs);
    expect(jobs).toHaveLength(1);
    const { steps } = jobs[0]!;
    expect(typeof jobs[0]!['runs-on']).toBe('string');
    for (const step of steps) expect(Boolean(step.uses) !== Boolean(step.run), JSON.stringify(step)).toBe(true);
    const uses = steps.map((s) => String(s.uses ?? ''));
    expect(uses.some((u) => u.startsWith(`${checkout}@`))).toBe(true);
    const install = steps.find((s) => String(s.uses ?? '').startsWith(`${installer}@`));
    const nixConfig = String((install?.with as Record<string, unknown> | undefined)?.extra_nix_config ?? '');
    expect(nixConfig).toContain(`extra-substituters = ${DOC_CACHE}`);
    expect(nixConfig).toMatch(/^extra-trusted-public-keys = \S+:\S+$/m);
    expect(nixConfig).toContain('netrc-file = /etc/nix/netrc');
    const runs = steps.map((s) => String(s.run ?? ''));
    const netrc = runs.findIndex((r) => r.includes('${{ secrets.FORGE_TOKEN }}') && r.includes('/etc/nix/netrc'));
    const build = runs.findIndex((r) => /^nix build /m.test(r));
    const copy = runs.findIndex((r) => r.includes(`nix copy --to '${DOC_CACHE}`) && r.includes('./result'));
    expect(netrc).toBeGreaterThan(-1);
    expect(build).toBeGreaterThan(netrc);
    expect(copy).toBeGreaterThan(build);
    // The token never lands in a world-readable file.
    expect(runs[netrc]).toMatch(/umask 077|install -m 0600/);
  });
});

const nix = requireNix();
const [kind] = nix.available ? await testDatabaseKinds() : ['pglite' as const];

describe.runIf(nix.available)('the post-build hook of docs/nix-cache.md with Nix 2.8', () => {
  let t: TestServer;
  let dir: string;
  let token: string;
  let cacheUrl: string;
  let client: NixClient;
  const built: string[] = [];

  /** The documented hook, for this server and this key file. */
  function writeHook(name: string, cache: string, secretKeyFile: string): string {
    const script = blockAfter('Push every build: `post-build-hook`', 'sh');
    expect(script).toContain(DOC_CACHE);
    expect(script).toContain('/etc/nix/forge-client.sec');
    const file = path.join(dir, name);
    writeFileSync(file, script.split(DOC_CACHE).join(cache).split('/etc/nix/forge-client.sec').join(secretKeyFile));
    chmodSync(file, 0o755);
    return file;
  }

  beforeAll(async () => {
    t = await startTestServer({ db: kind! });
    token = await t.token(await t.createUser('alice'), ['read:package', 'write:package'], { name: 'builder-hook' });
    dir = mkdtempSync(path.join(tmpdir(), 'forge-recipes-'));
    cacheUrl = `${t.url}/api/packages/alice/nix`;
    client = createNixClient({ dir: path.join(dir, 'builder'), netrc: [{ machine: '127.0.0.1', password: token }] });
  });

  afterAll(async () => {
    if (client) await deleteLocal(client, built);
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('pushes every path as it is built, signed with the client key', async () => {
    const key = await generateKey(client, 'builder.example-1');
    const trust = await fetch(`${cacheUrl}/-/trusted-keys`, { method: 'POST', headers: { authorization: `token ${token}`, 'content-type': 'text/plain' }, body: key.publicKey });
    expect(trust.status).toBe(201);
    client.configure({ extra: { 'post-build-hook': writeHook('forge-upload.sh', cacheUrl, key.secretKeyFile) } });
    const closure = await buildClosure(client, [
      { name: 'hook-lib', size: 6_000 },
      { name: 'hook-tool', size: 6_000, references: ['hook-lib'] },
      { name: 'hook-app', size: 6_000, references: ['hook-tool'] },
    ]);
    built.push(...closure.outPaths, ...closure.drvPaths);
    expect(readFileSync(client.logFile, 'utf8')).toContain('Uploading to the forge cache:');
    for (const p of closure.outPaths) {
      const res = await fetch(`${cacheUrl}/-/paths/${path.basename(p).slice(0, 32)}`, { headers: { authorization: `token ${token}` } });
      expect(res.status, p).toBe(200);
      const facts = (await res.json()) as { path: string; signatures: string[]; pushed_by: { token: string } };
      expect(facts.path).toBe(p);
      expect(facts.signatures.some((s) => s.startsWith('builder.example-1:'))).toBe(true);
      expect(facts.pushed_by.token).toBe('builder-hook');
    }
  });

  it('a failing hook (the cache unreachable) stops the build: what "it blocks builds" means', async () => {
    client.configure({ extra: { 'post-build-hook': writeHook('forge-upload-dead.sh', 'http://127.0.0.1:9/api/packages/alice/nix', '/nonexistent') } });
    let error: unknown;
    try {
      const closure = await buildClosure(client, [{ name: 'dead-hook-lib', size: 1_000 }, { name: 'dead-hook-app', size: 1_000, references: ['dead-hook-lib'] }]);
      built.push(...closure.outPaths, ...closure.drvPaths);
    } catch (err) {
      error = err;
    }
    expect(String(error)).toMatch(/error: program '[^']*forge-upload-dead\.sh' failed with exit code 1/);
    // The first derivation was built, its hook failed, and Nix built nothing after it.
    const log = readFileSync(client.logFile, 'utf8');
    expect(log).toMatch(/building '\/nix\/store\/[0-9a-z]{32}-dead-hook-lib\.drv'/);
    expect(log).not.toMatch(/building '\/nix\/store\/[0-9a-z]{32}-dead-hook-app\.drv'/);
    const lib = /built dead-hook-lib[\s\S]*?/.exec(log);
    expect(lib).not.toBeNull();
  });
});
