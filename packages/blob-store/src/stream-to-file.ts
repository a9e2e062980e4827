import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { PayloadTooLargeError, type BlobDigests } from '@forge/core';

export interface StreamToFileOptions {
  /** Reject with PayloadTooLargeError as soon as more than this many bytes arrived. */
  maxSize?: number;
  signal?: AbortSignal;
  /** Bytes gathered before one pwrite(2). At most two such buffers exist per stream. */
  bufferSize: number;
  /** Also compute md5, sha1 and sha512. */
  extraDigests?: boolean;
}

export interface StreamedFile {
  sha256: string;
  size: number;
  digests?: BlobDigests;
}

/**
 * Copies `source` into `file` (from offset 0) while hashing it, then fdatasyncs the file.
 *
 * Request bodies arrive in chunks of 16–64 KiB; writing each one would cost a syscall and
 * a thread-pool round trip per chunk. Instead chunks are copied into a buffer of
 * `bufferSize` bytes that is written with one pwrite, and the next buffer fills while that
 * write runs. At most one write is in flight: when the next buffer is full before the
 * previous write finished, the source is not pulled again until it did, so a client
 * faster than the disk is slowed to the disk's pace through ordinary stream backpressure,
 * and memory stays at two buffers per upload.
 *
 * Chunks are hashed and copied before the next one is requested, so a source that reuses
 * its chunk memory cannot make the stored bytes differ from the hashed ones.
 *
 * On failure (size limit, abort, source error, write error) the source is told to stop
 * (`iterator.return()`, which destroys a Node stream) without being read further; the
 * caller removes the file. Pending writes have settled by the time this rejects.
 */
export async function streamToFile(
  source: AsyncIterable<Uint8Array>,
  file: FileHandle,
  options: StreamToFileOptions,
): Promise<StreamedFile> {
  const { maxSize, signal, bufferSize } = options;
  signal?.throwIfAborted();

  const hash = createHash('sha256');
  const extra = options.extraDigests ? { md5: createHash('md5'), sha1: createHash('sha1'), sha512: createHash('sha512') } : null;
  let size = 0;
  let position = 0;
  let filling: Buffer | null = null;
  let filled = 0;
  let spare: Buffer | null = null;
  // Settles with the write's error instead of rejecting, so a failure between two awaits
  // is never an unhandled rejection; `awaitWrite` rethrows it.
  let inFlight: Promise<unknown> | null = null;

  const awaitWrite = async (): Promise<void> => {
    if (!inFlight) return;
    const error = await inFlight;
    inFlight = null;
    if (error) throw error;
  };

  // Large uploads are flushed to disk while they stream (one fdatasync in flight, started
  // every SYNC_EVERY bytes written), so the final fdatasync only has the tail left: the
  // disk works while the client still sends instead of after it finished.
  let synced = 0;
  let syncInFlight: Promise<unknown> | null = null;
  const maybeStartSync = (writtenUpTo: number): void => {
    if (syncInFlight || writtenUpTo - synced < SYNC_EVERY) return;
    synced = writtenUpTo;
    syncInFlight = file.datasync().then(
      () => {
        syncInFlight = null;
        return null;
      },
      (error: unknown) => error ?? new Error('fdatasync failed'),
    );
  };
  const awaitSync = async (): Promise<void> => {
    if (!syncInFlight) return;
    const error = await syncInFlight;
    syncInFlight = null;
    if (error) throw error;
  };

  const writeFilled = async (): Promise<void> => {
    await awaitWrite();
    const buffer = filling!;
    const length = filled;
    const at = position;
    position += length;
    filling = spare;
    spare = null;
    filled = 0;
    inFlight = writeFully(file, buffer, length, at).then(
      () => {
        spare = buffer;
        maybeStartSync(at + length);
        return null;
      },
      (error: unknown) => error ?? new Error('write failed'),
    );
  };

  // Aborting must not wait for a stalled client to send its next chunk, so the pending
  // pull is rejected by the signal. (One listener for the whole stream: racing every pull
  // against one long-lived promise would pile a reaction per chunk onto it.)
  let rejectPull: ((reason: unknown) => void) | null = null;
  const onAbort = () => rejectPull?.(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const pull = (iterator: AsyncIterator<Uint8Array>): Promise<IteratorResult<Uint8Array>> => {
    if (!signal) return iterator.next();
    return new Promise((resolve, reject) => {
      rejectPull = reject;
      // next() may run the source synchronously, and the source may trigger the abort.
      iterator.next().then(resolve, reject);
      if (signal.aborted) reject(signal.reason);
    });
  };

  const iterator = source[Symbol.asyncIterator]();
  let sourceFinished = false;
  try {
    for (;;) {
      signal?.throwIfAborted();
      let next: IteratorResult<Uint8Array>;
      try {
        next = await pull(iterator);
      } catch (error) {
        // A source that threw is finished; an abort left it mid-pull and it must be stopped.
        if (!signal?.aborted) sourceFinished = true;
        throw error;
      }
      if (next.done) {
        sourceFinished = true;
        break;
      }
      const chunk = next.value;
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError('a blob source must yield Uint8Array chunks');
      }
      if (maxSize !== undefined && size + chunk.length > maxSize) {
        throw new PayloadTooLargeError(maxSize);
      }
      size += chunk.length;
      hash.update(chunk);
      if (extra) for (const h of Object.values(extra)) h.update(chunk);
      for (let offset = 0; offset < chunk.length; ) {
        if (!filling) {
          filling = spare ?? Buffer.allocUnsafe(bufferSize);
          spare = null;
        }
        const n = Math.min(chunk.length - offset, filling.length - filled);
        filling.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === filling.length) await writeFilled();
      }
    }
    if (filled > 0) await writeFilled();
    await awaitWrite();
    await awaitSync();
    signal?.throwIfAborted();
    // Data and size reach the disk before the file can be renamed into place: a rename
    // that survives a crash must never expose a blob whose bytes did not.
    await file.datasync();
    signal?.throwIfAborted();
    const digests = extra ? { md5: extra.md5.digest('hex'), sha1: extra.sha1.digest('hex'), sha512: extra.sha512.digest('hex') } : undefined;
    return { sha256: hash.digest('hex'), size, digests };
  } catch (error) {
    if (!sourceFinished) {
      // Not awaited: a source stalled in next() settles its return() only after that pull.
      iterator.return?.()?.then(undefined, () => {});
    }
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (inFlight) await inFlight;
    if (syncInFlight) await syncInFlight;
  }
}

/** Bytes written between two background fdatasyncs of a large upload. */
const SYNC_EVERY = 16 * 1024 * 1024;

async function writeFully(file: FileHandle, buffer: Buffer, length: number, position: number): Promise<void> {
  for (let written = 0; written < length; ) {
    const { bytesWritten } = await file.write(buffer, written, length - written, position + written);
    if (bytesWritten <= 0) throw new Error('short write to staging file');
    written += bytesWritten;
  }
}
