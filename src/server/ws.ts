import type { Server } from 'node:http';
import { type ExecutionArgs, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { ErrorCode, GatewayError } from '../errors';
import type { Viewer } from '../schema/context';
import type { Authenticator } from './auth';
import type { ContextFor } from './context';
import type { KeyLease, KeyLimits } from './keyLimits';
import type { Logger } from './logger';
import { maskError, withoutSuggestions } from './maskError';
import type { GatewayMetrics } from './metrics';
import { prepareOperation, type OperationCheck } from './operation';

/** What a `next` message's payload reads as until the socket's `send` puts the shared result's JSON there. */
const SHARED_PAYLOAD = 'switchboard:shared-result';
/** The end of such a message as graphql-ws stringifies it (`{"id":…,"type":"next","payload":…}`). */
const SHARED_TAIL = `,"payload":${JSON.stringify(SHARED_PAYLOAD)}}`;

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
  /** Production mode: no "Did you mean …" suggestions in error messages. */
  production?: boolean;
  /** The per-API-key limits (server/keyLimits.ts): operations per minute and at once, subscriptions per socket and key. */
  keyLimits?: KeyLimits;
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
 * - an `operationName` the document does not define (or none for several operations) is BAD_USER_INPUT;
 * - then the API key's limits (server/keyLimits.ts): past one, LIMIT_EXCEEDED with `retryAfter` as the `error`
 *   message of that operation, and the socket stays open; an admitted subscription counts against the socket's
 *   and the key's subscriptions until it completes or the socket closes;
 * - a frame over `maxPayload` (even before `connection_init`) closes the socket with 4400 and the reason
 *   "Message too big: at most <maxPayload> bytes", counted as LIMIT_EXCEEDED and logged at debug: a client's
 *   mistake, not the server's;
 * - a context per operation; errors and operations are counted in the gateway's metrics; client errors (with a
 *   code) are logged at debug, errors without one at error level (INTERNAL_SERVER_ERROR);
 * - results' errors are masked as HTTP answers are (maskError: unexpected ones are INTERNAL_SERVER_ERROR,
 *   "Internal server error" in production);
 * - in production, no "Did you mean …" suggestions in any error message.
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
  // The key-limit leases of each socket's operations, by operation id; the socket's context object is the socket.
  const leases = new WeakMap<object, Map<string, KeyLease>>();
  const release = (ctx: object, id: string) => {
    const l = leases.get(ctx);
    l?.get(id)?.release();
    l?.delete(id);
  };
  // Fan-out (issue 14): a shared result (server/fanout.ts) is the same JSON for every subscriber, so it is
  // serialized once. `onNext` hands graphql-ws a stand-in payload whose toJSON leaves the result's JSON here and
  // puts a marker string in the message; the socket's `send` (below) swaps the marker for that JSON. graphql-ws
  // stringifies a message and sends it in one synchronous step, so the JSON here is that message's.
  let spliced: string | null = null;
  const serialized = new WeakMap<ExecutionResult, { toJSON(): string }>();
  const shared = (result: ExecutionResult) => {
    let payload = serialized.get(result);
    if (!payload) {
      const json = JSON.stringify(result);
      payload = {
        toJSON: () => {
          spliced = json;
          return SHARED_PAYLOAD;
        },
      };
      serialized.set(result, payload);
    }
    return payload;
  };
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
      onSubscribe: (ctx, id, payload) => {
        const checked = prepareOperation(operations, payload);
        if ('errors' in checked) return [...checked.errors];
        if (opts.keyLimits) {
          let lease: KeyLease;
          try {
            lease = opts.keyLimits.admit(ctx.extra.viewer as Viewer, checked.operation, { socket: ctx });
          } catch (e) {
            if (e instanceof GatewayError) return [e];
            throw e;
          }
          let l = leases.get(ctx);
          if (!l) leases.set(ctx, (l = new Map()));
          l.get(id)?.release();
          l.set(id, lease);
        }
        return {
          schema,
          document: checked.document,
          operationName: payload.operationName,
          variableValues: payload.variables,
        };
      },
      context: (ctx) => opts.contextFor(ctx.extra.viewer as Viewer, { publicBaseUrl: ctx.extra.publicBaseUrl ?? '' }),
      onError: (_ctx, id, _payload, errors) => {
        for (const e of errors) {
          const code = e.extensions?.code;
          const source = typeof e.extensions?.source === 'string' ? e.extensions.source : undefined;
          metrics.countError(typeof code === 'string' ? code : ErrorCode.INTERNAL_SERVER_ERROR, source);
          if (!code) logger.error({ err: e.message }, 'subscription error');
          else logger.debug({ id, code, source, err: e.message }, 'operation refused');
        }
        return opts.production ? errors.map((e) => hideSuggestions(e.toJSON())) : undefined;
      },
      // Results get the same masking as HTTP answers (server/maskError.ts): every error has a code, and an
      // unexpected one is logged and, in production, reads "Internal server error". One without errors is
      // serialized once for every subscriber it goes to.
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors
          ? {
              ...result,
              errors: result.errors.map((e) => maskError(e.toJSON(), e, { production: !!opts.production, logger })),
            }
          : (shared(result) as ExecutionResult),
      onOperation: (ctx, id, _payload, args, result) =>
        metrics.ws.onOperation(ctx, id, args.document, args.operationName, result),
      onComplete: (ctx, id) => {
        release(ctx, id);
        return metrics.ws.onComplete(ctx, id);
      },
      onClose: (ctx) => {
        for (const lease of leases.get(ctx)?.values() ?? []) lease.release();
        leases.delete(ctx);
        return metrics.ws.onClose(ctx);
      },
    },
    wsServer,
  );
  // graphql-ws prints a stack trace (console.error) and closes with 4500 for any error a socket emits; ws emits
  // one for a client's protocol fault (a frame over maxPayload, bad UTF-8, a bad opcode) after it has closed the
  // socket itself (1009, 1007, 1002). Those are the client's mistakes: replace the handler (this listener runs
  // after graphql-ws's own) with a debug line and a count. A frame too big closes with graphql-ws's 4400 (Bad
  // request) and a reason instead of ws's bare 1009: a graphql-ws client treats 4400 as fatal and does not
  // reconnect to send the same frame again.
  const tooBig = `Message too big: at most ${opts.maxPayload} bytes`;
  wsServer.on('connection', (socket) => {
    const send = socket.send.bind(socket) as (data: unknown, ...rest: unknown[]) => void;
    socket.send = ((data: unknown, ...rest: unknown[]) => {
      if (spliced !== null) {
        if (typeof data === 'string' && data.endsWith(SHARED_TAIL))
          data = `${data.slice(0, -SHARED_TAIL.length)},"payload":${spliced}}`;
        spliced = null;
      }
      send(data, ...rest);
    }) as typeof socket.send;
    const close = socket.close.bind(socket);
    socket.close = (code?: number, reason?: string | Buffer) =>
      code === 1009 ? close(CloseCode.BadRequest, tooBig) : close(code, reason);
    socket.removeAllListeners('error');
    socket.on('error', (err: Error & { code?: string }) => {
      const tooLarge = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      if (tooLarge || err.code?.startsWith('WS_ERR_')) {
        const code = tooLarge ? ErrorCode.LIMIT_EXCEEDED : 'BAD_REQUEST';
        metrics.countError(code);
        logger.debug(
          { code, wsError: err.code, err: err.message, maxPayload: opts.maxPayload },
          'websocket frame refused',
        );
      } else {
        logger.warn({ err: err.message }, 'websocket error');
        socket.terminate();
      }
    });
  });
  return {
    clients: () => wsServer.clients.size,
    dispose: async () => {
      await server.dispose();
    },
  };
}

function hideSuggestions(e: GraphQLFormattedError): GraphQLFormattedError {
  return { ...e, message: withoutSuggestions(e.message) };
}
