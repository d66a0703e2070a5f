import type { Server } from 'node:http';
import type { ExecutionArgs, ExecutionResult, GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { ErrorCode } from '../errors';
import type { Viewer } from '../schema/context';
import type { Authenticator } from './auth';
import type { ContextFor } from './context';
import type { Logger } from './logger';
import type { GatewayMetrics } from './metrics';
import type { OperationCheck } from './operation';

/** The graphql-transport-ws messages a client may send. */
const CLIENT_MESSAGE_TYPES = new Set<unknown>(['connection_init', 'ping', 'pong', 'subscribe', 'complete']);

/** How graphql-ws executes a subscription (graphql-js's `subscribe` by default). */
export type SubscribeFn = (
  args: ExecutionArgs,
) => Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> | AsyncGenerator<ExecutionResult> | ExecutionResult;

export interface GraphQLWsOptions {
  httpServer: Server;
  path: string;
  /** A graphql-ws message may be no larger than an HTTP body (ws closes the socket with 1009 otherwise). */
  maxPayload: number;
  schema: GraphQLSchema;
  operations: OperationCheck;
  authenticate: Authenticator;
  contextFor: ContextFor;
  /** graphql-ws's subscription execution; createGateway shares one per event and query (server/fanout.ts). */
  subscribe?: SubscribeFn;
  metrics: GatewayMetrics;
  logger: Logger;
}

export interface GraphQLWs {
  /** Open sockets (the `switchboard_websocket_connections` gauge). */
  readonly clients: () => number;
  /** Closes every socket with 1001 (going away). */
  dispose(): Promise<void>;
}

/**
 * graphql-ws on the HTTP server's `path` (the transport adapter, like graphql-ws's own `use/ws.ts`):
 * - `connection_init` authenticates with `{ authorization: "Bearer <key>" }`; a missing or bad key closes the
 *   socket with 4403;
 * - only client-to-server messages parse (anything else closes with 4400);
 * - each `subscribe` passes the same operation check as HTTP (server/operation.ts): a refused operation gets an
 *   `error` message and the socket stays open;
 * - a context per operation; errors and operations are counted in the gateway's metrics.
 */
export function useGraphQLWs(opts: GraphQLWsOptions): GraphQLWs {
  const { schema, operations, metrics, logger } = opts;
  const wsServer = new WebSocketServer({
    server: opts.httpServer,
    path: opts.path,
    perMessageDeflate: false,
    maxPayload: opts.maxPayload,
  });
  type Extra = { viewer?: Viewer; publicBaseUrl?: string };
  const server = useServer<Record<string, unknown> | undefined, Extra>(
    {
      schema,
      subscribe: opts.subscribe,
      onConnect: (ctx) => {
        const viewer = opts.authenticate(ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization);
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
        const checked = operations.check(payload);
        if ('errors' in checked) return [...checked.errors];
        return {
          schema,
          document: checked.document,
          operationName: payload.operationName,
          variableValues: payload.variables,
        };
      },
      context: (ctx) => opts.contextFor(ctx.extra.viewer as Viewer, { publicBaseUrl: ctx.extra.publicBaseUrl ?? '' }),
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
  return {
    clients: () => wsServer.clients.size,
    dispose: async () => {
      await server.dispose();
    },
  };
}
