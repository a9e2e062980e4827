/**
 * The README is where a newcomer starts: its documentation list links the guides (the Nix
 * cache's first), and every relative link in it and in docs/ leads to a file that exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const docsList = readme.slice(readme.indexOf('## Documentation'));

describe('README documentation list', () => {
  it('links the guides a newcomer looks for, the Nix cache first', () => {
    const linked = [...docsList.matchAll(/\]\((docs\/[^)#]+)\)/g)].map((m) => m[1]);
    expect(linked[0]).toBe('docs/nix-cache.md');
    for (const doc of ['nix-cache', 'decisions', 'testing', 'operations', 'security', 'cli', 'ui', 'auth', 'architecture', 'deployment']) {
      expect(linked, `docs/${doc}.md`).toContain(`docs/${doc}.md`);
    }
  });

  it('has no relative link, in README.md or docs/, to a file that does not exist', () => {
    const files = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const broken: string[] = [];
    for (const file of files) {
      const text = readFileSync(path.join(root, file), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!;
        if (target === '' || /^[a-z]+:/i.test(target)) continue;
        if (!existsSync(path.join(root, path.dirname(file), target))) broken.push(`${file} → ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
