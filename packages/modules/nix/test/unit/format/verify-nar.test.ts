import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  assertNarInfoMatchesNar,
  CompressionError,
  NarFormatError,
  NarVerificationError,
  SizeLimitError,
  createNarVerifier,
  formatHash,
  parseNarInfo,
  renderListing,
  type NarVerification,
  type NarVerifierOptions,
  writeNar,
} from '../../../src/format/index.js';
import { cacheFiles, chunked, fixture, fixtureText, hashPath, paths, prng } from './fixtures.js';

const treeNar = fixture(`cache-none/nar/${hashPath.find((h) => h.path === paths.tree)!.nix32}.nar`);
const treeInfo = (c: string) => parseNarInfo(fixtureText(`cache-${c}/${paths.tree.slice(11, 43)}.narinfo`));

/** Runs a verification, collecting the streamed listing. */
async function verify(options: NarVerifierOptions, chunks: Iterable<Uint8Array>): Promise<NarVerification & { listingBytes: Buffer }> {
  const listing: Uint8Array[] = [];
  const verifier = createNarVerifier({ onListing: (chunk) => void listing.push(chunk), ...options });
  for (const c of chunks) await verifier.write(c);
  const result = await verifier.end();
  return { ...result, listingBytes: Buffer.concat(listing) };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('createNarVerifier on uploads Nix 2.8 made', () => {
  const uploads = (['xz', 'zstd', 'bzip2', 'none', 'gzip', 'br'] as const).flatMap((c) => cacheFiles(c, '.narinfo').map((f) => [c, f] as const));

  it.each(uploads)('%s %s: yields exactly the narinfo fields and the .ls', async (compression, file) => {
    const info = parseNarInfo(fixtureText(file));
    const body = fixture(`cache-${compression}/${info.url}`);
    const urlHash = info.url.slice(4, 56);
    const rand = prng(body.length);
    for (const chunks of [[body], chunked(body, () => 1), chunked(body, () => Math.floor(rand() * 200))]) {
      const result = await verify({ compression: info.compression, expectedFileHash: urlHash, maxNarSize: info.narSize }, chunks);
      expect(formatHash(result.fileHash)).toBe(formatHash(info.fileHash!));
      expect(result.fileSize).toBe(info.fileSize);
      expect(formatHash(result.narHash)).toBe(formatHash(info.narHash));
      expect(result.narSize).toBe(info.narSize);
      expect(result.compression).toBe(compression);
      expect(result.listingBytes).toEqual(fixture(file.replace('.narinfo', '.ls')));
      expect(result.listingSize).toBe(result.listingBytes.length);
    }
  });

  it.each(['xz', 'zstd', 'bzip2', 'gzip', 'none'] as const)('detects %s with compression: auto', async (compression) => {
    const info = treeInfo(compression);
    const result = await verify({ compression: 'auto' }, [fixture(`cache-${compression}/${info.url}`)]);
    expect(result.compression).toBe(compression);
    expect(result.narSize).toBe(info.narSize);
  });

  it('accepts the expected file hash as a Hash or as sha256: text', async () => {
    const info = treeInfo('xz');
    const body = fixture(`cache-xz/${info.url}`);
    await expect(verify({ compression: 'xz', expectedFileHash: info.fileHash! }, [body])).resolves.toBeDefined();
    await expect(verify({ compression: 'xz', expectedFileHash: formatHash(info.fileHash!, 'sri') }, [body])).resolves.toBeDefined();
  });

  it('processes writes in order even when the caller does not await them', async () => {
    const info = treeInfo('zstd');
    const verifier = createNarVerifier({ compression: 'zstd' });
    const writes = [...chunked(fixture(`cache-zstd/${info.url}`), () => 3)].map((c) => verifier.write(c));
    const result = await verifier.end();
    await Promise.all(writes);
    expect(formatHash(result.narHash)).toBe(formatHash(info.narHash));
  });
});

describe('createNarVerifier rejects bad uploads, naming the field', () => {
  const xz = fixture(`cache-xz/${treeInfo('xz').url}`);
  const zst = fixture(`cache-zstd/${treeInfo('zstd').url}`);

  it('a body that does not hash to the URL', async () => {
    const other = treeInfo('zstd').fileHash!;
    const err = await failure(verify({ compression: 'xz', expectedFileHash: other }, [xz]));
    expect(err).toBeInstanceOf(NarVerificationError);
    expect(err).toMatchObject({ field: 'FileHash' });
    expect(err.message).toBe(`FileHash mismatch: URL says ${formatHash(other)}, body hashes to ${formatHash(treeInfo('xz').fileHash!)}`);
  });

  it.each<[NarVerifierOptions['compression'], Buffer, string]>([
    ['xz', zst, 'Compression mismatch: declared xz, but the data is zstd-compressed'],
    ['zstd', xz, 'Compression mismatch: declared zstd, but the data is xz-compressed'],
    ['none', xz, 'Compression mismatch: declared none, but the data is xz-compressed'],
    ['gzip', treeNar, 'Compression mismatch: declared gzip, but the data is an uncompressed NAR'],
    ['br', xz, 'Compression mismatch: declared br, but the data is xz-compressed'],
    ['xz', Buffer.from('hello'), 'Compression mismatch: declared xz, but the data is too short to be xz-compressed'],
    ['none', Buffer.alloc(100, 1), 'Compression mismatch: declared none, but the data is not an uncompressed NAR'],
  ])('data that is not what was declared (%s)', async (compression, body, message) => {
    const err = await failure(verify({ compression }, [body]));
    expect(err).toMatchObject({ field: 'Compression', message });
  });

  it('data whose compression cannot be told', async () => {
    const err = await failure(verify({ compression: 'auto' }, [fixture(`cache-br/${treeInfo('br').url}`)]));
    expect(err.message).toMatch(/cannot tell the compression of the upload.*brotli must be declared/);
  });

  it('compressions the cache cannot decode', async () => {
    expect(() => createNarVerifier({ compression: 'lz4' })).toThrow(/'lz4' is not supported by this cache; supported: none, xz, zstd, bzip2, lzip, gzip, br/);
    const err = await failure(verify({ compression: 'auto' }, [Buffer.concat([Buffer.from('04224d18', 'hex'), Buffer.alloc(40)])]));
    expect(err).toBeInstanceOf(CompressionError);
    expect(err.message).toMatch(/'lz4' is not supported/);
  });

  it('verifies lzip as Nix 2.8 writes it (libarchive), detected by its magic bytes', async () => {
    const lz = fixture('../compression-corpus/small.lz');
    const result = await verify({ compression: 'auto' }, chunked(lz, () => 5));
    expect(result.compression).toBe('lzip');
    expect(result.entryCount).toBe(1);
    expect(result.listingBytes.toString()).toMatch(/^\{"version":1,"root":\{"type":"regular","size":27,"narOffset":96\}\}$/);
  });

  it('an empty body', async () => {
    expect((await failure(verify({ compression: 'xz' }, []))).message).toBe('the upload is empty');
  });

  it('a truncated body', async () => {
    expect(await failure(verify({ compression: 'xz' }, [xz.subarray(0, xz.length - 10)]))).toBeInstanceOf(CompressionError);
    const err = await failure(verify({ compression: 'none' }, [treeNar.subarray(0, 1000)]));
    expect(err).toBeInstanceOf(NarFormatError);
    expect(err.message).toMatch(/NAR is truncated/);
  });

  it('a compressed body that is not a canonical NAR', async () => {
    const bad = Buffer.from(treeNar);
    bad[treeNar.length - 1] = 1; // a padding byte of the final ")"
    const err = await failure(verify({ compression: 'gzip' }, [gzipSync(bad)]));
    expect(err).toBeInstanceOf(NarFormatError);
    expect(err.message).toMatch(/padding byte is not zero/);
  });

  it('a NAR bigger than maxNarSize, and a file bigger than maxFileSize', async () => {
    const err = await failure(verify({ compression: 'xz', maxNarSize: 10_000 }, [xz]));
    expect(err).toBeInstanceOf(SizeLimitError);
    const big = await failure(verify({ compression: 'xz', maxFileSize: 100 }, chunked(xz, () => 64)));
    expect(big).toMatchObject({ field: 'FileSize', message: 'upload exceeds the maximum file size of 100 bytes' });
  });

  it('keeps failing once failed, and after abort', async () => {
    const verifier = createNarVerifier({ compression: 'xz' });
    await expect(verifier.write(zst)).rejects.toThrow(/Compression mismatch/);
    await expect(verifier.write(xz)).rejects.toThrow(/Compression mismatch/);
    await expect(verifier.end()).rejects.toThrow(/Compression mismatch/);
    const aborted = createNarVerifier({ compression: 'xz' });
    await aborted.write(xz.subarray(0, 100));
    aborted.abort();
    await expect(aborted.write(xz.subarray(100))).rejects.toThrow(/aborted/);
  });

  it('settles writes in flight when aborted', async () => {
    const rand = prng(9);
    const big = gzipSync(writeNar({ type: 'regular', contents: Buffer.from(Array.from({ length: 4_000_000 }, () => Math.floor(rand() * 256))) }));
    for (const [compression, body] of [['xz', xz], ['gzip', big]] as const) {
      const verifier = createNarVerifier({ compression });
      const pending = verifier.write(body);
      await new Promise((resolve) => setImmediate(resolve));
      verifier.abort();
      const outcome = await Promise.race([
        pending.then(() => 'resolved', (err: Error) => err.message),
        new Promise((resolve) => setTimeout(() => resolve('hung'), 5000)),
      ]);
      expect(outcome).not.toBe('hung');
      await expect(verifier.end()).rejects.toThrow(/aborted/);
    }
  });
});

describe('assertNarInfoMatchesNar', () => {
  it('accepts the narinfo Nix wrote for the NAR, and names the first field that differs', async () => {
    const info = treeInfo('xz');
    const nar = await verify({ compression: 'xz' }, [fixture(`cache-xz/${info.url}`)]);
    expect(() => assertNarInfoMatchesNar(info, nar)).not.toThrow();
    const { fileHash: _fileHash, fileSize: _fileSize, ...withoutFile } = info;
    expect(() => assertNarInfoMatchesNar(withoutFile, nar)).not.toThrow();
    const other = treeInfo('zstd');
    expect(() => assertNarInfoMatchesNar({ ...info, narSize: 1 }, nar)).toThrow(`NarSize mismatch: narinfo says 1, the NAR is ${info.narSize} bytes`);
    expect(() => assertNarInfoMatchesNar({ ...info, compression: 'zstd' }, nar)).toThrow('Compression mismatch: narinfo says zstd, the NAR file is xz-compressed');
    expect(() => assertNarInfoMatchesNar({ ...info, fileHash: other.fileHash! }, nar)).toThrow(/^FileHash mismatch: narinfo says/);
    expect(() => assertNarInfoMatchesNar({ ...info, fileSize: 1 }, nar)).toThrow(/^FileSize mismatch/);
    const ref = parseNarInfo(fixtureText(`cache-xz/${paths.ref.slice(11, 43)}.narinfo`));
    try {
      assertNarInfoMatchesNar({ ...info, narHash: ref.narHash }, nar);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ field: 'NarHash', message: `NarHash mismatch: narinfo says ${formatHash(ref.narHash)}, the NAR hashes to ${formatHash(info.narHash)}` });
    }
  });
});
