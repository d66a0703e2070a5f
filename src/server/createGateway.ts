import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type NextFunction, type Request, type Response } from 'express';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Config } from '../config/schema';
import { createMemoryCatalogStore } from '../connectors/catalog-stores/memory';
import { createRedisCatalogStore } from '../connectors/catalog-stores/redis';
import { createConnector } from '../connectors/registry';
import type { Connector } from '../connectors/types';
import { ErrorCode } from '../errors';
import { LiveEngine } from '../live/engine';
import type { PubSubTransport } from '../live/pubsub';
import { createInMemoryPubSub } from '../live/transports/inMemory';
import { createRedisPubSub } from '../live/transports/redis';
import { graphiqlMiddleware } from '../graphiql';
import { buildSchema } from '../schema';
import { createAuthenticator, type Viewer } from './auth';
import { createContext, type GatewayContext, type GatewayServices } from './context';
import { createMemoryIdempotencyStore } from './idempotency';
import { createLogger, type Logger } from './logger';
import { maskError } from './maskError';
import { accessLog, createGatewayMetrics, metricsRoute, type GatewayMetrics } from './metrics';
import { legacyJsonStatusPlugin, sourceErrorsPlugin, upstreamStatsPlugin } from './plugins';
import { UploadStaging } from './staging';
import { uploadRoute } from './uploads';
import { webhookRoute } from './webhooks';

export interface GatewayOptions {
  config: Config;
  logger?: Logger;
  /** Pre-filled GraphiQL headers (the embedded default passes its demo key). */
  graphiqlHeaders?: Record<string, string>;
  /** Override the pub/sub transport (default: Redis when config.redis is set, else in memory). */
  pubsub?: PubSubTransport;
  /** Production mode masks unexpected errors and turns introspection and GraphiQL off unless configured. @default NODE_ENV === 'production' */
  production?: boolean;
  /** Use these connectors instead of building them from config (tests). */
  connectors?: Connector[];
}

export interface Gateway {
  /** `http://host:port` */
  url: string;
  /** `ws://host:port/graphql` */
  wsUrl: string;
  httpServer: Server;
  services: GatewayServices;
  /** This gateway's own Prometheus registry and counters (served on `GET /metrics`). */
  metrics: GatewayMetrics;
  /** Graceful shutdown: stop accepting, finish in-flight requests, close WebSockets with 1001. */
  close(): Promise<void>;
}

const GRAPHQL_PATH = '/graphql';

/**
 * The composition root: one HTTP server, one port, `/graphql` for POST/GET queries and graphql-ws
 * subscriptions, GraphiQL for browsers, webhooks, uploads and health checks. Reads like a table of contents.
 */
export async function createGateway(opts: GatewayOptions): Promise<Gateway> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger();
  const production = opts.production ?? process.env.NODE_ENV === 'production';
  const introspection = config.server.introspection ?? !production;
  const graphiqlOn = config.server.graphiql ?? !production;

  // 1. Sources, live engine and per-process services.
  const catalogStore = config.redis ? createRedisCatalogStore(config.redis.url) : createMemoryCatalogStore();
  const connectors = opts.connectors ?? config.sources.map((s) => createConnector(s, { catalogStore }));
  const pollInterval = new Map(config.sources.map((s) => [s.id, s.pollIntervalMs]));
  const metrics = createGatewayMetrics({ connectors, logger });
  const pubsub = opts.pubsub ?? (config.redis ? createRedisPubSub(config.redis.url) : createInMemoryPubSub());
  const live = new LiveEngine({
    connectors,
    pubsub,
    pollIntervalMs: (id) => pollInterval.get(id) ?? 5000,
    onError: (err, sourceId) => logger.warn({ sourceId, code: (err as { code?: string }).code, err: String(err) }, 'live refresh failed'),
    metrics: metrics.live,
  });
  const services: GatewayServices = {
    connectors,
    live,
    staging: new UploadStaging(),
    idempotency: createMemoryIdempotencyStore(),
    publicUrl: config.server.publicUrl?.replace(/\/$/, '') ?? null,
    recordUpstream: metrics.recordUpstream,
  };
  const authenticate = createAuthenticator(config.apiKeys, connectors.map((c) => c.id));

  // 2. HTTP and WebSocket servers on one port.
  const app = express();
  app.disable('x-powered-by');
  const httpServer = createServer(app);
  const sockets = new Set<Socket>();
  httpServer.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wsServer = new WebSocketServer({ server: httpServer, path: GRAPHQL_PATH, perMessageDeflate: false });
  metrics.observe({ openWebSockets: () => wsServer.clients.size });
  const schema = buildSchema();

  // 3. graphql-ws: authenticate in connection_init (4403 on a missing or bad key), a context per operation.
  type WsExtra = { viewer?: Viewer; publicBaseUrl?: string };
  const wsCleanup = useServer<Record<string, unknown> | undefined, WsExtra>(
    {
      schema,
      onConnect: (ctx) => {
        const viewer = authenticate(ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization);
        if (!viewer) {
          metrics.countError(ErrorCode.UNAUTHENTICATED);
          return false; // graphql-ws closes with 4403 Forbidden
        }
        ctx.extra.viewer = viewer;
        const host = ctx.extra.request.headers.host ?? '127.0.0.1';
        ctx.extra.publicBaseUrl = `http://${host}`;
        return true;
      },
      context: (ctx): GatewayContext =>
        createContext(services, ctx.extra.viewer as Viewer, { publicBaseUrl: ctx.extra.publicBaseUrl ?? '' }),
      onError: (_ctx, _id, _payload, errors) => {
        for (const e of errors) {
          const code = e.extensions?.code;
          metrics.countError(typeof code === 'string' ? code : ErrorCode.INTERNAL_SERVER_ERROR, typeof e.extensions?.source === 'string' ? e.extensions.source : undefined);
          if (!code) logger.error({ err: e.message }, 'subscription error');
        }
      },
      onOperation: (ctx, id, _payload, args, result) => metrics.ws.onOperation(ctx, id, args.document, args.operationName, result),
      onComplete: (ctx, id) => metrics.ws.onComplete(ctx, id),
      onClose: (ctx) => metrics.ws.onClose(ctx),
    },
    wsServer,
  );

  // 4. Apollo Server with its plugins, in order: drain HTTP, drain WebSockets, no CDN landing page,
  //    partial-result errors, upstream stats, GraphQL-over-HTTP status codes.
  const apollo = new ApolloServer<GatewayContext>({
    schema,
    introspection,
    csrfPrevention: {
      // A bearer Authorization header cannot be sent cross-site without a preflight, so it counts as proof too.
      requestHeaders: ['authorization', 'x-apollo-operation-name', 'apollo-require-preflight'],
    },
    formatError: (formatted, error) => metrics.countFormattedError(maskError(formatted, error, { production, logger })),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              // Closes every socket with 1001 (going away), so clients reconnect elsewhere.
              await wsCleanup.dispose();
            },
          };
        },
      },
      ApolloServerPluginLandingPageDisabled(),
      sourceErrorsPlugin(),
      upstreamStatsPlugin(),
      legacyJsonStatusPlugin(),
      metrics.apolloPlugin(),
    ],
  });
  await apollo.start();

  // 5. Routes.
  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    const id = given && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.set('x-request-id', id);
    next();
  });
  app.use(accessLog(logger));
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const requestId = res.locals.requestId as string;
    const results = await Promise.all(
      connectors.map(async (c) => {
        try {
          const s = c.openSession({ requestId, recordUpstream: (call) => metrics.recordUpstream(call, requestId) });
          await s.listConversations({ offset: 0, limit: 1, filter: {} });
          return { source: c.id, ready: true };
        } catch (e) {
          return { source: c.id, ready: false, code: (e as { code?: string }).code ?? ErrorCode.INTERNAL_SERVER_ERROR };
        }
      }),
    );
    const ready = results.every((r) => r.ready);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'degraded', sources: results });
  });
  const metricsConfig = config.server.metrics ?? { enabled: true };
  if (metricsConfig.enabled) {
    app.get('/metrics', metricsRoute(metrics, { token: metricsConfig.token }));
    if (production && !metricsConfig.token) logger.warn('GET /metrics is served without a token (server.metrics.token)');
  }
  if (graphiqlOn) {
    const g = graphiqlMiddleware({ graphqlPath: GRAPHQL_PATH, defaultHeaders: opts.graphiqlHeaders });
    app.use('/graphiql', g.static);
    app.get(GRAPHQL_PATH, g.page);
  }
  app.post('/webhooks/:sourceId', express.raw({ type: () => true, limit: '2mb' }), webhookRoute({ connectors, live, logger, metrics }));
  app.post('/uploads/:id', uploadRoute(services.staging));

  const unauthenticated = (res: Response) => {
    metrics.countError(ErrorCode.UNAUTHENTICATED);
    return res
      .status(401)
      .set('www-authenticate', 'Bearer')
      .json({ errors: [{ message: 'A valid API key is required: send "Authorization: Bearer <key>".', extensions: { code: ErrorCode.UNAUTHENTICATED } }] });
  };
  app.use(
    GRAPHQL_PATH,
    (req: Request, res: Response, next: NextFunction) => {
      const viewer = authenticate(req.get('authorization'));
      if (!viewer) {
        unauthenticated(res);
        return;
      }
      res.locals.viewer = viewer;
      next();
    },
    express.json({ limit: config.server.maxBodyBytes }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const controller = new AbortController();
        res.on('close', () => controller.abort());
        return createContext(services, res.locals.viewer as Viewer, {
          requestId: res.locals.requestId as string,
          publicBaseUrl: `${req.protocol}://${req.get('host') ?? '127.0.0.1'}`,
          signal: controller.signal,
        });
      },
    }),
  );
  // Body-parser failures (bad JSON, too large) as GraphQL-shaped errors.
  app.use((err: { status?: number; type?: string; message?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    const code = err.type === 'entity.too.large' ? ErrorCode.LIMIT_EXCEEDED : status === 500 ? ErrorCode.INTERNAL_SERVER_ERROR : 'BAD_REQUEST';
    const message =
      err.type === 'entity.too.large'
        ? `The request body is larger than ${config.server.maxBodyBytes} bytes.`
        : err.type === 'entity.parse.failed'
          ? 'The request body is not valid JSON.'
          : status === 500
            ? 'Internal server error'
            : (err.message ?? 'Bad request');
    if (status === 500) logger.error({ err: String(err.message) }, 'unhandled HTTP error');
    metrics.countError(code);
    res.status(status).json({ errors: [{ message, extensions: { code } }] });
  });

  // 6. Listen.
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.server.port, config.server.host, () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const url = `http://${host}:${port}`;

  let closing: Promise<void> | null = null;
  return {
    url,
    wsUrl: `ws://${host}:${port}${GRAPHQL_PATH}`,
    httpServer,
    services,
    metrics,
    close: () =>
      (closing ??= (async () => {
        await apollo.stop();
        for (const s of sockets) s.destroy();
        await live.close();
        if (!opts.pubsub) await pubsub.close();
        await Promise.all(connectors.map((c) => c.close?.()));
        await catalogStore.close();
      })()),
  };
}
