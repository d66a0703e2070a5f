import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import type { Request, RequestHandler } from 'express';
import { ErrorCode } from '../../errors';
import type { Viewer } from '../../schema/context';
import { APQ_KEY_PREFIX, sha256Hex, type RegistrationCounter } from '../persisted';

/** The query text and hash of a request that would register an automatic persisted query, else null. */
function registrationOf(req: Request): { query: string; hash: string } | null {
  let query: unknown;
  let extensions: unknown;
  if (req.method === 'POST' && req.body && typeof req.body === 'object') {
    ({ query, extensions } = req.body as { query?: unknown; extensions?: unknown });
  } else if (req.method === 'GET') {
    const q = req.query as Record<string, unknown>;
    query = q.query;
    try {
      extensions = typeof q.extensions === 'string' ? JSON.parse(q.extensions) : undefined;
    } catch {
      extensions = undefined; // Apollo answers the malformed parameter
    }
  }
  const hash = (extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)?.persistedQuery?.sha256Hash;
  return typeof query === 'string' && query !== '' && typeof hash === 'string' ? { query, hash } : null;
}

/**
 * HTTP, automatic persisted queries (issue 12 item 5): a request that sends a query with its hash registers it
 * for 24 hours (in Redis when configured). Before Apollo stores it:
 * - a query over `maxQueryBytes` (UTF-8) is refused, 413 LIMIT_EXCEEDED with `limit` and `maxSize`;
 * - a query not yet registered counts against the API key's registrations in the window; past the cap, 429
 *   LIMIT_EXCEEDED with `limit` and `retryAfter` (and a Retry-After header).
 * Nothing is stored for a refused request. Re-sending a registered query, running one by its hash, and plain
 * queries are not counted. A hash that does not match its query goes on to Apollo, which refuses it.
 */
export function persistedRegistration(deps: {
  /** The cache Apollo registers into (it prefixes keys with `apq:`). */
  cache: KeyValueCache<string>;
  counter: RegistrationCounter;
  maxQueryBytes: number;
  onRefused: (code: string) => void;
}): RequestHandler {
  return (req, res, next) => {
    const reg = registrationOf(req);
    if (!reg) return next();
    const bytes = Buffer.byteLength(reg.query, 'utf8');
    if (bytes > deps.maxQueryBytes) {
      deps.onRefused(ErrorCode.LIMIT_EXCEEDED);
      res.status(413).json({
        errors: [
          {
            message: `The persisted query is ${bytes} bytes; at most ${deps.maxQueryBytes} bytes may be registered.`,
            extensions: {
              code: ErrorCode.LIMIT_EXCEEDED,
              limit: 'server.persistedQueries.maxQueryBytes',
              maxSize: deps.maxQueryBytes,
            },
          },
        ],
      });
      return;
    }
    if (sha256Hex(reg.query) !== reg.hash) return next();
    void (async () => {
      // A cache that cannot answer (Redis down) counts the request as new: the count errs on the safe side.
      const known = await deps.cache.get(APQ_KEY_PREFIX + reg.hash).catch(() => undefined);
      if (known !== undefined) return next();
      const verdict = await deps.counter.take((res.locals.viewer as Viewer).keyId);
      if (verdict.ok) return next();
      deps.onRefused(ErrorCode.LIMIT_EXCEEDED);
      res
        .status(429)
        .set('retry-after', String(verdict.retryAfterSeconds))
        .json({
          errors: [
            {
              message: `This API key registered ${deps.counter.max} persisted queries within ${Math.round(deps.counter.windowMs / 1000)} s, the most allowed; retry later.`,
              extensions: {
                code: ErrorCode.LIMIT_EXCEEDED,
                limit: 'server.persistedQueries.registrationsPerKey',
                retryAfter: verdict.retryAfterSeconds,
              },
            },
          ],
        });
    })().catch(next);
  };
}
