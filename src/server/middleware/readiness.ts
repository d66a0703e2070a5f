import type { RequestHandler } from 'express';
import type { Connector, UpstreamCall } from '../../connectors/types';
import { ErrorCode } from '../../errors';

/** `GET /healthz`: the process answers. */
export function liveness(): RequestHandler {
  return (_req, res) => {
    res.json({ status: 'ok' });
  };
}

/**
 * `GET /readyz`: every source answers a one-row list (200 `ready`), else 503 `degraded`; either way one entry per
 * source with `ready` and, when not, its error code.
 */
export function readiness(deps: {
  connectors: readonly Connector[];
  recordUpstream?: (call: UpstreamCall, requestId: string) => void;
}): RequestHandler {
  return async (_req, res) => {
    const requestId = res.locals.requestId as string;
    const results = await Promise.all(
      deps.connectors.map(async (c) => {
        try {
          const s = c.openSession({ requestId, recordUpstream: (call) => deps.recordUpstream?.(call, requestId) });
          await s.listConversations({ offset: 0, limit: 1, filter: {} });
          return { source: c.id, ready: true };
        } catch (e) {
          return { source: c.id, ready: false, code: (e as { code?: string }).code ?? ErrorCode.INTERNAL_SERVER_ERROR };
        }
      }),
    );
    const ready = results.every((r) => r.ready);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'degraded', sources: results });
  };
}
