import { Writable } from 'node:stream';
import { createGateway, type Gateway } from '../../src/server/createGateway';
import { createLogger } from '../../src/server/logger';
import { SANDBOX_LIMITED_KEY, startEmbedded, type Embedded } from '../../src/sandbox/embedded';
import { tuneSources } from '../utils/gateway';
import { eventually } from '../utils/wait';

/**
 * An HTTP operation whose client goes away before its answer aborts its upstream calls (server/http.ts: the
 * operation's deadline signal is aborted on the response's close when the answer was not sent). The Pixieset
 * emulator waits 3 s before answering (the source's timeout is 30 s); the client leaves once the emulator has the
 * request. The gateway's debug line of that upstream call shows how it ended: cancelled (no status), where a call
 * left running would end with 200.
 */
describe('GraphQL over HTTP: a client that goes away', () => {
  let embedded: Embedded;
  let gateway: Gateway;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    embedded = await startEmbedded({ port: 0, scale: 1, rateLimitPerMinute: 1_000_000 });
    let partial = '';
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({
        write: (chunk: Buffer, _e, cb) => {
          const all = (partial + String(chunk)).split('\n');
          partial = all.pop() ?? '';
          for (const l of all) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
          cb();
        },
      }),
    });
    // The source's own timeout far above the emulator's wait: only the client's leaving can cut the call short.
    const config = tuneSources(embedded.config, () => ({ timeoutMs: 30_000 }));
    gateway = await createGateway({ config, logger, production: true });
  });
  afterAll(async () => {
    await gateway?.close();
    await embedded?.sandbox.close();
  });

  it('aborts the upstream calls of the operation it left', async () => {
    const pixieset = embedded.sandbox.emulators.get('pixieset')!;
    pixieset.clearRequests();
    pixieset.setFaults({ latencyMs: 3_000 });
    const client = new AbortController();
    try {
      const pending = fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${SANDBOX_LIMITED_KEY}`,
          'x-request-id': 'client-gone-1',
        },
        body: JSON.stringify({ query: '{ conversations(first: 5) { nodes { id } } }' }),
        signal: client.signal,
      }).catch((e: unknown) => e);
      await eventually(() => expect(pixieset.requests().length).toBeGreaterThan(0));
      client.abort();
      expect(await pending).toMatchObject({ name: 'AbortError' });
      const call = await eventually(
        () => {
          const l = lines.find((x) => x.requestId === 'client-gone-1' && x.msg === 'upstream call');
          expect(l).toBeDefined();
          return l!;
        },
        { timeoutMs: 10_000 },
      );
      expect(call).toMatchObject({ source: 'pixieset', status: null, code: 'SOURCE_TIMEOUT' });
    } finally {
      pixieset.setFaults({});
    }
  });
});
