import type { Request, RequestHandler, Response } from 'express';
import type { Connector } from '../connectors/types';
import { ErrorCode, GatewayError } from '../errors';
import type { LiveEngine } from '../live/engine';
import type { Logger } from './logger';
import type { WebhookMetrics } from './metrics';

/**
 * `POST /webhooks/<source id>`: the raw body goes to the source's connector, which authenticates it
 * (Protocol: HMAC signature; Chatwoot: secret token in the URL) and turns it into changes. A rejected delivery
 * publishes nothing. Repeated event ids are dropped by the live engine, across every instance sharing Redis
 * (`{ accepted, new }` in the 202 answer says how many were new); the answer is sent once the changes are applied
 * and published.
 */
export function webhookRoute(deps: {
  connectors: Connector[];
  live: LiveEngine;
  logger: Logger;
  metrics?: WebhookMetrics;
}): RequestHandler<{ sourceId: string }> {
  const byId = new Map(deps.connectors.map((c) => [c.id, c]));
  return async (req: Request<{ sourceId: string }>, res: Response) => {
    const connector = byId.get(req.params.sourceId);
    if (!connector?.parseWebhook) {
      // Only configured ids become label values, so a scan of random paths cannot grow the metrics.
      deps.metrics?.webhook(connector ? connector.id : '_unknown', 'unknown_source');
      res.status(404).json({ error: { code: ErrorCode.NOT_FOUND, message: 'No webhook receiver for this source.' } });
      return;
    }
    const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const query = Object.fromEntries(
      Object.entries(req.query).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    try {
      const changes = connector.parseWebhook({ headers: req.headers, rawBody, query });
      const fresh = await deps.live.ingest(changes);
      deps.metrics?.webhook(connector.id, 'accepted');
      deps.metrics?.webhookEvents(connector.id, fresh, changes.length - fresh);
      res.status(202).json({ accepted: changes.length, new: fresh });
    } catch (e) {
      if (e instanceof GatewayError) {
        const status = e.code === ErrorCode.FORBIDDEN || e.code === ErrorCode.UNAUTHENTICATED ? 403 : 400;
        deps.metrics?.webhook(connector.id, 'rejected');
        deps.logger.warn(
          { requestId: res.locals.requestId as string | undefined, source: connector.id, code: e.code },
          'webhook rejected',
        );
        res.status(status).json({ error: { code: e.code, message: e.message } });
        return;
      }
      deps.metrics?.webhook(connector.id, 'failed');
      deps.logger.error(
        { requestId: res.locals.requestId as string | undefined, source: connector.id, err: String(e) },
        'webhook failed',
      );
      res.status(500).json({ error: { code: ErrorCode.INTERNAL_SERVER_ERROR, message: 'Internal server error' } });
    }
  };
}
