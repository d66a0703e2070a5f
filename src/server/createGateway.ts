import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';
import type { Config } from '../config/schema';
import { createMemoryCatalogStore } from '../connectors/catalog-stores/memory';
import { createRedisCatalogStore } from '../connectors/catalog-stores/redis';
import type { Connector } from '../connectors/types';
import { ErrorCode } from '../errors';
import { createMemoryCoordination, createRedisCoordination } from '../live/coordination';
import { LiveEngine } from '../live/engine';
import type { PubSubTransport } from '../live/pubsub';
import { createInMemoryPubSub } from '../live/transports/inMemory';
import { createRedisPubSub } from '../live/transports/redis';
import { graphiqlMiddleware } from '../graphiql';
import { buildSchema } from '../schema';
import { createAuthenticator, type Viewer } from './auth';
import { baselineConfig } from './baseline';
import { buildConnectors } from './connectors';
import { sharedSubscribe } from './fanout';
import { createContext, type GatewayContext, type GatewayServices } from './context';
import { createMemoryIdempotencyStore, createRedisIdempotencyStore } from './idempotency';
import { checkCost, costLimitPlugin, deadlinePlugin, limitRules, OperationDeadline, resolveLimits } from './limits';
import { createLogger, type Logger } from './logger';
import { maskError } from './maskError';
import { accessLog, createGatewayMetrics, metricsRoute, type GatewayMetrics } from './metrics';
import { RedisKeyValueCache, Safelist, safelistMiddleware } from './persisted';
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
  /** The benchmark's naive baseline (server/baseline.ts): no loader sharing, no priming, no catalogs. @default false */
  baseline?: boolean;
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
/** The graphql-transport-ws messages a client may send. */
const CLIENT_MESSAGE_TYPES = new Set<unknown>(['connection_init', 'ping', 'pong', 'subscribe', 'complete']);

/**
 * The composition root: one HTTP server, one port, `/graphql` for POST/GET queries and graphql-ws
 * subscriptions, GraphiQL for browsers, webhooks, uploads and health checks. Reads like a table of contents.
 */
export async function createGateway(opts: GatewayOptions): Promise<Gateway> {
  const config = opts.baseline ? baselineConfig(opts.config) : opts.config;
  const logger = opts.logger ?? createLogger();
  const production = opts.production ?? process.env.NODE_ENV === 'production';
  const introspection = config.server.introspection ?? !production;
  const graphiqlOn = config.server.graphiql ?? !production;

  // Read before anything opens a socket: a bad manifest stops the start-up with a clear error.
  const safelist = config.server.persistedQueries?.safelist
    ? Safelist.load(config.server.persistedQueries.safelist)
    : null;

  // 1. Sources (with their per-source limits), live engine and per-process services.
  const redisPrefix = config.redis?.keyPrefix ?? 'switchboard:';
  const redis = config.redis ? new Redis(config.redis.url, { maxRetriesPerRequest: 3 }) : null;
  const catalogStore = config.redis
    ? createRedisCatalogStore(config.redis.url, redisPrefix)
    : createMemoryCatalogStore();
  const connectors = opts.connectors ?? buildConnectors(config.sources, { catalogStore });
  const pollInterval = new Map(config.sources.map((s) => [s.id, s.pollIntervalMs]));
  const metrics = createGatewayMetrics({ connectors, logger });
  const pubsub =
    opts.pubsub ?? (config.redis ? createRedisPubSub(config.redis.url, redisPrefix) : createInMemoryPubSub());
  const live = new LiveEngine({
    connectors,
    pubsub,
    pollIntervalMs: (id) => pollInterval.get(id) ?? 5000,
    // Poll leases, webhook event ids and the last published totals: shared through Redis when configured.
    coordination: redis ? createRedisCoordination(redis, redisPrefix) : createMemoryCoordination(),
    leaseMs: (id) => config.server.liveLeaseMs ?? Math.max(3 * (pollInterval.get(id) ?? 5000), 5000),
    onError: (err, sourceId) =>
      logger.warn({ sourceId, code: (err as { code?: string }).code, err: String(err) }, 'live refresh failed'),
    metrics: metrics.live,
  });
  const services: GatewayServices = {
    connectors,
    live,
    staging: new UploadStaging(),
    idempotency: redis ? createRedisIdempotencyStore(redis, { prefix: redisPrefix }) : createMemoryIdempotencyStore(),
    publicUrl: config.server.publicUrl?.replace(/\/$/, '') ?? null,
    recordUpstream: metrics.recordUpstream,
    baseline: opts.baseline,
  };
  const authenticate = createAuthenticator(
    config.apiKeys,
    connectors.map((c) => c.id),
  );
  const limits = resolveLimits(config.server);
  /** The deadline of each HTTP operation, by its signal (Apollo hands plugins a copy of the context object). */
  const deadlines = new WeakMap<AbortSignal, OperationDeadline>();

  // 2. HTTP and WebSocket servers on one port.
  const app = express();
  app.disable('x-powered-by');
  const httpServer = createServer(app);
  const sockets = new Set<Socket>();
  httpServer.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // A graphql-ws message may be no larger than an HTTP body (ws closes the socket with 1009 otherwise).
  const wsServer = new WebSocketServer({
    server: httpServer,
    path: GRAPHQL_PATH,
    perMessageDeflate: false,
    maxPayload: config.server.maxBodyBytes,
  });
  metrics.observe({ openWebSockets: () => wsServer.clients.size });
  const schema = buildSchema();
  const validationRules = [...limitRules(limits), ...(introspection ? [] : [NoSchemaIntrospectionCustomRule])];

  // 3. graphql-ws: authenticate in connection_init (4403 on a missing or bad key), a context per operation,
  //    the same safelist and limits as HTTP (a bad operation gets an error message; the socket stays open).
  type WsExtra = { viewer?: Viewer; publicBaseUrl?: string };
  const wsCleanup = useServer<Record<string, unknown> | undefined, WsExtra>(
    {
      schema,
      // One execution per event and distinct query for all its subscribers (server/fanout.ts); the benchmark's
      // naive baseline executes per subscriber, as graphql-js does.
      subscribe: opts.baseline ? undefined : sharedSubscribe(),
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
      // Only client-to-server messages parse: graphql-ws would answer a client's `next` or `error` with 4500 and
      // a console error; refused here, it closes the socket with 4400 (bad request) instead.
      jsonMessageReviver(key: string, value: unknown) {
        if (
          key === '' &&
          value &&
          typeof value === 'object' &&
          !CLIENT_MESSAGE_TYPES.has((value as { type?: unknown }).type)
        ) {
          throw new Error('Not a graphql-ws client message.');
        }
        return value;
      },
      onSubscribe: (_ctx, _id, payload) => {
        let query = payload.query;
        const persisted = (payload.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined)?.sha256Hash;
        if (safelist) {
          if (!query && typeof persisted === 'string') query = safelist.lookup(persisted) ?? '';
          if (!safelist.allows(query))
            return [
              new GraphQLError(Safelist.refusal(query).message, { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }),
            ];
        }
        let document: DocumentNode;
        try {
          document = parse(query, { maxTokens: limits.maxTokens });
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          return [new GraphQLError(message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
        }
        const errors = validate(schema, document, [...specifiedRules, ...validationRules]);
        if (errors.length > 0) {
          return errors.map((e) =>
            e.originalError instanceof GraphQLError
              ? e.originalError
              : new GraphQLError(e.message, {
                  nodes: e.nodes,
                  extensions: { code: 'GRAPHQL_VALIDATION_FAILED', ...e.extensions },
                }),
          );
        }
        const costError = checkCost(
          schema,
          document,
          payload.operationName,
          payload.variables ?? undefined,
          limits.maxCost,
          false,
        );
        if (costError) return [costError];
        return { schema, document, operationName: payload.operationName, variableValues: payload.variables };
      },
      context: (ctx): GatewayContext =>
        createContext(services, ctx.extra.viewer as Viewer, { publicBaseUrl: ctx.extra.publicBaseUrl ?? '' }),
      onError: (_ctx, _id, _payload, errors) => {
        for (const e of errors) {
          const code = e.extensions?.code;
          metrics.countError(
            typeof code === 'string' ? code : ErrorCode.INTERNAL_SERVER_ERROR,
            typeof e.extensions?.source === 'string' ? e.extensions.source : undefined,
          );
          if (!code) logger.error({ err: e.message }, 'subscription error');
        }
      },
      onOperation: (ctx, id, _payload, args, result) =>
        metrics.ws.onOperation(ctx, id, args.document, args.operationName, result),
      onComplete: (ctx, id) => metrics.ws.onComplete(ctx, id),
      onClose: (ctx) => metrics.ws.onClose(ctx),
    },
    wsServer,
  );

  // 4. Apollo Server with its plugins, in order: drain HTTP, drain WebSockets, no CDN landing page, no cache-control plugin,
  //    partial-result errors, upstream stats, GraphQL-over-HTTP status codes.
  const apollo = new ApolloServer<GatewayContext>({
    schema,
    // The entry point owns SIGTERM/SIGINT (src/index.ts); Apollo's own handler would race it and stall shutdown.
    stopOnTerminationSignals: false,
    introspection,
    validationRules,
    parseOptions: { maxTokens: limits.maxTokens },
    // APQ: shared through Redis when configured; in safelist mode, the manifest is the cache.
    ...(safelist || redis
      ? {
          persistedQueries: {
            cache: safelist ? safelist.asCache() : new RedisKeyValueCache(redis as Redis, redisPrefix),
            ttl: 86_400,
          },
        }
      : {}),
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
      // No cache hints in this schema (answers are per API key): without this, Apollo's default cache-control
      // plugin wraps every resolver of the schema (about a quarter of an inbox page's CPU, issue 7's profile).
      ApolloServerPluginCacheControlDisabled(),
      costLimitPlugin(limits.maxCost),
      sourceErrorsPlugin(),
      deadlinePlugin((ctx) => (ctx.signal ? deadlines.get(ctx.signal) : undefined)),
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
    if (production && !metricsConfig.token)
      logger.warn('GET /metrics is served without a token (server.metrics.token)');
  }
  if (graphiqlOn) {
    const g = graphiqlMiddleware({ graphqlPath: GRAPHQL_PATH, defaultHeaders: opts.graphiqlHeaders });
    app.use('/graphiql', g.static);
    app.get(GRAPHQL_PATH, g.page);
  }
  app.post(
    '/webhooks/:sourceId',
    express.raw({ type: () => true, limit: '2mb' }),
    webhookRoute({ connectors, live, logger, metrics }),
  );
  app.post('/uploads/:id', uploadRoute(services.staging));

  const unauthenticated = (res: Response) => {
    metrics.countError(ErrorCode.UNAUTHENTICATED);
    return res
      .status(401)
      .set('www-authenticate', 'Bearer')
      .json({
        errors: [
          {
            message: 'A valid API key is required: send "Authorization: Bearer <key>".',
            extensions: { code: ErrorCode.UNAUTHENTICATED },
          },
        ],
      });
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
    ...(safelist ? [safelistMiddleware(safelist)] : []),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const clientGone = new AbortController();
        const deadline = new OperationDeadline(limits.operationTimeoutMs, clientGone.signal);
        res.on('close', () => {
          deadline.stop();
          clientGone.abort();
        });
        const ctx = createContext(services, res.locals.viewer as Viewer, {
          requestId: res.locals.requestId as string,
          publicBaseUrl: `${req.protocol}://${req.get('host') ?? '127.0.0.1'}`,
          signal: deadline.signal,
        });
        deadlines.set(deadline.signal, deadline);
        return ctx;
      },
    }),
  );
  // Body-parser failures (bad JSON, too large) as GraphQL-shaped errors.
  app.use(
    (
      err: { status?: number; type?: string; message?: string; length?: number },
      _req: Request,
      res: Response,
      next: NextFunction,
    ) => {
      if (res.headersSent) return next(err);
      const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
      const code =
        err.type === 'entity.too.large'
          ? ErrorCode.LIMIT_EXCEEDED
          : status === 500
            ? ErrorCode.INTERNAL_SERVER_ERROR
            : 'BAD_REQUEST';
      const message =
        err.type === 'entity.too.large'
          ? `The request body is ${typeof err.length === 'number' && Number.isFinite(err.length) ? `${err.length} bytes, ` : ''}larger than the limit of ${config.server.maxBodyBytes} bytes.`
          : err.type === 'entity.parse.failed'
            ? 'The request body is not valid JSON.'
            : status === 500
              ? 'Internal server error'
              : (err.message ?? 'Bad request');
      if (status === 500) logger.error({ err: String(err.message) }, 'unhandled HTTP error');
      metrics.countError(code);
      res.status(status).json({ errors: [{ message, extensions: { code } }] });
    },
  );

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
        await services.idempotency.close?.();
        await redis?.quit();
      })()),
  };
}
