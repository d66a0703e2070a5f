import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { waitFor } from '../utils/wait';

/**
 * Issue 12 items 9 and 13: client mistakes are typed client errors (logged at debug, never counted as
 * INTERNAL_SERVER_ERROR, no stack trace printed), and production mode gives no "Did you mean …" suggestions on
 * any transport.
 */

type Frame = { type: string; id?: string; payload?: unknown };

/** A raw graphql-transport-ws socket: every frame received, and how it closed. */
async function rawSocket(wsUrl: string) {
  const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
  const frames: Frame[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as Frame));
  ws.on('error', () => undefined); // the close event says how it ended
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = async (type: string, timeoutMs = 5000): Promise<Frame> => {
    const f = await waitFor(() => frames.find((x) => x.type === type), { timeoutMs, what: `a ${type} frame` }).catch(
      (e: Error) => {
        throw new Error(`${e.message}; got ${JSON.stringify(frames)}`, { cause: e });
      },
    );
    frames.splice(frames.indexOf(f), 1);
    return f;
  };
  return { ws, frames, closed, next, send: (m: unknown) => ws.send(JSON.stringify(m)) };
}

async function authedSocket(t: TestGateway) {
  const s = await rawSocket(t.wsUrl);
  s.send({ type: 'connection_init', payload: { authorization: `Bearer ${t.apiKey}` } });
  await s.next('connection_ack');
  return s;
}

async function errorCount(t: TestGateway, code: string): Promise<number> {
  const m = await t.gateway.metrics.registry.getSingleMetric('switchboard_errors_total')!.get();
  return m.values.filter((v) => v.labels.code === code).reduce((a, v) => a + v.value, 0);
}

const logLines = (t: TestGateway, from: number) =>
  t.logs.slice(from).map((l) => JSON.parse(l) as { level: number; msg: string } & Record<string, unknown>);

describe('client mistakes over graphql-ws are typed client errors (item 9)', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['PIXIESET'], logLevel: 'debug' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('an unknown operationName answers BAD_USER_INPUT, logged at debug, not counted as INTERNAL_SERVER_ERROR', async () => {
    const s = await authedSocket(t);
    const internalBefore = await errorCount(t, 'INTERNAL_SERVER_ERROR');
    const badBefore = await errorCount(t, 'BAD_USER_INPUT');
    const from = t.logs.length;
    s.send({ id: '1', type: 'subscribe', payload: { query: 'query A { sources { id } }', operationName: 'B' } });
    const err = await s.next('error');
    expect(err).toEqual({
      id: '1',
      type: 'error',
      payload: [
        expect.objectContaining({
          message: 'Unknown operation named "B".',
          extensions: { code: 'BAD_USER_INPUT', field: 'operationName' },
        }),
      ],
    });
    // Two operations and no name: the same typed error.
    s.send({ id: '2', type: 'subscribe', payload: { query: 'query A { sources { id } } query C { sources { id } }' } });
    const err2 = await s.next('error');
    expect((err2.payload as Array<{ extensions: unknown }>)[0]!.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'operationName',
    });
    expect(await errorCount(t, 'INTERNAL_SERVER_ERROR')).toBe(internalBefore);
    expect(await errorCount(t, 'BAD_USER_INPUT')).toBe(badBefore + 2);
    const lines = logLines(t, from);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    expect(lines.filter((l) => l.level === 20 && l.code === 'BAD_USER_INPUT')).toHaveLength(2);
    // The socket stays open for the next operation.
    s.send({ id: '3', type: 'subscribe', payload: { query: 'query A { sources { id } }', operationName: 'A' } });
    expect((await s.next('next')).payload).toEqual({ data: { sources: [{ id: 'pixieset' }] } });
    s.ws.close();
    await s.closed;
  });

  it('a frame over the size limit before authentication closes with 4400 and a reason, logged at debug, with no stack trace', async () => {
    const printed = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const limitBefore = await errorCount(t, 'LIMIT_EXCEEDED');
      const internalBefore = await errorCount(t, 'INTERNAL_SERVER_ERROR');
      const from = t.logs.length;
      const s = await rawSocket(t.wsUrl);
      s.ws.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(1_100_000) } }));
      const closed = await s.closed;
      // graphql-ws's Bad request, which its clients do not retry (ws's own would be a bare 1009).
      expect(closed).toEqual({ code: 4400, reason: 'Message too big: at most 1000000 bytes' });
      // Let the server's side of the close run.
      await new Promise((r) => setTimeout(r, 50));
      expect(printed).not.toHaveBeenCalled();
      expect(await errorCount(t, 'LIMIT_EXCEEDED')).toBe(limitBefore + 1);
      expect(await errorCount(t, 'INTERNAL_SERVER_ERROR')).toBe(internalBefore);
      const lines = logLines(t, from);
      expect(lines.filter((l) => l.level >= 40)).toEqual([]);
      expect(lines).toContainEqual(
        expect.objectContaining({ level: 20, code: 'LIMIT_EXCEEDED', msg: 'websocket frame refused' }),
      );
      // The server still serves other sockets.
      const ok = await authedSocket(t);
      ok.ws.close();
      await ok.closed;
    } finally {
      printed.mockRestore();
    }
  });
});

describe('no "Did you mean" suggestions in production (item 13)', () => {
  let prod: TestGateway;
  let dev: TestGateway;
  beforeAll(async () => {
    prod = await startTestGateway({ kinds: ['PIXIESET'], production: true });
    dev = await startTestGateway({ kinds: ['PIXIESET'], embedded: prod.embedded });
  });
  afterAll(async () => {
    await dev.close();
    await prod.close();
  });

  const mistakes: Array<[string, string, Record<string, unknown> | undefined]> = [
    ['a misspelt field', '{ sourcez { id } }', undefined],
    ['a misspelt argument', '{ conversations(frist: 1) { totalCount } }', undefined],
    [
      'a misspelt enum value in a variable',
      'query($s: [ConversationStatus!]) { conversations(first: 1, filter: { status: $s }) { totalCount } }',
      { s: ['OPNE'] },
    ],
  ];

  it.each(mistakes)('HTTP: %s gets no suggestion in production (and one in development)', async (_n, query, vars) => {
    const d = await dev.gql(query, vars);
    expect(JSON.stringify(d.body.errors)).toMatch(/Did you mean/);
    const p = await prod.gql(query, vars);
    expect(p.body.errors?.length).toBeGreaterThan(0);
    expect(JSON.stringify(p.body.errors)).not.toMatch(/Did you mean/);
  });

  it.each(mistakes)(
    'graphql-ws: %s gets no suggestion in production (and one in development)',
    async (_n, query, vars) => {
      const answer = async (t: TestGateway) => {
        const s = await authedSocket(t);
        s.send({ id: '1', type: 'subscribe', payload: { query, variables: vars } });
        await waitFor(() => s.frames.some((f) => f.type === 'error' || f.type === 'next'), {
          timeoutMs: 5000,
          what: 'an answer (an error or a next frame)',
        });
        s.ws.close();
        await s.closed;
        return JSON.stringify(s.frames);
      };
      expect(await answer(dev)).toMatch(/Did you mean/);
      const p = await answer(prod);
      expect(p).toMatch(/"message"/);
      expect(p).not.toMatch(/Did you mean/);
    },
  );
});

describe('unexpected errors are masked alike over HTTP and graphql-ws', () => {
  let prod: TestGateway;
  beforeAll(async () => {
    prod = await startTestGateway({ kinds: ['PIXIESET'], production: true });
    // A bug inside a connector: a plain Error whose message must never reach a client in production.
    const connector = prod.gateway.services.connectors[0];
    connector.health = () => {
      throw new Error('internal detail /var/secret');
    };
  });
  afterAll(async () => {
    await prod.close();
  });
  const query = '{ sources { id health { status } } }';

  it('HTTP: the error reads "Internal server error" with INTERNAL_SERVER_ERROR', async () => {
    const r = await prod.gql(query);
    expect(r.body.errors?.[0]?.message).toBe('Internal server error');
    expect(r.body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(r.body)).not.toContain('/var/secret');
  });

  it('graphql-ws: the same error reads the same', async () => {
    const s = await authedSocket(prod);
    s.send({ id: '1', type: 'subscribe', payload: { query } });
    const next = await s.next('next');
    s.ws.close();
    await s.closed;
    const payload = next.payload as { errors?: Array<{ message: string; extensions?: { code?: string } }> };
    expect(payload.errors?.[0]?.message).toBe('Internal server error');
    expect(payload.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(next)).not.toContain('/var/secret');
  });
});
