import type { Request, Response } from 'express';

/**
 * Reads fields of a JSON body by their snake_case name, the public API's spelling. The
 * camelCase names the Nix cache's API took before (`wantMassQuery`, `maxSize`, `secretKey`,
 * `publicKey`, `storePath`, `dryRun`) are
 * still accepted for one release, deprecated (docs/api.md): the answer then carries
 * `Deprecation: true` and a `Warning` naming the new spelling.
 */
export function jsonFields(req: Request, res: Response): (name: string, deprecated?: string) => unknown {
  const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
  return (name, deprecated) => {
    if (body[name] !== undefined || deprecated === undefined || body[deprecated] === undefined) return body[name];
    res.setHeader('Deprecation', 'true');
    res.setHeader('Warning', `299 - "the field ${deprecated} is deprecated: use ${name}"`);
    return body[deprecated];
  };
}
