import type { Request } from 'express';
import { ANONYMOUS, type Actor } from '@forge/core';

const actors = new WeakMap<Request, Actor>();

/** The authenticated caller of a request (anonymous until a middleware says otherwise). */
export function getActor(req: Request): Actor {
  return actors.get(req) ?? ANONYMOUS;
}

export function setActor(req: Request, actor: Actor): void {
  actors.set(req, actor);
}
