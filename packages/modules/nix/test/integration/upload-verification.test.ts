/**
 * What the cache refuses on upload, and that a refused upload leaves nothing behind: no
 * package, version, file, blob, owner file or store path row, and no staging file.
 * NARs: hash ≠ URL, compression ≠ name, malformed NARs inside valid xz/zstd/gzip,
 * truncated streams. Narinfos: every field that must match what the server computed,
 * missing NARs and references, a CA that does not give the StorePath, malformed files.
 * Re-PUT of a narinfo is idempotent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import {
  NAR_MAX_ENTRIES,
  formatHash,
  narFileUrl,
  parseNarInfo,
  parseNix32Sha256,
  parseStorePathBaseName,
  serializeNarInfo,
  sha256,
  storePathFromContentAddress,
  writeNar,
  type CompressionName,
} from '../../src/format/index.js';
import { entry, file, MAGIC, nar, str } from '../unit/format/nar-builder.js';
import { manyEmptyFiles } from '../unit/format/many-files.js';
import {
  CacheClient,
  compress,
  expect400,
  expectNothingLeft,
  makePath,
  nix32Of,
  randomHashPart,
  rowCounts,
  tmpFiles,
  withInfo,
  type TestCompression,
  type TestPath,
} from './support.js';

const kinds = await testDatabaseKinds();
const COMPRESSIONS: TestCompression[] = ['none', 'xz', 'zstd', 'gzip'];

/** The NAR file name Nix would give these bytes. */
const narName = (bytes: Uint8Array, compression: TestCompression) => narFileUrl(sha256(bytes), compression as CompressionName).slice('nar/'.length);

/** Malformed NARs, each with what the refusal must mention. */
const MALFORMED: Array<[string, Uint8Array, RegExp]> = [
  ['unsorted directory entries', nar(MAGIC, '(', 'type', 'directory', ...entry('b', file('b')), ...entry('a', file('a')), ')'), /sorted/i],
  ['duplicate directory entries', nar(MAGIC, '(', 'type', 'directory', ...entry('a', file('1')), ...entry('a', file('2')), ')'), /sorted|duplicate/i],
  ['non-zero padding', nar(MAGIC, '(', 'type', 'regular', 'contents', str('hello\n', 1), ')'), /padding/i],
  ['a bad magic', nar('nix-archive-2', ...file('x')), /magic|nix-archive|archive/i],
  ['trailing bytes after the root', Buffer.concat([nar(MAGIC, ...file('x')), Buffer.alloc(8)]), /trailing|after/i],
  ['an entry named ..', nar(MAGIC, '(', 'type', 'directory', ...entry('..', file('x')), ')'), /\.\.|name/i],
];

describe.each(kinds)('nix upload verification on %s', (kind) => {
  let t: TestServer;
  let alice: CacheClient;

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    const user = await t.createUser('alice');
    alice = new CacheClient(t, 'alice', basic('alice', await t.token(user)));
    expect((await alice.put('nix-cache-info', 'StoreDir: /nix/store\n', 'text/x-nix-cache-info')).status).toBe(204);
  });
  afterAll(() => t?.close());

  const refuseNar = (fileName: string, bytes: Uint8Array, message: RegExp) =>
    expectNothingLeft(t, async () => {
      await expect400(alice.put(`nar/${fileName}`, bytes, 'application/x-nix-nar'), message);
      expect((await alice.head(`nar/${fileName}`)).status).toBe(404);
    });

  describe('NAR uploads', () => {
    it('refuses a body whose sha256 is not the hash in the URL', async () => {
      for (const compression of COMPRESSIONS) {
        const p = makePath({ compression });
        const other = narName(Buffer.concat([p.file, Buffer.from('x')]), compression);
        await refuseNar(other, p.file, /hash/i);
      }
    });

    it('refuses data whose compression is not the one its name says', async () => {
      const plain = makePath({ compression: 'none' }).nar;
      const cases: Array<[TestCompression, TestCompression]> = [
        ['zstd', 'xz'], // zstd data named .nar.xz
        ['xz', 'zstd'],
        ['gzip', 'zstd'],
        ['none', 'xz'],
        ['xz', 'none'], // xz data named .nar (which means none, gzip, …: never xz)
        ['zstd', 'gzip'],
      ];
      for (const [actual, named] of cases) {
        const bytes = compress(plain, actual);
        const name = narName(bytes, named);
        await refuseNar(name, bytes, new RegExp(actual === 'none' ? 'uncompressed NAR' : `data is ${actual}-compressed`));
      }
    });

    for (const [what, bytes, message] of MALFORMED) {
      it(`refuses a NAR with ${what}, plain and inside valid xz, zstd and gzip`, async () => {
        for (const compression of COMPRESSIONS) {
          const data = compress(bytes, compression);
          await refuseNar(narName(data, compression), data, message);
        }
      });
    }

    it('refuses a truncated xz, zstd or gzip stream and a truncated plain NAR', async () => {
      const p = makePath({ nar: makePath().nar });
      for (const compression of COMPRESSIONS) {
        const whole = compress(p.nar, compression);
        for (const cut of [1, Math.floor(whole.length / 2)]) {
          const truncated = whole.subarray(0, whole.length - cut);
          await refuseNar(narName(truncated, compression), truncated, /truncated|corrupt|unexpected EOF/);
        }
      }
    });

    it('refuses something that is no NAR at all, and an empty body', async () => {
      const junk = compress(Buffer.from('this is not a nix archive, just text\n'.repeat(10)), 'gzip');
      await refuseNar(narName(junk, 'gzip'), junk, /NAR|archive|magic/i);
      const empty = Buffer.alloc(0);
      await refuseNar(narName(empty, 'none'), empty, /empty/);
    });

    it('refuses a NAR with more entries than NAR_MAX_ENTRIES with 413 (the listing bomb), leaving nothing', async () => {
      // The attack: a few MB of compressed empty files used to take the heap to 4 GB.
      const gz: Buffer[] = [];
      for await (const chunk of Readable.from(manyEmptyFiles(NAR_MAX_ENTRIES)).pipe(createGzip({ level: 1 }))) gz.push(chunk as Buffer);
      const body = Buffer.concat(gz);
      expect(body.length).toBeLessThan(64 * 1024 * 1024);
      await expectNothingLeft(t, async () => {
        const res = await alice.put(`nar/${narName(body, 'gzip')}`, body, 'application/x-nix-nar');
        expect(res.status).toBe(413);
        expect(await res.text()).toMatch(`the NAR holds more than ${NAR_MAX_ENTRIES} files, directories and symlinks, the most this cache accepts`);
      });
    }, 120_000);

    it('accepts bzip2 and lzip NARs as Nix 2.8 writes them, verified like the others', async () => {
      // bzip2: a path of the fixture cache Nix 2.8 wrote with compression=bzip2.
      const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../fixtures');
      const info = parseNarInfo(readFileSync(join(fixtures, 'nix-2.8/cache-bzip2/6hnkq4xdmvnjlkrdzhp9g03bk2d3jk1k.narinfo')));
      const bz2 = readFileSync(join(fixtures, 'nix-2.8/cache-bzip2', info.url));
      expect((await alice.put(info.url, bz2, 'application/x-nix-nar')).status).toBe(201);
      expect((await alice.put('6hnkq4xdmvnjlkrdzhp9g03bk2d3jk1k.narinfo', serializeNarInfo(info), 'text/x-nix-narinfo')).status).toBe(201);
      expect(await alice.narinfo('6hnkq4xdmvnjlkrdzhp9g03bk2d3jk1k')).toContain('Compression: bzip2\n');
      // lzip: a NAR file Nix 2.8 (libarchive) compressed, described by a narinfo of our own.
      const lz = readFileSync(join(fixtures, 'compression-corpus/small.lz'));
      const base = makePath({ nar: writeNar({ type: 'regular', contents: 'hello from the lzip corpus\n' }) });
      const p = withInfo(base, { url: narFileUrl(sha256(lz), 'lzip'), compression: 'lzip', fileHash: sha256(lz), fileSize: lz.length });
      expect((await alice.put(p.info.url, lz, 'application/x-nix-nar')).status).toBe(201);
      expect((await alice.putNarInfo(p)).status).toBe(201);
      // A damaged bzip2 file is refused like any other.
      const damaged = Buffer.from(bz2);
      damaged[damaged.length - 20]! ^= 0x10;
      await refuseNar(narName(damaged, 'bzip2' as TestCompression), damaged, /bzip2 data is corrupt/);
    });

    it('accepts each compression, and the same NAR again (201, idempotent)', async () => {
      for (const compression of COMPRESSIONS) {
        const p = makePath({ compression });
        expect((await alice.putNar(p)).status).toBe(201);
        const before = await rowCounts(t);
        expect((await alice.putNar(p)).status).toBe(201);
        expect(await rowCounts(t)).toEqual(before);
        const res = await alice.get(p.url);
        expect(res.status).toBe(200);
        expect(Buffer.from(await res.arrayBuffer()).equals(p.file)).toBe(true);
      }
      expect(await tmpFiles(t)).toEqual([]);
    });
  });

  it('leaves nothing behind when it refuses a listing, log, debuginfo, realisation or nix-cache-info', async () => {
    const cases: Array<[string, string, RegExp]> = [
      [`${randomHashPart()}.ls`, '{"version":2}', /listing/],
      [`log/${randomHashPart()}-not-a-derivation`, 'log', /derivation/],
      [`debuginfo/${'ab'.repeat(20)}.debug`, '{"archive":"../nar/x.nar"}', /debuginfo/],
      [`realisations/sha256:${'d'.repeat(64)}!out.doi`, '{"id":"sha256:x!out","outPath":"y"}', /realisation|hash/],
      ['nix-cache-info', 'StoreDir: /gnu/store\n', /store/],
    ];
    for (const [rest, body, message] of cases) {
      await expectNothingLeft(t, async () => {
        await expect400(alice.put(rest, body, 'application/json'), message);
        if (rest === 'nix-cache-info') expect(await (await alice.get(rest)).text()).toContain('StoreDir: /nix/store\n');
        else expect((await alice.get(rest)).status).not.toBe(200);
      });
    }
  });

  describe('narinfo uploads', () => {
    let p: TestPath;
    let dep: TestPath;

    beforeAll(async () => {
      dep = makePath({ name: 'dep-1.0', compression: 'zstd' });
      await alice.push(dep);
      p = makePath({ name: 'app-2.0', compression: 'xz', references: [dep], selfReference: true });
      expect((await alice.putNar(p)).status).toBe(201);
    });

    const refuseInfo = (hashPart: string, text: string, message: RegExp) =>
      expectNothingLeft(t, async () => {
        await expect400(alice.put(`${hashPart}.narinfo`, text, 'text/x-nix-narinfo'), message);
        expect((await alice.get(`${hashPart}.narinfo`)).status).toBe(404);
      });

    it('refuses a StorePath that is not the one in the URL', async () => {
      await refuseInfo(randomHashPart(), p.narinfo, /StorePath/);
    });

    it('refuses NarHash, NarSize, FileHash, FileSize and Compression that differ from the NAR, naming the field', async () => {
      const wrongHash = sha256('something else');
      const cases: Array<[string, TestPath]> = [
        ['NarHash', withInfo(p, { narHash: wrongHash })],
        ['NarSize', withInfo(p, { narSize: p.info.narSize + 8 })],
        ['FileHash', withInfo(p, { fileHash: wrongHash })],
        ['FileSize', withInfo(p, { fileSize: p.info.fileSize! + 1 })],
        ['Compression', withInfo(p, { compression: 'zstd' })],
        ['Compression', withInfo(p, { compression: 'none' })],
      ];
      for (const [field, bad] of cases) {
        const text = await (async () => {
          let message = '';
          await expectNothingLeft(t, async () => {
            message = await expect400(alice.putNarInfo(bad), new RegExp(`^${field} `));
          });
          return message;
        })();
        expect(text, field).toContain(field);
      }
      // Base16 and SRI spellings of the right hash are the same hash.
      const base16 = p.narinfo.replace(formatHash(p.info.narHash, 'nix32'), formatHash(p.info.narHash, 'base16'));
      expect(base16).not.toBe(p.narinfo);
      expect((await alice.putNarInfo(p, base16)).status).toBe(201);
      expect((await alice.delete(`${p.hashPart}.narinfo`)).status).toBe(200);
      expect((await alice.putNar(p)).status).toBe(201);
    });

    it('refuses a narinfo whose Compression line is missing (Nix reads that as bzip2)', async () => {
      const text = p.narinfo.replace('Compression: xz\n', '');
      await refuseInfo(p.hashPart, text, /Compression/);
    });

    it('refuses a narinfo whose NAR was never uploaded to this cache', async () => {
      const q = makePath({ name: 'never-uploaded' });
      await refuseInfo(q.hashPart, q.narinfo, /not been uploaded/);
      // A URL that is not a NAR of this cache at all.
      await refuseInfo(q.hashPart, q.narinfo.replace(q.url, 'https://cache.nixos.org/nar/x.nar.xz'), /URL/);
    });

    it('refuses references that are not in this cache, or are there under another name', async () => {
      const missing = makePath({ name: 'missing-dep' });
      const refs = withInfo(p, { references: [...p.info.references, missing.storePath] });
      await refuseInfo(p.hashPart, refs.narinfo, new RegExp(`References.*${missing.baseName}`));
      const renamed = parseStorePathBaseName(`${dep.hashPart}-not-dep-1.0`);
      const other = withInfo(p, { references: [renamed, p.storePath] });
      await refuseInfo(p.hashPart, other.narinfo, new RegExp(`References.*${renamed.baseName}`));
    });

    it('refuses narinfos that are malformed, with a 400 that says why', async () => {
      const cases: Array<[string, RegExp]> = [
        [p.narinfo.slice(0, -1), /newline|line/i],
        [p.narinfo.replace(/\n/g, '\r\n'), /CR|carriage|control|\\r/i],
        [p.narinfo.replace('NarSize: ', 'NarSize:  '), /NarSize/],
        [p.narinfo.replace(/^StorePath: .*\n/, ''), /StorePath/],
        [p.narinfo + 'Sig: garbage\n', /Sig|signature/i],
        [p.narinfo + `Sig: someone-1:${Buffer.alloc(63).toString('base64')}\n`, /Sig|signature|bytes/i],
        [p.narinfo + 'Sig: :AAAA\n', /Sig|signature|key name/i],
        [p.narinfo.replace('References: ', 'References: /nix/store/'), /References|reference/],
      ];
      for (const [text, message] of cases) await refuseInfo(p.hashPart, text, message);
    });

    it('checks a CA field: the StorePath must follow from it, and a fixed:r:sha256 one must be the NarHash', async () => {
      // The case: CA fixed:r:sha256:<NarHash> on a path whose hash does not follow from it.
      const plain = makePath({ name: 'not-ca-1.0', compression: 'zstd' });
      expect((await alice.putNar(plain)).status).toBe(201);
      const forged = withInfo(plain, { ca: { method: 'nar', hash: plain.info.narHash } });
      await refuseInfo(plain.hashPart, forged.narinfo, /^narinfo refused: CA fixed:r:sha256:\S+ does not match StorePath: with this name and these references Nix derives \/nix\/store\/\S+-not-ca-1\.0, not /);
      // The path Nix derives from the same NAR is accepted, CA and all.
      const derived = storePathFromContentAddress({ method: 'nar', hash: sha256(plain.nar) }, 'ca-path-1.0', [], false);
      const ca = makePath({ name: 'ca-path-1.0', hashPart: derived.hashPart, nar: plain.nar, compression: 'zstd' });
      const caInfo = withInfo(ca, { ca: { method: 'nar', hash: ca.info.narHash } });
      expect((await alice.putNar(caInfo)).status).toBe(201);
      expect((await alice.putNarInfo(caInfo)).status).toBe(201);
      expect(await alice.narinfo(ca.hashPart)).toContain(`CA: fixed:r:sha256:${nix32Of(plain.nar)}\n`);
      // A path that follows from its CA, but the CA is not the hash of the NAR uploaded.
      const other = sha256(Buffer.from('some other content'));
      const lie = storePathFromContentAddress({ method: 'nar', hash: other }, 'ca-lie-1.0', [], false);
      const lying = makePath({ name: 'ca-lie-1.0', hashPart: lie.hashPart, nar: plain.nar, compression: 'zstd' });
      await refuseInfo(lying.hashPart, withInfo(lying, { ca: { method: 'nar', hash: other } }).narinfo, /does not match NarHash sha256:\S+: a fixed:r:sha256 content address is the hash of the NAR/);
      // A flat content address cannot have references.
      const flat = sha256(Buffer.from('flat'));
      const flatPath = storePathFromContentAddress({ method: 'flat', hash: flat }, 'flat-1.0', [], false);
      const withRef = makePath({ name: 'flat-1.0', hashPart: flatPath.hashPart, nar: plain.nar, compression: 'zstd', references: [dep] });
      await refuseInfo(withRef.hashPart, withInfo(withRef, { ca: { method: 'flat', hash: flat } }).narinfo, /cannot have references/);
    });

    it('accepts the right narinfo (201); a re-PUT is idempotent (200, same served bytes, no new rows)', async () => {
      expect((await alice.putNarInfo(p)).status).toBe(201);
      const first = await alice.narinfo(p.hashPart);
      const rows = await rowCounts(t);
      const again = await alice.putNarInfo(p);
      expect(again.status).toBe(200);
      expect(await alice.narinfo(p.hashPart)).toBe(first);
      expect(await rowCounts(t)).toEqual(rows);
      // The NAR again (nix copy --repair), then the narinfo once more: still the same.
      expect((await alice.putNar(p)).status).toBe(201);
      expect((await alice.putNarInfo(p)).status).toBe(200);
      expect(await alice.narinfo(p.hashPart)).toBe(first);
      expect(await rowCounts(t)).toEqual(rows);
      const served = first;
      expect(served).toContain(`References: ${[dep.baseName, p.baseName].sort().join(' ')}\n`);
      expect(served).toContain(`NarHash: sha256:${nix32Of(p.nar)}\n`);
      expect(parseNix32Sha256(nix32Of(p.file))).toEqual(p.info.fileHash);
      expect(await tmpFiles(t)).toEqual([]);
    });
  });
});
