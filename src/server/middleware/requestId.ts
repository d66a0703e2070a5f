import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';

/**
 * `res.locals.requestId`: the client's `X-Request-Id` when it is a plain token (letters, digits, `_`, `.`, `-`,
 * at most 64), else a new UUID; echoed in the response's `X-Request-Id`. Logs, upstream calls and vendors see it.
 */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const id = requestIdOf(req.get('x-request-id'));
    res.locals.requestId = id;
    res.set('x-request-id', id);
    next();
  };
}

/** The request id for a request whose `X-Request-Id` is `given` (server/sseFrontDoor.ts reads it without Express). */
export function requestIdOf(given: string | undefined): string {
  return given && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
}
