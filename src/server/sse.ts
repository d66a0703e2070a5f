import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request as ExpressRequest, RequestHandler } from 'express';
import {
  execute as graphqlExecute,
  GraphQLError,
  subscribe as graphqlSubscribe,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { createHandler, TOKEN_HEADER_KEY, TOKEN_QUERY_KEY, type OperationResult, type Response } from 'graphql-sse';
import { GatewayError } from '../errors';
import type { GatewayContext, Viewer } from '../schema/context';
import type { ContextFor } from './context';
import type { KeyLease, KeyLimits } from './keyLimits';
import type { OperationDeadline, OperationDeadlines } from './limits';
import type { Logger } from './logger';
import { maskError, withoutSuggestions } from './maskError';
import type { GatewayMetrics } from './metrics';
import { prepareOperation, type OperationCheck } from './operation';
import type { SubscribeFn } from './ws';

export interface GraphQLSseOptions {
  schema: GraphQLSchema;
  operations: OperationCheck;
  contextFor: ContextFor;
  /** The deadline of queries and mutations, as over HTTP (a subscription has none, as over graphql-ws). */
  deadlines: OperationDeadlines;
  /** Subscription execution; createGateway shares one with graphql-ws (server/fanout.ts). */
  subscribe?: SubscribeFn;
  metrics: GatewayMetrics;
  logger: Logger;
  /** A comment line every this many ms on every open stream. */
  heartbeatMs: number;
  /** Production mode: unexpected errors read "Internal server error", no "Did you mean …" suggestions. */
  production?: boolean;
  /** The per-API-key limits (server/keyLimits.ts), shared with HTTP and graphql-ws; each stream is its own socket. */
  keyLimits?: KeyLimits;
  /** Single connection mode: a reserved stream that has not connected within this many ms is dropped. */
  reservationTtlMs: number;
}

/**
 * Reservations (single connection mode) of one key that have not connected yet, at most: each may already run
 * operations posted onto it, until it connects or expires.
 */
export const SSE_PENDING_RESERVATIONS_PER_KEY = 10;

/** A stream reserved with `PUT` (single connection mode): whose it is, and the lifetime its operations share. */
interface Reservation {
  keyId: string;
  /** Aborts when the stream ends or the reservation expires: the signal of every operation on it. */
  gone: AbortController;
  /** The expiry timer until the stream connects. */
  timer?: NodeJS.Timeout;
}

export interface GraphQLSse {
  /**
   * On `/graphql`, after the auth middleware (the viewer) and the JSON body parser: answers a request that
   * accepts `text/event-stream` ({@link acceptsEventStream}), calls next() for everything else (Apollo).
   */
  middleware: RequestHandler;
  /**
   * What the middleware does once a request is authenticated and its body parsed, for a request given straight
   * from Node's HTTP server (server/sseFrontDoor.ts): the answer, or a stream until it closes. Null when the
   * gateway is closing (nothing was done: the middleware answers 503).
   */
  serve(req: SseRequest, res: ServerResponse): Promise<void> | null;
  /** Open streams (the `switchboard_sse_streams` gauge). */
  streams(): number;
  /** Ends every open stream (subscriptions unsubscribe first) and refuses new ones: graceful shutdown. */
  dispose(): Promise<void>;
}

/**
 * A graphql-sse request as the gateway received it, authenticated and its body parsed: from Express (the
 * middleware) or straight from Node's HTTP server ({@link GraphQLSse.serve}, server/sseFrontDoor.ts).
 */
export interface SseRequest {
  method: string;
  url: string;
  /** A request header (case-insensitive). */
  header(name: string): string | undefined;
  /** Single connection mode: the stream's token (`x-graphql-event-stream-token`, or `?token=`). */
  token?: string;
  /** The parsed JSON body (POST), else null; dropped once the operation runs. */
  body: Record<string, unknown> | null;
  viewer: Viewer;
  requestId: string;
  publicBaseUrl: string;
  raw: IncomingMessage;
}

/** graphql-sse wants an indexable context type. */
type SseContext = GatewayContext & Record<PropertyKey, unknown>;

/** What the middleware hands graphql-sse with each request. */
interface RequestState {
  viewer: Viewer;
  requestId: string;
  publicBaseUrl: string;
  /**
   * Aborts when the client goes away (the response closes): made on first use, by a query's or mutation's deadline
   * only (an AbortSignal is about 0.8 KB of heap, held by a stream for as long as it is open).
   */
  clientGone: () => AbortSignal;
  /** The operation's deadline (queries and mutations). */
  deadline?: OperationDeadline;
  /** The operation's type once prepared. */
  operation?: string;
  /** The operation streams (a subscription that subscribed): counted active until it completes. */
  streaming?: boolean;
  /** The operation's hold on its key's limits, released when it completes or the stream closes. */
  lease?: KeyLease;
  /** Single connection mode: the reservation this request names (its token). */
  reservation?: Reservation;
  /** Single connection mode: the reservation's token. */
  token?: string;
  /**
   * Distinct connections mode: the `next` events of shared results, in order, that {@link serve} writes in place
   * of graphql-sse's {@link SHARED_CHUNK} (one each).
   */
  shared?: Buffer[];
}

/**
 * True when the request is graphql-sse's: it accepts an event stream, or it reserves, uses or completes a
 * single-connection stream (`PUT`, or the `x-graphql-event-stream-token` header or `token` parameter).
 */
export function isGraphQLSseRequest(req: ExpressRequest): boolean {
  return (
    acceptsEventStream(req) ||
    req.method === 'PUT' ||
    !!req.get(TOKEN_HEADER_KEY) ||
    typeof (req.query as Record<string, unknown>)[TOKEN_QUERY_KEY] === 'string'
  );
}

/** True when the request asks for an event stream: `Accept` names `text/event-stream`. */
export function acceptsEventStream(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  if (!accept) return false;
  return accept.split(',').some((part) => part.split(';')[0]!.trim().toLowerCase() === 'text/event-stream');
}

/**
 * # GraphQL over Server-Sent Events
 *
 * The graphql-sse protocol ("distinct connections mode": one stream per operation) on the `/graphql` endpoint,
 * with the `graphql-sse` library's handler: a `POST` (JSON body) or `GET` (query string) with
 * `Accept: text/event-stream` answers `200 text/event-stream`, then `event: next` per result and
 * `event: complete` when the operation ends (a query or mutation: one result; a subscription: every event until
 * the client closes the stream). Everything HTTP and graphql-ws have, the same way:
 * - **authentication**: the auth middleware before it (`Authorization: Bearer <key>`, 401 UNAUTHENTICATED);
 * - **the operation check** (server/operation.ts {@link prepareOperation}: safelist, tokens, depth, aliases,
 *   introspection, cost, operation name): a refused operation is answered in the stream, `200` with one
 *   `next` `{ errors }` and `complete` (as graphql-sse itself answers validation errors: an event-stream client
 *   reads GraphQL errors from the stream), never executed;
 * - **deadline**: queries and mutations get the HTTP deadline (server.operationTimeoutMs), aborting upstream
 *   calls, LIMIT_EXCEEDED beside the data; a subscription lives as long as its stream;
 * - **errors**: every error is masked as HTTP answers are (maskError), and counted; a source that failed beside
 *   partial data is reported as over HTTP;
 * - **no mutation over GET** (405, as GraphQL over HTTP);
 * - **heartbeats**: a comment line `:` every `heartbeatMs` (one timer for all streams);
 * - **a closed stream releases everything**: the client going away returns the operation's iterator, so the
 *   subscription unsubscribes from the live engine at once;
 * - **graceful shutdown** ({@link GraphQLSse.dispose}, from Apollo's drain phase): every stream's operation is
 *   returned and the stream ends without `complete`, which a graphql-sse client takes as a lost connection (it
 *   retries, against another instance), like graphql-ws's 1001.
 *
 * - the key's limits (server/keyLimits.ts): a refusal is answered in the stream like the check's.
 *
 * The **single connection mode** too: `PUT /graphql` reserves a stream (201, a token of the gateway's own), a
 * `GET` with `Accept: text/event-stream` and the token (`x-graphql-event-stream-token` or `?token=`) connects it,
 * and operations are `POST`ed onto it with the token and `extensions.operationId` (202; their results come as
 * `next` `{ id, payload }` on the stream), `DELETE ?operationId=` completes one. The token belongs to the key that
 * reserved it (any other key gets 404, as for a token that does not exist); a key may hold
 * {@link SSE_PENDING_RESERVATIONS_PER_KEY} reservations not yet connected (429 LIMIT_EXCEEDED past that), and a
 * reservation not connected within `reservationTtlMs` is dropped with every operation posted onto it (graphql-sse
 * would keep it in its table for ever). Operations on a reserved stream live as long as the stream, not as their
 * own `POST`; the stream is one socket for `subscriptionsPerSocket`.
 */
export function useGraphQLSse(opts: GraphQLSseOptions): GraphQLSse {
  const { schema, operations, metrics, logger } = opts;
  const production = !!opts.production;
  const open = new Set<{ end(): Promise<void> }>();
  let closing = false;

  const formatted = (e: GraphQLError | GraphQLFormattedError) => (e instanceof GraphQLError ? e.toJSON() : e);
  // Results' errors are masked as HTTP answers are; the operation check's refusals go out as they are (with no
  // suggestions in production), as over graphql-ws.
  const mask = (e: GraphQLError | GraphQLFormattedError): GraphQLFormattedError =>
    metrics.countFormattedError(maskError(formatted(e), e, { production, logger }));
  const refused = (e: GraphQLError | GraphQLFormattedError): GraphQLFormattedError => {
    const f = formatted(e);
    return metrics.countFormattedError(production ? { ...f, message: withoutSuggestions(f.message) } : f);
  };

  const handler = createHandler<IncomingMessage, RequestState, SseContext>({
    schema,
    // Validated already, with every rule, by the operation check.
    validate: () => [],
    execute: graphqlExecute as (args: unknown) => OperationResult,
    subscribe: (opts.subscribe ?? graphqlSubscribe) as (args: unknown) => OperationResult,
    // Single connection mode: a PUT reserves a stream for its key (a token of the gateway's own, never the
    // client's); a request naming a token must come with the key that reserved it. Without a token: distinct mode.
    authenticate: (req) => reserveOrFind(req.method, req.context),
    onSubscribe: (req, params) => {
      const state = req.context;
      const prepared = prepareOperation(operations, params);
      if ('errors' in prepared) {
        metrics.sseOperation(state, 'unknown', 'error', false);
        for (const e of prepared.errors)
          logger.debug({ requestId: state.requestId, code: e.extensions?.code, err: e.message }, 'operation refused');
        return refusal(prepared.errors);
      }
      if (prepared.operation === 'mutation' && req.method === 'GET') {
        metrics.countError('BAD_REQUEST');
        return [
          JSON.stringify({
            errors: [{ message: 'Mutations are sent with POST.', extensions: { code: 'BAD_REQUEST' } }],
          }),
          { status: 405, statusText: 'Method Not Allowed', headers: { allow: 'POST', 'content-type': JSON_TYPE } },
        ];
      }
      if (opts.keyLimits) {
        try {
          state.lease = opts.keyLimits.admit(state.viewer, prepared.operation, { socket: state.reservation ?? state });
        } catch (e) {
          if (!(e instanceof GatewayError)) throw e;
          metrics.sseOperation(state, prepared.operation, 'error', false);
          logger.debug({ requestId: state.requestId, code: e.code, limit: e.extensions.limit }, 'operation refused');
          return refusal([e]);
        }
      }
      state.operation = prepared.operation;
      // An operation posted onto a reserved stream lives as long as that stream, not as its own request (202).
      // A subscription on its own stream has no signal, as over graphql-ws: it ends when its stream closes (its
      // iterator is returned), and its events' executions are shared with other subscribers (server/fanout.ts),
      // whose upstream calls one subscriber leaving must not abort.
      let signal = state.reservation?.gone.signal;
      if (prepared.operation !== 'subscription') {
        state.deadline = opts.deadlines.start(signal ?? state.clientGone());
        signal = state.deadline.signal;
      }
      return {
        schema,
        document: prepared.document,
        operationName: params.operationName,
        variableValues: params.variables,
        contextValue: opts.contextFor(state.viewer, {
          requestId: state.requestId,
          publicBaseUrl: state.publicBaseUrl,
          signal,
        }) as SseContext,
      };
    },
    onOperation: (_ctx, req, _args, result) => {
      if (!isAsyncIterable(result)) return;
      req.context.streaming = true;
      metrics.sseOperation(req.context, 'subscription', 'success', true);
    },
    onNext: (ctx, req, result) => {
      const state = req.context;
      const extra: GraphQLFormattedError[] = [];
      // A query or mutation: one result, with what HTTP adds to it (server/plugins/deadline.ts, sourceErrors.ts).
      if (state.operation && state.operation !== 'subscription') {
        state.deadline?.stop();
        extra.push(...sourceErrors(ctx));
        const exceeded = state.deadline?.exceeded;
        if (exceeded) extra.push({ message: exceeded.message, extensions: { ...exceeded.extensions } });
      }
      const errors = [
        ...(result.errors ?? []).map(state.operation ? mask : refused),
        ...extra.map((e) => metrics.countFormattedError(e)),
      ];
      // One result (a refusal was counted when refused): the operation's outcome.
      if (state.operation && !state.streaming)
        metrics.sseOperation(state, state.operation, errors.length > 0 ? 'error' : 'success', false);
      if (errors.length === 0) {
        // Fan-out (issue 14): a subscription's result is shared by every subscriber of the event asking the same
        // (server/fanout.ts), and in distinct connections mode its event is the same text on every stream: built
        // once, and written by serve() where graphql-sse's event for the stand-in is.
        if (state.operation !== 'subscription' || state.token) return undefined;
        (state.shared ??= []).push(sharedChunk(result));
        return SHARED_STAND_IN;
      }
      // Serialized as JSON as they are: formatted errors stand in for GraphQLError instances.
      return { ...result, errors: errors as unknown as GraphQLError[] };
    },
    onComplete: (_ctx, req) => {
      req.context.deadline?.stop();
      req.context.lease?.release();
      metrics.sseDone(req.context);
    },
  });

  const heartbeats = sharedHeartbeats(opts.heartbeatMs);

  /** The `next` event of each shared result, built once (held weakly: it goes with the result). */
  const chunks = new WeakMap<object, Buffer>();
  const sharedChunk = (result: object) => {
    let chunk = chunks.get(result);
    // Bytes, not text: every stream writes the same buffer (no UTF-8 encoding and length count per stream).
    if (chunk === undefined)
      chunks.set(result, (chunk = Buffer.from(`event: next\ndata: ${JSON.stringify(result)}\n\n`)));
    return chunk;
  };

  /** Pending and connected reservations by token (single connection mode). */
  const reservations = new Map<string, Reservation>();
  const pendingOf = (keyId: string) => {
    let n = 0;
    for (const r of reservations.values()) if (r.keyId === keyId && r.timer) n++;
    return n;
  };
  const notFound = (): Response => [
    JSON.stringify({ errors: [{ message: 'Stream not found.', extensions: { code: 'NOT_FOUND' } }] }),
    { status: 404, statusText: 'Not Found', headers: { 'content-type': JSON_TYPE } },
  ];

  function reserveOrFind(method: string, state: RequestState): string | null | Response {
    if (method === 'PUT') {
      const keyId = state.viewer.keyId;
      if (pendingOf(keyId) >= SSE_PENDING_RESERVATIONS_PER_KEY) {
        metrics.countError('LIMIT_EXCEEDED');
        return [
          JSON.stringify({
            errors: [
              {
                message: `This API key has ${SSE_PENDING_RESERVATIONS_PER_KEY} reserved event streams not yet connected, the most allowed; connect one first.`,
                extensions: { code: 'LIMIT_EXCEEDED', limit: 'sseReservations', max: SSE_PENDING_RESERVATIONS_PER_KEY },
              },
            ],
          }),
          { status: 429, statusText: 'Too Many Requests', headers: { 'content-type': JSON_TYPE } },
        ];
      }
      const token = randomUUID();
      const reservation: Reservation = { keyId, gone: new AbortController() };
      reservation.timer = setTimeout(() => void expire(token), opts.reservationTtlMs);
      reservation.timer.unref();
      reservations.set(token, reservation);
      state.token = token;
      return token;
    }
    if (!state.token) return null;
    const reservation = reservations.get(state.token);
    // Another key's token reads as one that does not exist.
    if (!reservation || reservation.keyId !== state.viewer.keyId) return notFound();
    state.reservation = reservation;
    return state.token;
  }

  /**
   * Drops a reservation that did not connect in time: its stream is connected and closed at once, which returns
   * every operation posted onto it (graphql-sse keeps reserved streams in a table of its own).
   */
  async function expire(token: string) {
    const reservation = reservations.get(token);
    if (!reservation?.timer) return;
    clearTimeout(reservation.timer);
    const state: RequestState = {
      viewer: { keyId: reservation.keyId } as Viewer,
      requestId: 'sse-reservation-expiry',
      publicBaseUrl: '',
      clientGone: () => reservation.gone.signal,
      token,
    };
    try {
      const [body] = await handler({
        method: 'GET',
        url: '/',
        headers: { get: (key) => (key === 'accept' ? 'text/event-stream' : key === TOKEN_HEADER_KEY ? token : null) },
        body: null,
        raw: undefined as unknown as IncomingMessage,
        context: state,
      });
      if (body && typeof body !== 'string') await body.return(undefined);
    } finally {
      reservations.delete(token);
      reservation.gone.abort();
    }
  }

  const middleware: RequestHandler = (req, res, next) => {
    if (!isGraphQLSseRequest(req)) return next();
    if (closing) {
      res.status(503).set('connection', 'close').end();
      return;
    }
    const token = req.get(TOKEN_HEADER_KEY) ?? (req.query as Record<string, unknown>)[TOKEN_QUERY_KEY];
    const input: SseRequest = {
      method: req.method,
      url: req.url,
      header(name) {
        return req.get(name);
      },
      token: typeof token === 'string' && token ? token : undefined,
      body: (req.body as Record<string, unknown> | null | undefined) ?? null,
      viewer: res.locals.viewer as Viewer,
      requestId: res.locals.requestId as string,
      publicBaseUrl: `${req.protocol}://${req.get('host') ?? '127.0.0.1'}`,
      raw: req,
    };
    // The parsed body goes with the input, which serve() lets go of once the operation runs: a stream keeps it no
    // longer, and nothing after this middleware reads it.
    req.body = undefined;
    serve(input, res).catch(next);
  };

  async function serve(req: SseRequest, res: ServerResponse) {
    // One 'close' listener a response (issue 14, SSE memory per stream): the client going away aborts the
    // operation's signal, if it has one, and, once streaming, returns the stream's operation.
    // Methods and unnamed arrows only, here and below, not named arrows: a stream holds what serve() made for as
    // long as it is open, and tsx (esbuild's keepNames) gives each named arrow a 256-byte property dictionary.
    let gone = false;
    let goneController: AbortController | undefined;
    /** The stream's operation, once it streams. */
    let operation: { return(value: undefined): Promise<unknown> } | null = null;
    res.once('close', () => {
      gone = true;
      goneController?.abort();
      void operation?.return(undefined);
    });
    const state: RequestState = {
      viewer: req.viewer,
      requestId: req.requestId,
      publicBaseUrl: req.publicBaseUrl,
      clientGone() {
        if (!goneController) {
          goneController = new AbortController();
          if (gone) goneController.abort();
        }
        return goneController.signal;
      },
    };
    if (req.token) state.token = req.token;
    const eventStream = acceptsEventStream(req.raw);
    const request = {
      method: req.method,
      url: req.url,
      headers: {
        // graphql-sse compares Accept with "text/event-stream" exactly: any Accept naming it reads as that.
        get(key: string) {
          return key.toLowerCase() === 'accept' && eventStream ? 'text/event-stream' : (req.header(key) ?? null);
        },
      },
      body: req.body,
      raw: req.raw,
      context: state,
    };
    const [body, init] = await handler(request);
    if (typeof body === 'string' || body === null) {
      // 202: the operation runs on its reserved stream, which releases it when it completes.
      if (init.status !== 202) state.lease?.release();
      res.writeHead(init.status, init.statusText, init.headers);
      res.end(body ?? undefined);
      return;
    }
    // The stream: its operation already runs (prepared from the body, which a stream keeps no longer: graphql-sse
    // holds its request for as long as the operation runs); when the client is gone by now, return it at once.
    request.body = null;
    req.body = null;
    let ending = false;
    operation = body;
    const stream = {
      async end() {
        ending = true;
        await body.return(undefined);
      },
    };
    open.add(stream);
    // A reserved stream connected: it no longer expires; it ends with this response.
    const reserved = state.reservation;
    if (reserved) {
      clearTimeout(reserved.timer);
      reserved.timer = undefined;
    }
    let leaveHeartbeats = () => {};
    try {
      if (gone) return void body.return(undefined);
      res.writeHead(init.status, init.statusText, {
        ...init.headers,
        // nginx buffers responses unless told not to; an event stream must flush each event.
        'x-accel-buffering': 'no',
      });
      res.flushHeaders();
      leaveHeartbeats = heartbeats.join(res);
      let flushed = false;
      for await (const chunk of body) {
        if (ending || !res.writable) break;
        // graphql-sse writes a comment first (some browsers need a byte to flush the headers), then one every
        // 12 s; the shared heartbeats (sharedHeartbeats) replace its later ones, at the configured interval.
        if (chunk === ':\n\n') {
          if (flushed) continue;
          flushed = true;
        }
        res.write(chunk === SHARED_CHUNK ? state.shared!.shift()! : chunk);
      }
    } finally {
      leaveHeartbeats();
      open.delete(stream);
      void body.return(undefined);
      state.lease?.release();
      if (reserved && state.token) {
        reservations.delete(state.token);
        reserved.gone.abort();
      }
      res.end();
    }
  }

  return {
    middleware,
    serve: (req, res) => (closing ? null : serve(req, res)),
    streams: () => open.size,
    dispose: async () => {
      closing = true;
      const pending = [...reservations].filter(([, r]) => r.timer).map(([token]) => token);
      await Promise.allSettled([...[...open].map((s) => s.end()), ...pending.map((token) => expire(token))]);
    },
  };
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** What onNext hands graphql-sse for a shared result: it prints as {@link SHARED_CHUNK}. */
const SHARED_STAND_IN = { toJSON: () => 'switchboard:shared-result' } as unknown as ExecutionResult;
/** graphql-sse's event for {@link SHARED_STAND_IN} (common.ts `print`), replaced by the stream's own. */
const SHARED_CHUNK = `event: next\ndata: ${JSON.stringify(SHARED_STAND_IN)}\n\n`;

/** The heartbeat's interval is cut in this many ticks, each writing to the streams of one slot. */
const HEARTBEAT_SLOTS = 16;

/**
 * The comment line every open stream gets every `heartbeatMs`, from one timer for all streams instead of one each
 * (issue 14: 10,000 streams, 10,000 timers). The streams are spread over {@link HEARTBEAT_SLOTS} slots, one slot
 * written per tick, so their lines do not all go out in the same turn. The timer runs while a stream is open.
 */
function sharedHeartbeats(heartbeatMs: number): { join(res: ServerResponse): () => void } {
  const slots = Array.from({ length: HEARTBEAT_SLOTS }, () => new Set<ServerResponse>());
  let open = 0;
  let tick = 0;
  let next = 0;
  let timer: NodeJS.Timeout | null = null;
  const beat = () => {
    for (const res of slots[tick]!) if (res.writable) res.write(':\n\n');
    tick = (tick + 1) % HEARTBEAT_SLOTS;
  };
  return {
    join(res) {
      const slot = slots[next]!;
      next = (next + 1) % HEARTBEAT_SLOTS;
      slot.add(res);
      if (open++ === 0) timer = setInterval(beat, Math.max(1, Math.floor(heartbeatMs / HEARTBEAT_SLOTS)));
      return () => {
        if (!slot.delete(res)) return;
        if (--open === 0 && timer) {
          clearInterval(timer);
          timer = null;
        }
      };
    },
  };
}

/** A refused operation's answer in the stream: one result with its errors, then `complete`. */
function refusal(errors: readonly GraphQLError[]): AsyncIterable<ExecutionResult> {
  return {
    async *[Symbol.asyncIterator]() {
      yield { errors };
    },
  };
}

/** The context's partial-result source errors, once per source, code and row (server/plugins/sourceErrors.ts). */
function sourceErrors(ctx: GatewayContext): GraphQLFormattedError[] {
  const seen = new Set<string>();
  const out: GraphQLFormattedError[] = [];
  for (const e of ctx.sourceErrors) {
    const key = `${e.sourceId ?? ''}\u0000${e.code}\u0000${String(e.extensions.rowId ?? '')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ message: e.message, extensions: { ...e.extensions } });
  }
  return out;
}

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return typeof x === 'object' && x !== null && Symbol.asyncIterator in x;
}
