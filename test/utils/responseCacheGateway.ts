/**
 * What the response cache suites share (README "Response cache", server/middleware/responseCacheHit.ts): the whole
 * gateway in front of the embedded sandbox with the response cache on, on a clock that stands still (nothing
 * expires, no key's minute turns), with a debug logger whose lines tell whether a request took the fast path (its
 * debug line `responseCache: "hit"`, which only the fast path writes).
 */
import type { Config } from '../../src/config/schema';
import { createGateway, type Gateway } from '../../src/server/createGateway';
import { SANDBOX_API_KEY, startEmbedded } from '../../src/sandbox/embedded';
import { capturedLogger } from './logLines';
import { eventually } from './wait';

/** The first `$n` conversations with their native id, source and last message: the probes' cacheable page. */
export const INBOX = /* GraphQL */ `
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

/** An HTTP answer, its body as text (to compare bytes). */
export interface Raw {
  status: number;
  headers: Headers;
  text: string;
}

/** An answer with the request id it was sent with. */
export type Answer = Raw & { id: string };

export interface ResponseCacheGatewayOptions {
  /** Changes to the embedded sandbox's config, given with the response cache on (`ttlMs` 5 s). */
  configure?: (config: Config) => Config;
  /** Request ids of requests sent without one: `<idPrefix>-<n>`. @default rc */
  idPrefix?: string;
  /** Point the emulators' webhooks at the gateway. @default true */
  webhooks?: boolean;
}

/**
 * Starts the sandbox (port 0, scale 1) and the gateway in front of it (production, response cache on, clock at its
 * start + 1 ms). `post` and `get` send with the sandbox key unless told (`null`: none), each with its own
 * `x-request-id` unless the headers carry one; `fast(id)` tells whether that request was answered by the fast path,
 * `warm(body)` sends until a request does and hands back that hit, `metric(name)` reads one value of /metrics.
 */
export async function responseCacheGateway(opts: ResponseCacheGatewayOptions = {}) {
  const embedded = await startEmbedded({ port: 0, scale: 1, rateLimitPerMinute: 1_000_000 });
  const { logger, lines: logLines } = capturedLogger('debug');
  const now = Date.now();
  let seq = 0;
  let gateway: Gateway;
  try {
    const base: Config = { ...embedded.config, cache: { ttlMs: 5_000, responses: { enabled: true } } };
    const config = opts.configure ? opts.configure(base) : base;
    gateway = await createGateway({ config, clock: () => now + 1, logger, production: true });
  } catch (e) {
    await embedded.sandbox.close();
    throw e;
  }
  if (opts.webhooks ?? true) embedded.sandbox.setWebhookBase(gateway.url);

  const send = async (
    init: { method: 'GET' | 'POST'; path?: string; body?: string },
    headers: Record<string, string>,
    key: string | null,
  ): Promise<Answer> => {
    const id = headers['x-request-id'] ?? `${opts.idPrefix ?? 'rc'}-${++seq}`;
    const res = await fetch(`${gateway.url}${init.path ?? '/graphql'}`, {
      method: init.method,
      headers: {
        ...(init.method === 'POST' ? { 'content-type': 'application/json' } : {}),
        'x-request-id': id,
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...headers,
      },
      body: init.body,
    });
    return { id, status: res.status, headers: res.headers, text: await res.text() };
  };
  /** POST /graphql of `body` (a string is sent as it is, anything else as its JSON). */
  const post = (body: unknown, headers: Record<string, string> = {}, key: string | null = SANDBOX_API_KEY) =>
    send({ method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) }, headers, key);
  /** GET /graphql with these query string parameters, with the sandbox key. */
  const get = (params: Record<string, string>, headers: Record<string, string> = {}) =>
    send({ method: 'GET', path: `/graphql?${new URLSearchParams(params).toString()}` }, headers, SANDBOX_API_KEY);
  /**
   * Whether the request with this id was answered by the fast path (its debug line), read once its access-log line
   * (written when the response closed, after either path's debug line) is there.
   */
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
      expect([r.status, r.text.slice(0, 200)]).toEqual([200, expect.any(String)]);
      if (await fast(r.id)) return r;
    }
    throw new Error('no fast-path hit after three identical requests');
  };
  /** The value of the first /metrics line of `name` (with its labels, if given); 0 when there is none. */
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  return {
    embedded,
    gateway,
    logLines,
    post,
    get,
    fast,
    warm,
    metric,
    async close() {
      await gateway.close();
      await embedded.sandbox.close();
    },
  };
}

/** What {@link responseCacheGateway} hands back. */
export type ResponseCacheGateway = Awaited<ReturnType<typeof responseCacheGateway>>;
