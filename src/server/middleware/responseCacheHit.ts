import type { Request, RequestHandler, Response } from 'express';
import type { Viewer } from '../../schema/context';
import type { KeyLimits } from '../keyLimits';
import type { Logger } from '../logger';
import type { RedisHealth } from '../redisHealth';
import { responseKey, type ResponseCache } from '../responseCache';

/** Accept header values whose content type is learned (a bound: clients send a handful). */
const MAX_ACCEPT_VALUES = 64;

export interface ResponseCacheHitOptions {
  cache: ResponseCache;
  keyLimits: KeyLimits;
  /** The public base URL of a request (the context's `publicBaseUrl`), part of the cache key. */
  baseUrl(req: Request): string;
  /** Express's ETag function (`app.get('etag fn')`), computed once per stored body as res.send would. */
  etag?: (body: Buffer, encoding?: string) => string | undefined;
  /** Redis's health when configured: while it is not up, every request takes Apollo's path (its warning). */
  redisHealth: RedisHealth | null;
  /** Counts the operation as the operation metrics plugin does (plugins/operationMetrics.ts). */
  httpOperation(type: string, outcome: 'success' | 'error', seconds: number): void;
  logger: Logger;
  /** True once the gateway is closing: Apollo answers what still arrives. */
  closing(): boolean;
}

/**
 * # Response cache hits without Apollo's pipeline (README "Response cache", issue 13 target 4)
 *
 * Mounted on `/graphql` after the API key (auth), the body parser, SSE and the safelist or persisted-query
 * registration middlewares, right before Apollo: a POST of a full query (no `extensions`, so no persisted query
 * and no registration) whose answer the response cache holds and may serve is answered here with the stored
 * bytes, which are exactly what Apollo would send for the cached answer (server/responseCache.ts
 * {@link ResponseCache.body}): no parse-cache lookup, validation, cost visitor, context, deadline or
 * `JSON.stringify` of the answer. Everything else goes on to Apollo, unchanged.
 *
 * What a hit still obeys, as it did through Apollo's plugins:
 * - **authentication**: the viewer the auth middleware set (the key is part of the cache key);
 * - **per-key limits** (server/keyLimits.ts): the hit is admitted as a query, counting once in the key's
 *   operations per minute and holding one of its concurrent operations while it is written, as the key limits
 *   plugin counts a hit. When the key is at a limit, the request goes to Apollo, which refuses it (counted once);
 * - **safelist** and persisted-query rules: their middlewares run before this one; the answer was stored only for
 *   a query that passed parsing, validation (depth, aliases, introspection) and the cost limit, which depend on the
 *   query text, operation name and variables only, all in the key;
 * - **headers**: `X-Request-Id` (its middleware), the content type Apollo negotiates for the request's `Accept`
 *   (learned from Apollo's own 200 answers per Accept value; an Accept not yet seen goes to Apollo), and the ETag
 *   Express gives the same bytes (a matching If-None-Match gets 304, as with Apollo's res.send);
 * - **`extensions.upstream`** under `X-Upstream-Stats: 1`: `{ total: 0, bySource: [] }`, as the plugin adds to a hit;
 * - **metrics and logs**: a response cache hit, the HTTP operation (`query`, `success`) and its duration, the debug
 *   line of plugins/operationMetrics.ts, the access log line (its middleware);
 * - **Redis**: while Redis is not up, requests go to Apollo, whose redisWarning plugin adds `REDIS_UNAVAILABLE`.
 */
export function responseCacheHit(opts: ResponseCacheHitOptions): RequestHandler {
  /** Accept header value ('' when absent) → the content type Apollo answered a query with. */
  const contentTypes = new Map<string, string>();
  const learn = (accept: string, res: Response) => {
    if (contentTypes.has(accept) || contentTypes.size >= MAX_ACCEPT_VALUES) return;
    res.once('finish', () => {
      const type = res.getHeader('content-type');
      if (res.statusCode === 200 && typeof type === 'string' && contentTypes.size < MAX_ACCEPT_VALUES)
        contentTypes.set(accept, type);
    });
  };

  return (req, res, next) => {
    const started = performance.now();
    const body = req.body as Record<string, unknown> | undefined;
    if (
      req.method !== 'POST' ||
      opts.closing() ||
      !body ||
      typeof body !== 'object' ||
      typeof body.query !== 'string' ||
      body.extensions != null
    )
      return next();
    const { query, operationName, variables } = body;
    if (operationName != null && typeof operationName !== 'string') return next();
    if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return next();
    const accept = req.headers.accept ?? '';
    const contentType = contentTypes.get(accept);
    if (contentType === undefined) {
      learn(accept, res);
      return next();
    }
    if (opts.redisHealth && !opts.redisHealth.isUp()) return next();
    const viewer = res.locals.viewer as Viewer;
    // At a limit: Apollo's key limits plugin refuses it (429, counted once); nothing is counted here.
    const limits = opts.keyLimits.limitsOf(viewer.keyId);
    const used = opts.keyLimits.usage(viewer.keyId);
    if (
      (limits.concurrentOperations !== null && used.running >= limits.concurrentOperations) ||
      (limits.operationsPerMinute !== null && used.operationsInMinute >= limits.operationsPerMinute)
    )
      return next();
    const key = responseKey(
      viewer.keyId,
      opts.baseUrl(req),
      operationName as string | null | undefined,
      query,
      variables as Record<string, unknown> | null | undefined,
    );
    const hit = opts.cache.body(key, req.headers['x-upstream-stats'] === '1', opts.etag);
    if (!hit) return next();
    const lease = opts.keyLimits.admit(viewer, 'query', { http: true });
    try {
      res.status(200).set('content-type', contentType);
      if (hit.etag) res.set('etag', hit.etag);
      res.send(hit.bytes);
    } finally {
      lease.release();
    }
    const seconds = (performance.now() - started) / 1000;
    opts.httpOperation('query', 'success', seconds);
    if (opts.logger.isLevelEnabled('debug')) {
      opts.logger.debug(
        {
          requestId: res.locals.requestId as string,
          operation: 'query',
          operationName: operationName ?? null,
          outcome: 'success',
          upstreamCalls: 0,
          ms: Math.round(seconds * 10_000) / 10,
          responseCache: 'hit',
        },
        'graphql operation',
      );
    }
  };
}
