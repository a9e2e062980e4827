/**
 * Every error the Nix format layer throws. They all extend {@link NixFormatError}, and
 * their messages are written for the person who sent the bytes: the HTTP layer can show
 * them verbatim as a 400 body. The format layer itself knows nothing about HTTP; mapping
 * these classes to statuses belongs to the caller.
 */

/** Base class of every format error: bad input, never a server fault. */
export class NixFormatError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A hash, Nix32 string or base64 digest that does not parse. */
export class HashFormatError extends NixFormatError {}

/** A store path, store path base name, hash part or store path name that is not valid. */
export class StorePathError extends NixFormatError {}

/** A content address (`CA:` field) that does not parse. */
export class ContentAddressError extends NixFormatError {}

/** A signing key file or a `Sig:` value that does not parse. */
export class SignatureFormatError extends NixFormatError {}

/** A `.narinfo` that Nix would reject or misread. */
export class NarInfoFormatError extends NixFormatError {
  /** 1-based line number, when the problem is on one line. */
  readonly line: number | undefined;
  /** The narinfo field concerned, e.g. `NarHash`. */
  readonly field: string | undefined;

  constructor(message: string, details: { line?: number; field?: string } = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.line = details.line;
    this.field = details.field;
  }
}

/** A NAR that is not canonical (see §5 of the protocol reference). */
export class NarFormatError extends NixFormatError {
  /** Byte offset in the uncompressed NAR where the problem was found. */
  readonly offset: number;
  /** Path inside the NAR (`""` for the root) of the node being parsed, when known. */
  readonly path: string | undefined;

  constructor(message: string, offset: number, path?: string) {
    super(`invalid NAR at byte ${offset}${path === undefined ? '' : ` (in ${path === '' ? 'the root node' : JSON.stringify(path)})`}: ${message}`);
    this.offset = offset;
    this.path = path;
  }
}

/** A `.ls` listing whose shape is wrong. */
export class ListingFormatError extends NixFormatError {}

/** An unknown or unsupported compression, or compressed data that does not decode. */
export class CompressionError extends NixFormatError {}

/** A `nix-cache-info` file that Nix would reject. */
export class NixCacheInfoFormatError extends NixFormatError {}

/** A realisation (`.doi`) document or id that does not parse. */
export class RealisationFormatError extends NixFormatError {}

/** Input larger than a configured limit (the zip-bomb guard). */
export class SizeLimitError extends NixFormatError {
  readonly limit: number;

  constructor(message: string, limit: number) {
    super(message);
    this.limit = limit;
  }
}

/**
 * A NAR beyond one of the structural limits the verifier enforces so that its work stays
 * bounded whatever the NAR holds (entries, listing bytes). A {@link SizeLimitError}, so
 * HTTP callers answer it like any other "too large" (413). `limitName` is the option
 * that was exceeded, e.g. `maxEntries`.
 */
export class NarLimitError extends SizeLimitError {
  readonly limitName: string;

  constructor(limitName: string, message: string, limit: number) {
    super(message, limit);
    this.limitName = limitName;
  }
}

/**
 * An upload whose bytes disagree with what was claimed about them (the hash in its URL,
 * its declared compression, …). `field` names the claim, e.g. `FileHash`.
 */
export class NarVerificationError extends NixFormatError {
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}
