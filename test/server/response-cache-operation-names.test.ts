import { Writable } from 'node:stream';
import type { Config } from '../../src/config/schema';
import { createGateway, type Gateway } from '../../src/server/createGateway';
import { createLogger } from '../../src/server/logger';
import { SANDBOX_API_KEY, startEmbedded, type Embedded } from '../../src/sandbox/embedded';
import { eventually } from '../utils/wait';

/**
 * Adversarial probes of the response cache's fast path (server/middleware/responseCacheHit.ts, README "Response
 * cache"): a hit is answered before Apollo's pipeline, so every rule a request obeys through Apollo must still
 * hold for it. Each probe warms the cache (the miss, then the request that teaches the Accept's content type),
 * then sends the variant under test and compares it with what Apollo answers. Whether a request took the fast
 * path is read from its debug line (`responseCache: "hit"`), which only the fast path writes. The gateway's clock
 * stands still (nothing expires, no key's minute turns).
 */

const INBOX = /* GraphQL */ `
  query Inbox($n: Int) {
    conversations(first: $n) {
      nodes {
        id
        nativeId
        source {
          id
        }
        lastMessage {
          content
        }
      }
    }
  }
`;
interface Raw {
  status: number;
  headers: Headers;
  text: string;
}

describe('response cache and operation names', () => {
  let embedded: Embedded;
  let gateway: Gateway;
  const logLines: Array<Record<string, unknown>> = [];
  const now = Date.now();
  let seq = 0;

  const post = async (
    body: unknown,
    headers: Record<string, string> = {},
    key: string | null = SANDBOX_API_KEY,
  ): Promise<Raw & { id: string }> => {
    const id = `adv-${++seq}`;
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-request-id': id,
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { id, status: res.status, headers: res.headers, text: await res.text() };
  };
  /** Whether the request with this id was answered by the fast path (its debug line), once its access line is there. */
  const fast = async (requestId: string) => {
    await eventually(() => expect(logLines.some((l) => l.requestId === requestId && l.msg === 'request')).toBe(true));
    return logLines.some(
      (l) => l.requestId === requestId && l.msg === 'graphql operation' && l.responseCache === 'hit',
    );
  };
  /** Sends `body` until a request takes the fast path (the miss, the Accept's lesson, then a hit): that hit. */
  const warm = async (body: unknown, headers: Record<string, string> = {}, key: string | null = SANDBOX_API_KEY) => {
    for (let i = 0; i < 3; i++) {
      const r = await post(body, headers, key);
      expect(r.status).toBe(200);
      if (await fast(r.id)) return r;
    }
    throw new Error('no fast-path hit after three identical requests');
  };

  beforeAll(async () => {
    embedded = await startEmbedded({ port: 0, scale: 1, rateLimitPerMinute: 1_000_000 });
    const config: Config = {
      ...embedded.config,
      server: { ...embedded.config.server, maxBodyBytes: 64 * 1024 },
      cache: { ttlMs: 5_000, responses: { enabled: true } },
    };
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

  // Apollo without the response cache answers both 400 OPERATION_RESOLUTION_FAILURE ('Unknown operation named "…".').
  const unknownName = (r: Raw, operationName: string) =>
    expect([r.status, JSON.parse(r.text)]).toEqual([
      400,
      {
        errors: [
          {
            message: `Unknown operation named "${operationName}".`,
            extensions: { code: 'OPERATION_RESOLUTION_FAILURE' },
          },
        ],
      },
    ]);

  it('an operation name the document does not have: 400 OPERATION_RESOLUTION_FAILURE, as without the cache', async () => {
    for (const operationName of ['', 'Other']) {
      const r = await post({ query: INBOX, variables: { n: 4 }, operationName });
      unknownName(r, operationName);
    }
  });

  it('operationName "" is a name (graphql-js looks for an operation called ""): never the answer cached without one', async () => {
    const body = { query: INBOX, variables: { n: 3 } };
    await warm(body);
    const r = await post({ ...body, operationName: '' });
    expect(await fast(r.id)).toBe(false);
    unknownName(r, '');
  });
});
