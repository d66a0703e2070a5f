import { request, type IncomingHttpHeaders } from 'node:http';
import { gzipSync } from 'node:zlib';
import express from 'express';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { eventually } from '../utils/wait';

/**
 * server/sseFrontDoor.ts: the plain SSE request (POST /graphql, `Accept: text/event-stream`, a valid key, a JSON
 * body with its length) is answered before Express; every other request goes to Express as before. Each case
 * sends the same request through both doors where it can (a chunked body, with no Content-Length, always goes to
 * Express) and compares what comes back. Which door answered is told by Express's `app.handle`, spied on.
 */

const UNREAD = 'subscription { unreadCountChanged { total } }';
const MAX_BODY = 4096;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, or for an event stream the text up to its first `next` event. */
  text: string;
}

/** One raw HTTP request; an event stream is read up to its first `next` event, then closed. */
function send(
  t: TestGateway,
  body: string | Buffer,
  opts: { headers?: Record<string, string>; chunked?: boolean; path?: string } = {},
): Promise<Answer> {
  const url = new URL(t.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: opts.path ?? '/graphql',
        method: 'POST',
        agent: false,
        headers: {
          accept: 'text/event-stream',
          'content-type': 'application/json',
          authorization: `Bearer ${t.apiKey}`,
          ...(opts.chunked ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
          if (/^event: next\ndata: .*\n\n/m.test(text)) {
            res.destroy();
            resolve({ status: res.statusCode!, headers: res.headers, text });
          }
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
        res.on('error', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    if (opts.chunked) {
      // No Content-Length: Node sends the body chunked.
      req.write(body);
      req.end();
    } else req.end(body);
  });
}

describe('SSE front door (server/sseFrontDoor.ts)', () => {
  let t: TestGateway;
  // The Express app copies its methods from express.application when it is made: spied on before the gateway starts.
  const handle = jest.spyOn(express.application as unknown as { handle: (...args: unknown[]) => unknown }, 'handle');

  beforeAll(async () => {
    t = await startTestGateway({
      kinds: ['PROTOCOL'],
      configure: (c) => ({ ...c, server: { ...c.server, maxBodyBytes: MAX_BODY } }),
    });
  });
  afterAll(async () => {
    await t.close();
    handle.mockRestore();
  });
  beforeEach(() => handle.mockClear());
  /** The requests Express answered at /graphql (the sandbox's emulators are Express apps of their own). */
  const expressAnswered = () =>
    handle.mock.calls.filter(([req]) => {
      // The router trims a mounted path off req.url; originalUrl keeps it.
      const r = req as { url: string; originalUrl?: string };
      return (r.originalUrl ?? r.url).startsWith('/graphql');
    }).length;

  const subscription = JSON.stringify({ query: UNREAD });

  it('answers the plain request itself, with the stream Express would answer', async () => {
    const front = await send(t, subscription, { headers: { 'x-request-id': 'front-1' } });
    expect(expressAnswered()).toBe(0);
    const back = await send(t, subscription, { headers: { 'x-request-id': 'back-1' }, chunked: true });
    expect(expressAnswered()).toBe(1);
    for (const a of [front, back]) {
      expect(a.status).toBe(200);
      expect(a.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(a.headers['x-accel-buffering']).toBe('no');
      expect(a.text).toMatch(/^event: next\ndata: \{"data":\{"unreadCountChanged":\{"total":\d+\}\}\}\n\n/m);
    }
    expect(front.headers['x-request-id']).toBe('front-1');
    expect(back.headers['x-request-id']).toBe('back-1');
    // A request id that is not a plain token is replaced, as Express's requestId middleware does.
    const made = await send(t, subscription, { headers: { 'x-request-id': 'not a token!' } });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(expressAnswered()).toBe(1);
    // The access log line, as Express's (method, route, status, key name, request id).
    await eventually(() => {
      const lines = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
      const mine = lines.find((l) => l.requestId === 'front-1');
      const theirs = lines.find((l) => l.requestId === 'back-1');
      expect(mine).toMatchObject({ method: 'POST', route: '/graphql', status: 200, keyName: expect.any(String) });
      expect(theirs).toMatchObject({ method: 'POST', route: '/graphql', status: 200, keyName: mine!.keyName });
    });
  });

  it('answers a body that is not JSON (or not an object or array) as Express does: 400 BAD_REQUEST', async () => {
    for (const bad of ['{"query": ', '"a string"', '42', 'null']) {
      const front = await send(t, bad);
      const back = await send(t, bad, { chunked: true });
      expect(expressAnswered()).toBe(1);
      handle.mockClear();
      expect(front.status).toBe(400);
      expect(back.status).toBe(400);
      expect(JSON.parse(front.text)).toEqual(JSON.parse(back.text));
      expect(JSON.parse(front.text)).toEqual({
        errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }],
      });
      expect(front.headers['content-type']).toBe(back.headers['content-type']);
    }
  });

  it('answers a refused operation in the stream, as graphql-sse does behind Express', async () => {
    const bad = JSON.stringify({ query: 'subscription { nope }' });
    const front = await send(t, bad);
    const back = await send(t, bad, { chunked: true });
    expect(expressAnswered()).toBe(1);
    expect(front.status).toBe(200);
    expect(front.text).toBe(back.text);
    expect(front.text).toMatch(/GRAPHQL_VALIDATION_FAILED/);
  });

  it.each([
    ['no API key', { authorization: '' }, 401],
    ['a wrong API key', { authorization: 'Bearer nope' }, 401],
    ['a stream token (single connection mode)', { 'x-graphql-event-stream-token': 'abc' }, 404],
    ['another charset', { 'content-type': 'application/json; charset=latin1' }, 415],
    ['another content type', { 'content-type': 'text/plain' }, 415],
  ])('leaves a request with %s to Express', async (_name, headers, status) => {
    const a = await send(t, subscription, { headers });
    expect(expressAnswered()).toBe(1);
    expect(a.status).toBe(status);
  });

  it('leaves a compressed body, a body above the limit and another path to Express', async () => {
    const gz = await send(t, gzipSync(subscription), { headers: { 'content-encoding': 'gzip' } });
    expect(gz.status).toBe(200);
    expect(gz.text).toMatch(/unreadCountChanged/);
    const big = JSON.stringify({ query: UNREAD, variables: { pad: 'x'.repeat(MAX_BODY) } });
    const tooBig = await send(t, big);
    expect(tooBig.status).toBe(413);
    expect(JSON.parse(tooBig.text).errors[0].extensions.code).toBe('LIMIT_EXCEEDED');
    const other = await send(t, subscription, { path: '/graphql?x=1' });
    expect(other.status).toBe(200);
    expect(expressAnswered()).toBe(3);
  });
});
