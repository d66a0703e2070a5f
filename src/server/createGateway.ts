import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import express from 'express';
import { PERSISTED_QUERY_DEFAULTS, SERVER_LIMIT_DEFAULTS, type Config } from '../config/schema';
import type { Connector } from '../connectors/types';
import { graphiqlMiddleware } from '../graphiql';
import type { PubSubTransport } from '../live/pubsub';
import { buildSchema } from '../schema';
import type { GatewayContext, GatewayServices } from '../schema/context';
import { createAuthenticator } from './auth';
import { KeyLimits } from './keyLimits';
import { createContext, type ContextFor, type OpenSession } from './context';
import { sharedSubscribe } from './fanout';
import { graphqlOverHttp, requestBaseUrl } from './http';
import { OperationDeadlines, resolveLimits } from './limits';
import { createLogger, type Logger } from './logger';
import { maskError } from './maskError';
import { accessLog, metricsRoute, type GatewayMetrics } from './metrics';
import { auth } from './middleware/auth';
import { persistedRegistration } from './middleware/persistedRegistration';
import { bodyErrors } from './middleware/bodyErrors';
import { liveness, readiness, ReadinessMonitor } from './middleware/readiness';
import { requestId } from './middleware/requestId';
import { responseCacheHit } from './middleware/responseCacheHit';
import { safelist as safelistMiddleware } from './middleware/safelist';
import { createOperationCheck } from './operation';
import { Safelist } from './persisted';
import { costLimitPlugin } from './plugins/costLimit';
import { deadlinePlugin } from './plugins/deadline';
import { keyLimitsPlugin } from './plugins/keyLimits';
import { drainWebSocketsPlugin } from './plugins/drainWebSockets';
import { legacyJsonStatusPlugin } from './plugins/legacyJsonStatus';
import { operationMetricsPlugin } from './plugins/operationMetrics';
import { redisWarningPlugin } from './plugins/redisWarning';
import { responseCacheFromConfig, responseCachePlugin } from './responseCache';
import { sourceErrorsPlugin } from './plugins/sourceErrors';
import { upstreamStatsPlugin } from './plugins/upstreamStats';
import { buildServices } from './services';
import { settleHttpShapes } from './httpShapes';
import { useGraphQLSse } from './sse';
import { sseFrontDoor } from './sseFrontDoor';
import { uploadRoute } from './uploads';
import { webhookRoute } from './webhooks';
import { useGraphQLWs, type SubscribeFn } from './ws';

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
  /**
   * How an operation opens a source's session (kept for the rest of the operation).
   * @default the connector's own `openSession`
   */
  openSession?: OpenSession;
  /**
   * How graphql-ws executes a subscription for each subscriber.
   * @default one shared execution per event and distinct query (server/fanout.ts)
   */
  subscribe?: SubscribeFn;
  /** The clock of the expiries the gateway enforces itself (staged uploads); tests pass a fake one. @default Date.now */
  clock?: () => number;
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
  /** Graceful shutdown: stop accepting, finish in-flight requests, close WebSockets with 1001, end SSE streams. */
  close(): Promise<void>;
}

const GRAPHQL_PATH = '/graphql';

/**
 * The composition root: one HTTP server, one port, `/graphql` for POST/GET queries, graphql-ws and
 * GraphQL over SSE (server/sse.ts), GraphiQL for browsers, webhooks, uploads and health checks. Each part is named here and
 * written in its own file; this function only puts them in order.
 */
export async function createGateway(opts: GatewayOptions): Promise<Gateway> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger();
  const production = opts.production ?? process.env.NODE_ENV === 'production';
  const introspection = config.server.introspection ?? !production;
  const graphiqlOn = config.server.graphiql ?? !production;

  // 1. Read before anything opens a socket: a bad safelist manifest stops the start-up with a clear error.
  const safelist = config.server.persistedQueries?.safelist
    ? Safelist.load(config.server.persistedQueries.safelist)
    : null;

  // 2. Long-lived services over one Redis connection set: connectors, metrics, live engine, stores.
  const built = buildServices({ config, logger, pubsub: opts.pubsub, connectors: opts.connectors, clock: opts.clock });
  const { services, metrics } = built;
  const authenticate = createAuthenticator(
    config.apiKeys,
    services.connectors.map((c) => c.id),
  );
  const contextFor: ContextFor = (viewer, o) =>
    createContext(services, viewer, { ...o, openSession: opts.openSession });

  // 3. The schema and the operation check both transports share (safelist, parse, validate, cost).
  const schema = buildSchema();
  const limits = resolveLimits(config.server);
  const operations = createOperationCheck({
    schema,
    limits,
    introspection,
    safelist,
    trackSize: metrics.trackStore,
  });
  const deadlines = new OperationDeadlines(limits.operationTimeoutMs);
  // Per-API-key limits (operations per minute and at once, subscriptions per socket and key), every transport.
  const keyLimits = new KeyLimits(config, opts.clock, metrics.keyLimitRefused);

  // 4. One HTTP server: GraphQL over SSE (its plain requests before Express, server/sseFrontDoor.ts; the rest mounted
  //    with the routes, step 6), graphql-ws on its /graphql path.
  const app = express();
  app.disable('x-powered-by');
  // One shared subscription execution for graphql-ws and SSE subscribers alike (server/fanout.ts).
  const subscribe = opts.subscribe ?? sharedSubscribe();
  // GraphQL over Server-Sent Events on the same path (requests that accept text/event-stream).
  const sse = useGraphQLSse({
    schema,
    operations,
    contextFor,
    deadlines,
    subscribe,
    metrics,
    logger,
    production,
    heartbeatMs: config.server.sse?.heartbeatMs ?? SERVER_LIMIT_DEFAULTS.sseHeartbeatMs,
    reservationTtlMs: config.server.sse?.reservationTtlMs ?? SERVER_LIMIT_DEFAULTS.sseReservationTtlMs,
    keyLimits,
  });
  // The plain SSE request (a POST event stream with a key and a JSON body) is answered before Express, everything
  // else by Express (server/sseFrontDoor.ts).
  const sseFront = sseFrontDoor({
    sse,
    path: GRAPHQL_PATH,
    authenticate,
    maxBodyBytes: config.server.maxBodyBytes,
    logger,
    countError: metrics.countError,
  });
  const httpServer = createHttpServer((req, res) => {
    if (!sseFront(req, res)) app(req, res);
  }, config.server.http);
  const sockets = trackSockets(httpServer);
  const ws = useGraphQLWs({
    httpServer,
    path: GRAPHQL_PATH,
    maxPayload: config.server.maxBodyBytes,
    schema,
    operations,
    authenticate,
    contextFor,
    subscribe,
    metrics,
    logger,
    production,
    keyLimits,
  });
  metrics.observe({ openWebSockets: ws.clients, openSseStreams: sse.streams });
  // The response cache (config `cache.responses`, off by default; server/responseCache.ts): whole query answers
  // per API key, dropped by the change events the live engine hears (and the given transport's topics).
  const responseCache = responseCacheFromConfig(config, {
    live: services.live,
    // The services' own transport (Redis when configured): other instances' changes reach this cache too.
    pubsub: built.pubsub,
    // While Redis is down those changes cannot arrive: answers keep to cache.ttlMs (README "Response cache").
    health: built.redisHealth,
    now: opts.clock,
    metrics: metrics.responseCache,
  });

  // 5. Apollo Server for GraphQL over HTTP. Plugins, in order: drain HTTP then WebSockets on shutdown; no CDN
  //    landing page (GraphiQL is served offline below); no cache-control plugin (answers are per API key, and it
  //    wraps every resolver: about a quarter of an inbox page's CPU, issue 7's profile); the cost limit once the
  //    operation resolved; partial-result source errors, then the deadline's error, beside the data; upstream
  //    stats on request; GraphQL-over-HTTP status codes; metrics last, to see the final response.
  const apollo = new ApolloServer<GatewayContext>({
    schema,
    // The entry point owns SIGTERM/SIGINT (src/index.ts); Apollo's own handler would race it and stall shutdown.
    stopOnTerminationSignals: false,
    introspection,
    // No "Did you mean …" in production (validation here; every other error in maskError, WebSockets in ws.ts).
    hideSchemaDetailsFromClientErrors: production,
    parseOptions: operations.parseOptions,
    validationRules: [...operations.validationRules],
    // APQ: in safelist mode the manifest is the cache; otherwise shared through Redis when configured, and each
    // registration passes the size cap and the per-key count first (the persistedRegistration middleware).
    persistedQueries: safelist
      ? { cache: safelist.asCache(), ttl: 86_400 }
      : { cache: built.persistedQueryCache, ttl: 86_400 },
    csrfPrevention: {
      // A bearer Authorization header cannot be sent cross-site without a preflight, so it counts as proof too.
      requestHeaders: ['authorization', 'x-apollo-operation-name', 'apollo-require-preflight'],
    },
    formatError: (formatted, error) => metrics.countFormattedError(maskError(formatted, error, { production, logger })),
    // A stored answer's JSON is made once (server/responseCache.ts ResponseCache.stringify); else Apollo's own.
    ...(responseCache ? { stringifyResult: (value) => responseCache.cache.stringify(value) } : {}),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      drainWebSocketsPlugin(ws),
      // SSE streams end the same way (their operations returned first), or the HTTP drain would wait for them.
      drainWebSocketsPlugin(sse),
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginCacheControlDisabled(),
      costLimitPlugin(operations),
      keyLimitsPlugin(keyLimits),
      // A REDIS_UNAVAILABLE warning when Redis was down during the operation (before sourceErrors appends it).
      redisWarningPlugin(built.redisHealth),
      sourceErrorsPlugin(),
      deadlinePlugin(deadlines),
      upstreamStatsPlugin(),
      legacyJsonStatusPlugin(),
      // After sourceErrors and the deadline: it stores only answers that went out without errors.
      ...(responseCache ? [responseCachePlugin(responseCache.cache)] : []),
      operationMetricsPlugin(metrics, logger),
    ],
  });
  await apollo.start();

  let closing: Promise<void> | null = null;

  // 6. Routes, in order: request id and access log for everything; probes, metrics, GraphiQL, webhooks and
  //    uploads; then /graphql behind the API key, the body limit and the safelist (or, without one, the limits of
  //    persisted-query registration), response cache hits (their stored bytes), then Apollo; body errors last.
  app.use(requestId());
  app.use(accessLog(logger));
  app.get('/healthz', liveness());
  // Readiness from the sources' recent health: at most one probe per source per interval, whoever asks.
  const readinessMonitor = new ReadinessMonitor({
    connectors: services.connectors,
    intervalMs: config.server.readinessIntervalMs ?? SERVER_LIMIT_DEFAULTS.readinessIntervalMs,
    recordUpstream: metrics.recordUpstream,
  });
  app.get('/readyz', readiness(readinessMonitor, { redis: built.redisHealth }));
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
    ...webhookRoute({
      connectors: services.connectors,
      live: services.live,
      logger,
      metrics,
      maxBodyBytes: config.server.webhookMaxBodyBytes ?? SERVER_LIMIT_DEFAULTS.webhookMaxBodyBytes,
    }),
  );
  app.post('/uploads/:id', uploadRoute(built.staging));
  app.use(
    GRAPHQL_PATH,
    auth(authenticate, metrics.countError),
    express.json({ limit: config.server.maxBodyBytes }),
    // SSE runs the whole operation check itself (server/operation.ts), safelist included.
    sse.middleware,
    safelist
      ? safelistMiddleware(operations)
      : persistedRegistration({
          cache: built.persistedQueryCache,
          counter: built.persistedQueryRegistrations,
          maxQueryBytes: config.server.persistedQueries?.maxQueryBytes ?? PERSISTED_QUERY_DEFAULTS.maxQueryBytes,
          onRefused: metrics.countError,
        }),
    // A query the response cache holds is answered with its stored bytes, every rule above and the key limits
    // applied; anything else goes on to Apollo (server/middleware/responseCacheHit.ts).
    ...(responseCache
      ? [
          responseCacheHit({
            cache: responseCache.cache,
            keyLimits,
            baseUrl: (req) => services.publicUrl ?? requestBaseUrl(req),
            etag: app.get('etag fn') as ((body: Buffer, encoding?: string) => string) | undefined,
            redisHealth: built.redisHealth,
            httpOperation: (type, outcome, seconds) => metrics.httpOperation(type, outcome, seconds),
            logger,
            closing: () => closing !== null,
          }),
        ]
      : []),
    graphqlOverHttp(apollo, { contextFor, deadlines }),
  );
  app.use(bodyErrors({ maxBodyBytes: config.server.maxBodyBytes, logger, onError: metrics.countError }));

  // 7. Listen. When that fails (the port is taken), everything built so far is released before the error goes up.
  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.server.port, config.server.host, () => resolve());
    });
  } catch (e) {
    readinessMonitor.close();
    await apollo.stop().catch(() => undefined);
    await responseCache?.close();
    await built.dispose();
    throw e;
  }
  const { port } = httpServer.address() as AddressInfo;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;

  return {
    url: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}${GRAPHQL_PATH}`,
    httpServer,
    services,
    metrics,
    // Apollo drains HTTP, WebSockets and SSE streams first; then idle keep-alive sockets go, then the services.
    // Connections still sending a request (a slow body, half-sent headers) are closed first: nothing runs for
    // them yet, and Apollo's drain would wait its 10 s grace period for them.
    close: () =>
      (closing ??= (async () => {
        readinessMonitor.close();
        sockets.closeUnfinished();
        await apollo.stop();
        for (const s of sockets.all) s.destroy();
        await responseCache?.close();
        await built.dispose();
      })()),
  };
}

/**
 * The HTTP server with its timeouts (issue 12 item 6): `headersTimeout` and `requestTimeout` answer 408 and close
 * a connection whose headers or whole request (body included) have not arrived in time; `keepAliveTimeout`
 * closes an idle keep-alive connection. Node checks the first two every `connectionsCheckingInterval` (30 s by
 * default), so that interval follows the timeouts.
 */
function createHttpServer(listener: RequestListener, http: Config['server']['http']): Server {
  const requestTimeout = http?.requestTimeoutMs ?? SERVER_LIMIT_DEFAULTS.requestTimeoutMs;
  // Node refuses a headers timeout above the request timeout.
  const headersTimeout = Math.min(http?.headersTimeoutMs ?? SERVER_LIMIT_DEFAULTS.headersTimeoutMs, requestTimeout);
  // Before the first request: a full GC during V8's slack tracking of these would leave every later request and
  // response with dictionary properties (server/httpShapes.ts).
  settleHttpShapes();
  const server = createServer(
    {
      requestTimeout,
      headersTimeout,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
    listener,
  );
  server.keepAliveTimeout = http?.keepAliveTimeoutMs ?? SERVER_LIMIT_DEFAULTS.keepAliveTimeoutMs;
  return server;
}

/** The server's open sockets, so close() can end slow and idle connections. */
interface TrackedSockets {
  readonly all: ReadonlySet<Socket>;
  /**
   * Destroys every connection that is not running a request: still sending one (headers or body incomplete),
   * or idle. Connections whose request arrived whole (being answered) and WebSockets (closed with 1001 by the
   * drain) stay.
   */
  closeUnfinished(): void;
}

function trackSockets(httpServer: Server): TrackedSockets {
  const all = new Set<Socket>();
  const current = new WeakMap<Socket, IncomingMessage>();
  const upgraded = new WeakSet<Socket>();
  httpServer.on('connection', (s: Socket) => {
    all.add(s);
    s.on('close', () => all.delete(s));
  });
  httpServer.on('request', (req: IncomingMessage, res: express.Response) => {
    current.set(req.socket, req);
    res.once('close', () => {
      if (current.get(req.socket) === req) current.delete(req.socket);
    });
  });
  httpServer.on('upgrade', (req: IncomingMessage) => upgraded.add(req.socket));
  return {
    all,
    closeUnfinished() {
      for (const s of all) {
        if (upgraded.has(s)) continue;
        const req = current.get(s);
        if (req && req.complete) continue;
        s.destroy();
      }
    },
  };
}
