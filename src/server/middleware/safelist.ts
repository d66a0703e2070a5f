import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { OperationCheck } from '../operation';

/**
 * HTTP, safelist mode: refuses a full query that is not registered (step 1 of the operation check, server/operation.ts)
 * before Apollo parses it. Hash-only requests go on to Apollo's persisted-query cache, which in safelist mode
 * is the manifest itself.
 */
export function safelist(operations: OperationCheck): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const fromBody: unknown =
      req.method === 'POST' && req.body && typeof req.body === 'object'
        ? (req.body as { query?: unknown }).query
        : undefined;
    const fromQuery: unknown = req.method === 'GET' ? (req.query as Record<string, unknown>).query : undefined;
    const query = fromBody ?? fromQuery;
    if (typeof query === 'string' && query !== '') {
      const resolved = operations.resolve(query);
      if ('refusal' in resolved) {
        const { message, extensions } = resolved.refusal;
        res.status(400).json({ errors: [{ message, extensions }] });
        return;
      }
    }
    next();
  };
}
