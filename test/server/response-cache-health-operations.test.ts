import { Writable } from 'node:stream';
import type { Config } from '../../src/config/schema';
import { createGateway, type Gateway } from '../../src/server/createGateway';
import { createLogger } from '../../src/server/logger';
import { SANDBOX_API_KEY, startEmbedded, type Embedded } from '../../src/sandbox/embedded';
import { eventually } from '../utils/wait';

/**
 * The response cache never stores an operation that selects `health` (server/responseCache.ts, README "Response
 * cache": a source's health moves with calls, not with change events). Whether a document is cacheable is decided
 * per operation: a document may hold one operation that selects health and one that does not. Whether a request was
 * answered from the cache is read from the fast path's debug line (`responseCache: "hit"`). The clock stands still.
 */
describe('response cache and operations that select health', () => {
  let embedded: Embedded;
  let gateway: Gateway;
  const logLines: Array<Record<string, unknown>> = [];
  const now = Date.now();
  let seq = 0;

  const post = async (body: unknown) => {
    const id = `health-${++seq}`;
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': id, authorization: `Bearer ${SANDBOX_API_KEY}` },
      body: JSON.stringify(body),
    });
    return { id, status: res.status, text: await res.text() };
  };
  const fast = async (requestId: string) => {
    await eventually(() => expect(logLines.some((l) => l.requestId === requestId && l.msg === 'request')).toBe(true));
    return logLines.some(
      (l) => l.requestId === requestId && l.msg === 'graphql operation' && l.responseCache === 'hit',
    );
  };

  beforeAll(async () => {
    embedded = await startEmbedded({ port: 0, scale: 1, rateLimitPerMinute: 1_000_000 });
    const config: Config = { ...embedded.config, cache: { ttlMs: 5_000, responses: { enabled: true } } };
    let partial = '';
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({
        write: (chunk: Buffer, _e, cb) => {
          const lines = (partial + String(chunk)).split('\n');
          partial = lines.pop() ?? '';
          for (const line of lines) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
          cb();
        },
      }),
    });
    gateway = await createGateway({ config, clock: () => now + 1, logger, production: true });
    embedded.sandbox.setWebhookBase(gateway.url);
  });
  afterAll(async () => {
    await gateway?.close();
    await embedded?.sandbox.close();
  });

  it('a lone health operation is never answered from the cache', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await post({ query: `query OnlyHealth { sources { id health { status } } }` });
      expect(r.status).toBe(200);
      expect(await fast(r.id)).toBe(false);
    }
  });

  it('a document with a page operation and a health operation: the health one is never cached, even after the page one was', async () => {
    const query = `query Page { conversations(first: 2) { nodes { id } } } query Health { sources { id health { status } } }`;
    // The page operation is cacheable: its third request is a fast-path hit.
    const page = [];
    for (let i = 0; i < 3; i++) page.push(await post({ query, operationName: 'Page' }));
    expect(await fast(page[2]!.id)).toBe(true);
    // The health operation of the same document is executed every time.
    for (let i = 0; i < 3; i++) {
      const r = await post({ query, operationName: 'Health' });
      expect(JSON.parse(r.text).data.sources.length).toBeGreaterThan(0);
      expect([i, await fast(r.id)]).toEqual([i, false]);
    }
  });
});
