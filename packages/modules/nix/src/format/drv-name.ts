/**
 * `builtins.parseDrvName`: how the cache groups store paths into packages and versions.
 * The version starts after the first `-` that is followed by a character other than an
 * ASCII letter (2.8.0:src/libexpr/primops.cc → `DrvName`, src/libstore/names.cc:27-37,
 * which uses `isalpha` in the C locale). Vectors in the tests come from the real
 * `nix-instantiate --eval -E 'builtins.parseDrvName "…"'`.
 */

/** A name split like `builtins.parseDrvName` does it. */
export interface DrvName {
  /** Everything before the separating dash, e.g. `apache-httpd`. */
  readonly name: string;
  /** Everything after it, e.g. `2.0.48`; empty when there is no version. */
  readonly version: string;
}

/** Splits `apache-httpd-2.0.48` into `{ name: 'apache-httpd', version: '2.0.48' }`, exactly like Nix. */
export function parseDrvName(fullName: string): DrvName {
  for (let i = 0; i + 1 < fullName.length; i++) {
    if (fullName[i] === '-' && !isAsciiLetter(fullName.charCodeAt(i + 1))) {
      return { name: fullName.slice(0, i), version: fullName.slice(i + 1) };
    }
  }
  return { name: fullName, version: '' };
}

function isAsciiLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}
