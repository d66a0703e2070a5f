import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import type { Connector } from '../connectors/types';
import { ErrorCode, GatewayError } from '../errors';
import type { LiveEngine } from '../live/engine';
import type { Logger } from './logger';
import type { WebhookMetrics } from './metrics';

/**
 * `POST /webhooks/<source id>`, as the handlers of one route, in order:
 * 1. before the body is read: an unknown source is 404; the connector's checks that need no body
 *    (`Connector.checkWebhookHeaders`: a URL token, a signature header present and well formed, a timestamp in
 *    range) refuse with 403; a `Content-Length` over `server.webhookMaxBodyBytes` is 413 LIMIT_EXCEEDED naming
 *    that limit. Such a refusal closes the connection, so an unauthenticated sender cannot make the gateway read
 *    a body at all (issue 12 item 8);
 * 2. the raw body, read up to the same limit (a chunked body past it is the same 413);
 * 3. the connector authenticates the whole delivery (Protocol: HMAC signature; Chatwoot: its signature and/or a
 *    secret token in the URL) and turns it into changes. A rejected delivery (403) publishes nothing. A delivery
 *    that carries its own identity (`Connector.webhookDeliveryKeys`: Chatwoot's `X-Chatwoot-Delivery` and
 *    signature) is refused the second time (403), across every instance sharing Redis. Repeated event ids are
 *    dropped by the live engine, across instances too (`{ accepted, new }` in the 202 answer says how many were
 *    new); the answer is sent once the changes are applied and published.
 */
export function webhookRoute(deps: {
  connectors: Connector[];
  live: LiveEngine;
  logger: Logger;
  metrics?: WebhookMetrics;
  /** Largest webhook body, in bytes (`server.webhookMaxBodyBytes`). */
  maxBodyBytes: number;
}): Array<RequestHandler<{ sourceId: string }> | ErrorRequestHandler> {
  const byId = new Map(deps.connectors.map((c) => [c.id, c]));
  const queryOf = (req: Request<{ sourceId: string }>) =>
    Object.fromEntries(Object.entries(req.query).filter((e): e is [string, string] => typeof e[1] === 'string'));

  const refuse = (res: Response, connector: Connector, e: GatewayError, status: number) => {
    deps.metrics?.webhook(connector.id, 'rejected');
    deps.logger.warn(
      { requestId: res.locals.requestId as string | undefined, source: connector.id, code: e.code },
      'webhook rejected',
    );
    const { limit, max } = e.extensions as { limit?: string; max?: number };
    res.status(status).json({ error: { code: e.code, message: e.message, ...(limit ? { limit, max } : {}) } });
  };
  const tooLarge = (connector: Connector, length: number | null) =>
    new GatewayError(
      ErrorCode.LIMIT_EXCEEDED,
      `The webhook body is ${length !== null ? `${length} bytes, ` : ''}larger than server.webhookMaxBodyBytes (${deps.maxBodyBytes} bytes).`,
      { source: connector.id, limit: 'server.webhookMaxBodyBytes', max: deps.maxBodyBytes },
    );

  const beforeBody: RequestHandler<{ sourceId: string }> = (req, res, next) => {
    const connector = byId.get(req.params.sourceId);
    if (!connector?.parseWebhook) {
      // Only configured ids become label values, so a scan of random paths cannot grow the metrics.
      deps.metrics?.webhook(connector ? connector.id : '_unknown', 'unknown_source');
      res.set('Connection', 'close');
      res.status(404).json({ error: { code: ErrorCode.NOT_FOUND, message: 'No webhook receiver for this source.' } });
      return;
    }
    res.locals.webhookConnector = connector;
    try {
      connector.checkWebhookHeaders?.({ headers: req.headers, query: queryOf(req) });
    } catch (e) {
      if (!(e instanceof GatewayError)) throw e;
      res.set('Connection', 'close');
      refuse(res, connector, e, e.code === ErrorCode.FORBIDDEN || e.code === ErrorCode.UNAUTHENTICATED ? 403 : 400);
      return;
    }
    const length = Number(req.headers['content-length']);
    if (Number.isFinite(length) && length > deps.maxBodyBytes) {
      res.set('Connection', 'close');
      refuse(res, connector, tooLarge(connector, length), 413);
      return;
    }
    next();
  };

  const readBody = express.raw({ type: () => true, limit: deps.maxBodyBytes });

  // A body past the limit without a Content-Length (chunked) fails in express.raw: the same 413.
  const bodyTooLarge: ErrorRequestHandler = (err: { type?: string }, _req, res, next) => {
    const connector = res.locals.webhookConnector as Connector | undefined;
    if (err?.type !== 'entity.too.large' || !connector || res.headersSent) return next(err);
    res.set('Connection', 'close');
    refuse(res, connector, tooLarge(connector, null), 413);
  };

  const handle = async (req: Request<{ sourceId: string }>, res: Response) => {
    const connector = res.locals.webhookConnector as Connector & Required<Pick<Connector, 'parseWebhook'>>;
    const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    try {
      const delivery = { headers: req.headers, rawBody, query: queryOf(req) };
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
        refuse(res, connector, e, status);
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

  return [beforeBody, readBody, bodyTooLarge, handle];
}
