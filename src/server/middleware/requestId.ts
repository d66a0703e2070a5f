import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';

/**
 * `res.locals.requestId`: the client's `X-Request-Id` when it is a plain token (letters, digits, `_`, `.`, `-`,
 * at most 64), else a new UUID; echoed in the response's `X-Request-Id`. Logs, upstream calls and vendors see it.
 */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const id = given && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.set('x-request-id', id);
    next();
  };
}
