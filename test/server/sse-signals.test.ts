import { once } from 'node:events';
import { request, type ClientRequest, type Server } from 'node:http';
import express from 'express';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GatewayContext, Viewer } from '../../src/schema/context';
import type { ContextFor } from '../../src/server/context';
import { resolveLimits, OperationDeadlines } from '../../src/server/limits';
import { createLogger } from '../../src/server/logger';
import { createGatewayMetrics } from '../../src/server/metrics';
import { createOperationCheck } from '../../src/server/operation';
import { useGraphQLSse, type GraphQLSse } from '../../src/server/sse';
import { eventually } from '../utils/wait';

/**
 * # Which abort signal an SSE operation's context gets (server/sse.ts, issue 14 SSE memory)
 *
 * A query or mutation gets its deadline's signal, which aborts when the client goes away; a subscription on its
 * own stream (distinct connections mode) gets none, as over graphql-ws: its stream closing returns its iterator,
 * and its events' executions are shared with other subscribers (server/fanout.ts), whose upstream calls must not
 * abort because one subscriber left. Fails when the stream's client-gone signal reaches a subscription's context
 * again, or when a query's deadline stops following the client.
 */
const schema = makeExecutableSchema({
  typeDefs: `type Query { hello: String } type Subscription { tick: Int }`,
  resolvers: {
    Query: {
      hello: (_root: unknown, _args: unknown, ctx: GatewayContext) =>
        new Promise<string>((resolve) => {
          ctx.signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
        }),
    },
    Subscription: {
      tick: {
        subscribe: async function* () {
          yield { tick: 1 };
          await new Promise(() => {});
        },
      },
    },
  },
});

describe('SSE operation signals', () => {
  let server: Server;
  let sse: GraphQLSse;
  let url: string;
  const seen: { signal?: AbortSignal }[] = [];
  const requests: ClientRequest[] = [];

  beforeAll(async () => {
    const logger = createLogger({ level: 'silent' });
    const limits = resolveLimits({} as Parameters<typeof resolveLimits>[0]);
    const contextFor: ContextFor = (viewer, opts) => {
      seen.push({ signal: opts.signal });
      return { viewer, requestId: opts.requestId, signal: opts.signal, sourceErrors: [] } as unknown as GatewayContext;
    };
    sse = useGraphQLSse({
      schema,
      operations: createOperationCheck({ schema, limits, introspection: false, safelist: null }),
      contextFor,
      deadlines: new OperationDeadlines(60_000),
      metrics: createGatewayMetrics({ connectors: [], logger, defaultMetrics: false }),
      logger,
      heartbeatMs: 60_000,
      reservationTtlMs: 10_000,
    });
    const app = express();
    app.use(express.json());
    app.use((_req, res, next) => {
      res.locals.viewer = { keyId: 'k' } as Viewer;
      res.locals.requestId = 'r';
      next();
    });
    app.use(sse.middleware);
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/graphql`;
  });
  afterAll(async () => {
    for (const r of requests.splice(0)) r.destroy();
    await sse.dispose();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Opens a stream; resolves with its text so far once the first `next` event arrived. */
  function open(query: string): Promise<{ text: () => string; req: ClientRequest }> {
    return new Promise((resolve, reject) => {
      let text = '';
      const req = request(
        url,
        { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' } },
        (res) => {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            if (text.includes('event: next')) resolve({ text: () => text, req });
          });
        },
      );
      requests.push(req);
      req.once('error', reject);
      req.end(JSON.stringify({ query }));
    });
  }

  it('gives a subscription on its own stream no signal', async () => {
    seen.length = 0;
    const stream = await open('subscription { tick }');
    expect(stream.text()).toContain('data: {"data":{"tick":1}}');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.signal).toBeUndefined();
    stream.req.destroy();
    await eventually(() => expect(sse.streams()).toBe(0));
  });

  it("aborts a query's signal when its client goes away", async () => {
    seen.length = 0;
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    });
    requests.push(req);
    req.on('error', () => {});
    req.end(JSON.stringify({ query: '{ hello }' }));
    await eventually(() => expect(seen).toHaveLength(1));
    const signal = seen[0]!.signal!;
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(signal.aborted).toBe(false);
    req.destroy();
    await eventually(() => expect(signal.aborted).toBe(true));
  });
});
