import type { Request, RequestHandler, Response } from 'express';
import type { Connector } from '../connectors/types';
import { ErrorCode, GatewayError } from '../errors';
import type { LiveEngine } from '../live/engine';
import type { Logger } from './logger';
import type { WebhookMetrics } from './metrics';

/**
 * `POST /webhooks/<source id>`: the raw body goes to the source's connector, which authenticates it
 * (Protocol: HMAC signature; Chatwoot: its signature and/or a secret token in the URL) and turns it into changes.
 * A rejected delivery (403) publishes nothing. A delivery that carries its own identity
 * (`Connector.webhookDeliveryKeys`: Chatwoot's `X-Chatwoot-Delivery` and signature) is refused the second time
 * (403), across every instance sharing Redis. Repeated event ids are dropped by the live engine, across instances
 * too (`{ accepted, new }` in the 202 answer says how many were new); the answer is sent once the changes are
 * applied and published.
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
      const delivery = { headers: req.headers, rawBody, query };
      const changes = connector.parseWebhook(delivery);
      // A delivery that identifies itself (Chatwoot's X-Chatwoot-Delivery and signature) is accepted once: the
      // vendor never retries, so a repeat is a replay (docs/vendors/chatwoot.md "Webhooks").
      const own = connector.webhookDeliveryKeys?.(delivery);
      if (own && own.keys.length > 0 && !(await deps.live.claimDelivery(connector.id, own.keys, own.ttlMs))) {
        throw new GatewayError(
          ErrorCode.FORBIDDEN,
          `Webhook for source "${connector.id}" rejected: a replayed delivery.`,
          {
            source: connector.id,
          },
        );
      }
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
