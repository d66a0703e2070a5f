import { threadEventsBench, type Caller } from '../../bench/thread-events';
import { GqlClient } from '../../bench/lib';
import { startEmbedded, SANDBOX_API_KEY, type Embedded } from '../../src/sandbox/embedded';
import { createGateway, type Gateway } from '../../src/server/createGateway';
import { createLogger } from '../../src/server/logger';

/**
 * What `npm run bench -- --workloads events` relies on (bench/thread-events.ts, issue 14): its subscribers over
 * graphql-ws and over SSE (its own reader of graphql-sse's distinct connections mode) each get every message the
 * Chatwoot emulator sends through its webhook, once, and the gateway's subscriber gauge returns to zero after.
 * The child processes of the real bench are answered in-process here (the same calls: bench/ipc.ts Child.call).
 */
let embedded: Embedded;
let gateway: Gateway;
let http: GqlClient;

beforeAll(async () => {
  embedded = await startEmbedded({ scale: 2, port: 0, kinds: ['CHATWOOT'], rateLimitPerMinute: 1_000_000 });
  gateway = await createGateway({ config: embedded.config, logger: createLogger({ level: 'silent' }) });
  http = new GqlClient(`${gateway.url}/graphql`, SANDBOX_API_KEY, 4);
});
afterAll(async () => {
  http?.close();
  await gateway?.close();
  await embedded?.sandbox.close();
});

/** bench/sandbox-process.ts's calls, on the embedded sandbox. */
const sandboxCalls = (): Caller => ({
  call: async <T>(type: string, args: unknown = {}) => {
    const a = args as { url?: string; source?: string; conversationId?: string; content?: string };
    switch (type) {
      case 'setWebhookBase':
        embedded.sandbox.setWebhookBase(a.url ?? null);
        return undefined as T;
      case 'simulateIncoming':
        return embedded.sandbox.emulators
          .get(a.source!)!
          .controls.simulateIncoming({ conversationId: a.conversationId, content: a.content }) as T;
      case 'drain':
        return { counts: {}, serviceMs: {} } as T;
      default:
        throw new Error(`unexpected sandbox call ${type}`);
    }
  },
});
/** bench/gateway-process.ts's calls, on this process. */
const gatewayCalls: Caller = {
  call: async <T>(type: string) => {
    if (type === 'memory') return process.memoryUsage() as T;
    if (type === 'cpu') return process.cpuUsage() as T;
    throw new Error(`unexpected gateway call ${type}`);
  },
};

it('delivers each emulator message once to every subscriber over graphql-ws and SSE, and lets them all go', async () => {
  const runs = await threadEventsBench(
    { name: 'gateway', child: gatewayCalls, url: gateway.url, wsUrl: gateway.wsUrl, http },
    {
      sandbox: sandboxCalls(),
      apiKey: SANDBOX_API_KEY,
      subscribers: [5],
      events: 2,
      transports: ['ws', 'sse'],
      fdLimit: Number.POSITIVE_INFINITY,
    },
  );
  expect(runs.map((r) => r.transport)).toEqual(['ws', 'sse']);
  for (const r of runs) {
    expect(r).toMatchObject({
      subscribers: 5,
      subscribed: 5,
      ready: 5,
      events: 2,
      delivered: 10,
      expected: 10,
      duplicates: 0,
      errors: 0,
    });
    expect(r.latency.n).toBe(10);
  }
  const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
  expect(metrics).toMatch(/^switchboard_thread_event_subscribers 0$/m);
});
