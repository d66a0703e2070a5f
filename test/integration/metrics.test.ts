import { Writable } from 'node:stream';
import { register as globalRegister } from 'prom-client';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { signProtocolWebhook } from '../../src/connectors/protocol/webhook';
import { startEmbedded, SANDBOX_API_KEY, SANDBOX_LIMITED_KEY, type Embedded } from '../../src/sandbox/embedded';
import { PIXIESET_SANDBOX_CREDENTIALS } from '../../src/sandbox/pixieset';
import { PROTOCOL_SANDBOX_TOKEN, PROTOCOL_SANDBOX_WEBHOOK_SECRET } from '../../src/sandbox/protocol';
import { createGateway, type Gateway } from '../../src/server/createGateway';
import { createLogger } from '../../src/server/logger';
import { endpointTemplate } from '../../src/server/metrics';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { eventually } from '../utils/wait';
import { createWsClient, subscribe } from '../utils/ws';

/**
 * Observability: `GET /metrics` (Prometheus text from a registry per gateway), the request id that travels
 * from the client to the vendor, debug logs of upstream calls, and no credential in either.
 */

type Labels = Record<string, string>;
interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Labels = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the series of `name` whose labels include `labels`; 0 when there is none. */
function sum(samples: Sample[], name: string, labels: Labels = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

async function scrape(
  baseUrl: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; contentType: string; text: string; samples: Sample[] }> {
  const res = await fetch(`${baseUrl}/metrics`, { headers });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    text,
    samples: res.ok ? parseMetrics(text) : [],
  };
}

/** How long state that settles asynchronously (e.g. after a socket closes) gets, for the kit's `eventually`. */
const SETTLE = { timeoutMs: 8000, everyMs: 50 };

const CREDENTIALS = [
  SANDBOX_API_KEY,
  SANDBOX_LIMITED_KEY,
  PIXIESET_SANDBOX_CREDENTIALS.sessionCookie,
  PIXIESET_SANDBOX_CREDENTIALS.csrfToken,
  PROTOCOL_SANDBOX_TOKEN,
  PROTOCOL_SANDBOX_WEBHOOK_SECRET,
];

const PIXIESET_INBOX = `{ conversations(first: 5, filter: { sources: ["pixieset"] }) { edges { node { id nativeId subject } } } }`;

describe('endpoint templates', () => {
  it('replaces ids and numbers with :id and keeps the words of the path', () => {
    expect(endpointTemplate('/conversations')).toBe('/conversations');
    expect(endpointTemplate('/conversations/unread/count')).toBe('/conversations/unread/count');
    expect(endpointTemplate('/conversations/conv_FOREIGN000001/')).toBe('/conversations/:id/');
    expect(endpointTemplate('/conversations/WAz8eIbvDR60rouK')).toBe('/conversations/:id');
    expect(endpointTemplate('/conversations/12/toggle_status')).toBe('/conversations/:id/toggle_status');
    expect(endpointTemplate('/conversations/12/messages/345')).toBe('/conversations/:id/messages/:id');
    expect(endpointTemplate('/messages/a%3Ab')).toBe('/messages/:id');
    expect(endpointTemplate('/v1/contacts/7?with=contactfields')).toBe('/v1/contacts/:id');
  });
});

describe('metrics and request ids over the Pixieset and Protocol emulators', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['PIXIESET', 'PROTOCOL'], scale: 1 });
  });
  afterAll(async () => {
    await t.close();
  });

  it('serves Prometheus text from its own registry, not the process-wide one', async () => {
    const m = await scrape(t.url);
    expect(m.status).toBe(200);
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(m.text).toContain('# TYPE switchboard_upstream_requests_total counter');
    expect(m.text).toContain('# TYPE switchboard_upstream_request_duration_seconds histogram');
    expect(m.text).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(t.gateway.metrics.registry).not.toBe(globalRegister);
    expect(globalRegister.getSingleMetric('switchboard_upstream_requests_total')).toBeUndefined();
  });

  it('counts upstream requests by source and endpoint template after a query', async () => {
    const before = (await scrape(t.url)).samples;
    const r = await t.gql<{ conversations: { edges: Array<{ node: { id: string; nativeId: string } }> } }>(
      PIXIESET_INBOX,
      undefined,
      { 'x-upstream-stats': '1' },
    );
    expect(r.body.errors).toBeUndefined();
    const stats = r.body.extensions?.upstream as { bySource: Array<{ source: string; requests: number }> };
    const made = stats.bySource.find((s) => s.source === 'pixieset')!.requests;
    expect(made).toBeGreaterThan(0);

    const after = (await scrape(t.url)).samples;
    const delta = (name: string, labels: Labels) => sum(after, name, labels) - sum(before, name, labels);
    expect(delta('switchboard_upstream_requests_total', { source: 'pixieset' })).toBe(made);
    expect(
      delta('switchboard_upstream_requests_total', {
        source: 'pixieset',
        method: 'GET',
        endpoint: '/conversations/',
        status: '200',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      delta('switchboard_upstream_request_duration_seconds_count', { source: 'pixieset', endpoint: '/conversations/' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      delta('switchboard_graphql_operations_total', { operation: 'query', transport: 'http', outcome: 'success' }),
    ).toBe(1);
    expect(delta('switchboard_graphql_operation_duration_seconds_count', { operation: 'query' })).toBe(1);

    // A detail read goes to a path with the native id in it; the label carries the template only.
    const nativeId = r.body.data!.conversations.edges[0]!.node.nativeId;
    const detail = await t.gql(`query($id: ID!) { conversation(id: $id) { subject } }`, {
      id: r.body.data!.conversations.edges[0]!.node.id,
    });
    expect(detail.body.errors).toBeUndefined();
    const m = await scrape(t.url);
    expect(
      sum(m.samples, 'switchboard_upstream_requests_total', { source: 'pixieset', endpoint: '/conversations/:id/' }),
    ).toBeGreaterThanOrEqual(1);
    expect(m.text).not.toContain(nativeId);
  });

  it('counts errors by code', async () => {
    const before = (await scrape(t.url)).samples;
    const r = await t.gql(`{ conversations(first: 101) { totalCount } }`);
    expect(r.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const unauthorized = await t.gql(`{ sources { id } }`, undefined, { authorization: 'Bearer wrong' });
    expect(unauthorized.status).toBe(401);
    const after = (await scrape(t.url)).samples;
    expect(
      sum(after, 'switchboard_errors_total', { code: 'BAD_USER_INPUT' }) -
        sum(before, 'switchboard_errors_total', { code: 'BAD_USER_INPUT' }),
    ).toBe(1);
    expect(
      sum(after, 'switchboard_errors_total', { code: 'UNAUTHENTICATED' }) -
        sum(before, 'switchboard_errors_total', { code: 'UNAUTHENTICATED' }),
    ).toBe(1);
    expect(
      sum(after, 'switchboard_graphql_operations_total', { operation: 'query', outcome: 'error' }) -
        sum(before, 'switchboard_graphql_operations_total', { operation: 'query', outcome: 'error' }),
    ).toBe(1);
  });

  it('counts the upstream calls of /readyz, made outside any GraphQL operation, under its request id', async () => {
    const px = t.embedded.sandbox.emulators.get('pixieset')!;
    px.clearRequests();
    const before = sum((await scrape(t.url)).samples, 'switchboard_upstream_requests_total', { source: 'pixieset' });
    const res = await fetch(`${t.url}/readyz`, { headers: { 'x-request-id': 'readyz-probe-1' } });
    expect(res.status).toBe(200);
    const after = sum((await scrape(t.url)).samples, 'switchboard_upstream_requests_total', { source: 'pixieset' });
    expect(after - before).toBe(px.requests().length);
    // /readyz answers from recent health and probes at most once per interval (issue 12 item 3): after this
    // suite's traffic it may make no call at all; harden-readiness.test.ts shows a probe's calls counted.
    expect(px.requests().length).toBeLessThanOrEqual(1);
    expect(px.requests().every((e) => e.headers['x-request-id'] === 'readyz-probe-1')).toBe(true);
  });

  it("sends the client's X-Request-Id to the vendor, and a generated one when the client sent none", async () => {
    const px = t.embedded.sandbox.emulators.get('pixieset')!;
    px.clearRequests();
    const r = await t.gql(PIXIESET_INBOX, undefined, { 'x-request-id': 'client-req-42' });
    expect(r.headers.get('x-request-id')).toBe('client-req-42');
    expect(px.requests().length).toBeGreaterThan(0);
    expect(px.requests().map((e) => e.headers['x-request-id'])).toEqual(px.requests().map(() => 'client-req-42'));

    px.clearRequests();
    const generated = await t.gql(PIXIESET_INBOX, undefined, { 'x-request-id': 'not a valid id!' });
    const id = generated.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(px.requests().length).toBeGreaterThan(0);
    expect(px.requests().every((e) => e.headers['x-request-id'] === id)).toBe(true);
  });

  it('shows open subscriptions and their polls, and drops each one after dispose', async () => {
    const unreadCalls = (s: Sample[]) =>
      sum(s, 'switchboard_upstream_requests_total', { source: 'pixieset', endpoint: '/conversations/unread/count' });
    const active = async () => sum((await scrape(t.url)).samples, 'switchboard_graphql_subscriptions_active');
    const before = (await scrape(t.url)).samples;
    expect(sum(before, 'switchboard_graphql_subscriptions_active')).toBe(0);

    const client = createWsClient(t.wsUrl, t.apiKey);
    const first = subscribe<{ unreadCountChanged: { total: number } }>(
      client,
      `subscription { unreadCountChanged(sources: ["pixieset"]) { total } }`,
    );
    const second = subscribe<{ conversationChanged: { id: string } }>(
      client,
      `subscription { conversationChanged(sources: ["pixieset"]) { id } }`,
    );
    try {
      await first.waitFor(1);
      await eventually(async () => expect(await active()).toBe(2), SETTLE);
      const open = (await scrape(t.url)).samples;
      expect(sum(open, 'switchboard_websocket_connections')).toBe(1);
      expect(
        sum(open, 'switchboard_graphql_operations_total', { operation: 'subscription', transport: 'ws' }) -
          sum(before, 'switchboard_graphql_operations_total', { operation: 'subscription', transport: 'ws' }),
      ).toBe(2);

      // The poller runs while somebody subscribes; its ticks and its upstream calls are counted too.
      await eventually(async () => {
        const now = (await scrape(t.url)).samples;
        expect(sum(now, 'switchboard_live_polls_total', { source: 'pixieset', outcome: 'ok' })).toBeGreaterThanOrEqual(
          1,
        );
        expect(unreadCalls(now) - unreadCalls(before)).toBeGreaterThanOrEqual(2); // the first value, then a poll
      }, SETTLE);

      // One ends while the connection stays open: only that one leaves the gauge.
      first.dispose();
      await eventually(async () => expect(await active()).toBe(1), SETTLE);
      expect(sum((await scrape(t.url)).samples, 'switchboard_websocket_connections')).toBe(1);
    } finally {
      first.dispose();
      second.dispose();
    }
    await eventually(async () => expect(await active()).toBe(0), SETTLE);
    await client.dispose();
    await eventually(async () => {
      expect(sum((await scrape(t.url)).samples, 'switchboard_websocket_connections')).toBe(0);
    }, SETTLE);
  });

  it('counts webhook deliveries by source and outcome', async () => {
    const before = (await scrape(t.url)).samples;
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${t.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

    const body = JSON.stringify({
      id: `evt_metrics_${Date.now()}`,
      type: 'message.created',
      payload: { id: 'm1', conversation_id: null },
    });
    const forged = await post('/webhooks/protocol', body, { 'x-protocol-signature': '00'.repeat(32) });
    expect(forged.status).toBe(403);
    const signed = { 'x-protocol-signature': signProtocolWebhook(body, PROTOCOL_SANDBOX_WEBHOOK_SECRET) };
    expect((await post('/webhooks/protocol', body, signed)).status).toBe(202);
    expect((await post('/webhooks/protocol', body, signed)).status).toBe(202); // the same event again
    expect((await post('/webhooks/no-such-source', body)).status).toBe(404);

    const after = await scrape(t.url);
    const delta = (name: string, labels: Labels) => sum(after.samples, name, labels) - sum(before, name, labels);
    expect(delta('switchboard_webhooks_received_total', { source: 'protocol', outcome: 'rejected' })).toBe(1);
    expect(delta('switchboard_webhooks_received_total', { source: 'protocol', outcome: 'accepted' })).toBe(2);
    expect(delta('switchboard_webhook_events_total', { source: 'protocol', outcome: 'new' })).toBe(1);
    expect(delta('switchboard_webhook_events_total', { source: 'protocol', outcome: 'duplicate' })).toBe(1);
    expect(delta('switchboard_webhooks_received_total', { source: '_unknown', outcome: 'unknown_source' })).toBe(1);
    expect(after.text).not.toContain('no-such-source');
  });

  it('never shows a credential in the metrics text', async () => {
    await t.gql(PIXIESET_INBOX);
    await t.gql(`{ unreadCount { total } }`);
    await fetch(`${t.url}/webhooks/protocol?token=${PROTOCOL_SANDBOX_WEBHOOK_SECRET}`, { method: 'POST', body: '{}' });
    const m = await scrape(t.url);
    expect(sum(m.samples, 'switchboard_upstream_requests_total', { source: 'protocol' })).toBeGreaterThan(0);
    for (const secret of CREDENTIALS) expect(m.text).not.toContain(secret);
    expect(m.text).not.toMatch(/bearer|cookie|authorization/i);
  });
});

describe('metrics when a source fails', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['PIXIESET'], scale: 1 });
  });
  afterAll(async () => {
    await t.close();
  });

  it('counts errors by code and shows the circuit opening and the source going down', async () => {
    const ok = await t.gql(PIXIESET_INBOX);
    expect(ok.body.errors).toBeUndefined();
    const before = (await scrape(t.url)).samples;
    expect(sum(before, 'switchboard_source_circuit_state', { source: 'pixieset' })).toBe(0);
    expect(sum(before, 'switchboard_source_health', { source: 'pixieset', status: 'UP' })).toBe(1);

    t.embedded.sandbox.emulators.get('pixieset')!.setFaults({ errorRate: 1 });
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await t.gql(PIXIESET_INBOX);
      for (const e of r.body.errors ?? []) codes.push(String(e.extensions?.code));
    }
    expect(codes).toContain('SOURCE_UNAVAILABLE');
    expect(codes).toContain('CIRCUIT_OPEN');

    const after = (await scrape(t.url)).samples;
    const delta = (name: string, labels: Labels) => sum(after, name, labels) - sum(before, name, labels);
    expect(delta('switchboard_errors_total', { code: 'SOURCE_UNAVAILABLE', source: 'pixieset' })).toBe(
      codes.filter((c) => c === 'SOURCE_UNAVAILABLE').length,
    );
    expect(delta('switchboard_errors_total', { code: 'CIRCUIT_OPEN', source: 'pixieset' })).toBe(
      codes.filter((c) => c === 'CIRCUIT_OPEN').length,
    );
    expect(
      delta('switchboard_upstream_requests_total', { source: 'pixieset', endpoint: '/conversations/', status: '500' }),
    ).toBeGreaterThanOrEqual(5);
    expect(
      delta('switchboard_upstream_errors_total', { source: 'pixieset', code: 'SOURCE_UNAVAILABLE' }),
    ).toBeGreaterThanOrEqual(5);
    expect(delta('switchboard_graphql_operations_total', { operation: 'query', outcome: 'error' })).toBe(4);
    expect(sum(after, 'switchboard_source_circuit_state', { source: 'pixieset' })).toBe(2);
    expect(sum(after, 'switchboard_source_health', { source: 'pixieset', status: 'DOWN' })).toBe(1);
    expect(sum(after, 'switchboard_source_health', { source: 'pixieset', status: 'UP' })).toBe(0);
  });
});

/** A gateway over the Pixieset and Protocol emulators with a config patch and a logger at `level`. */
async function startCustom(
  patch: (c: Config) => Config,
  level = 'info',
): Promise<{ gateway: Gateway; embedded: Embedded; logs: string[]; close(): Promise<void> }> {
  const embedded = await startEmbedded({ kinds: ['PIXIESET', 'PROTOCOL'], scale: 1, port: 0 });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  try {
    const gateway = await createGateway({
      config: patch(embedded.config),
      logger: createLogger({ level, destination }),
      production: false,
    });
    return {
      gateway,
      embedded,
      logs,
      async close() {
        await gateway.close();
        await embedded.sandbox.close();
      },
    };
  } catch (e) {
    await embedded.sandbox.close();
    throw e;
  }
}

const withMetrics =
  (metrics: { enabled: boolean; token?: string }) =>
  (c: Config): Config => ({ ...c, server: { ...c.server, metrics } });

describe('/metrics protection', () => {
  it('requires the configured bearer token and never shows it', async () => {
    const token = 'scrape-token-0123456789';
    const g = await startCustom(withMetrics({ enabled: true, token }));
    try {
      expect((await scrape(g.gateway.url)).status).toBe(401);
      expect((await scrape(g.gateway.url, { authorization: 'Bearer scrape-token-wrong-4567' })).status).toBe(401);
      expect((await scrape(g.gateway.url, { authorization: `Bearer ${SANDBOX_API_KEY}` })).status).toBe(401);
      const m = await scrape(g.gateway.url, { authorization: `Bearer ${token}` });
      expect(m.status).toBe(200);
      expect(m.text).toContain('switchboard_source_circuit_state');
      expect(m.text).not.toContain(token);
    } finally {
      await g.close();
    }
  });

  it('serves no /metrics when disabled', async () => {
    const g = await startCustom(withMetrics({ enabled: false }));
    try {
      expect((await scrape(g.gateway.url)).status).toBe(404);
    } finally {
      await g.close();
    }
  });

  it('refuses a short metrics token in the config, naming the field', () => {
    const base = {
      sources: [{ id: 'crm', kind: 'MONICA', baseUrl: 'http://127.0.0.1:1/api', credentials: { token: 'x' } }],
      apiKeys: [{ name: 'k', sha256: 'a'.repeat(64), sources: ['*'] }],
    };
    expect(() => parseConfig({ ...base, server: { metrics: { token: 'short' } } }, {})).toThrow(
      /server\.metrics\.token/,
    );
    expect(
      parseConfig(
        { ...base, server: { metrics: { token: '${METRICS_TOKEN}' } } },
        { METRICS_TOKEN: 'a-token-of-enough-length' },
      ).server.metrics,
    ).toEqual({
      enabled: true,
      token: 'a-token-of-enough-length',
    });
  });
});

describe('structured logs', () => {
  let g: Awaited<ReturnType<typeof startCustom>>;
  beforeAll(async () => {
    g = await startCustom((c) => c, 'debug');
  });
  afterAll(async () => {
    await g.close();
  });

  const lines = () =>
    g.logs.flatMap((l) => l.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, unknown>);

  it('logs each upstream call at debug level with source, method, endpoint, status, ms and the request id', async () => {
    const res = await fetch(`${g.gateway.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${SANDBOX_API_KEY}`,
        'x-request-id': 'log-req-7',
      },
      body: JSON.stringify({ query: PIXIESET_INBOX }),
    });
    expect(res.status).toBe(200);
    await res.text();
    await eventually(async () => {
      expect(lines().some((l) => l.msg === 'request' && l.requestId === 'log-req-7')).toBe(true);
    }, SETTLE);
    const calls = lines().filter((l) => l.msg === 'upstream call' && l.requestId === 'log-req-7');
    expect(calls.length).toBeGreaterThan(0);
    expect(calls[0]).toMatchObject({
      level: 20,
      source: 'pixieset',
      method: 'GET',
      endpoint: '/conversations/',
      status: 200,
    });
    expect(typeof calls[0]!.ms).toBe('number');
    expect(lines().find((l) => l.msg === 'request' && l.requestId === 'log-req-7')).toMatchObject({
      level: 30,
      method: 'POST',
      route: '/graphql',
      status: 200,
    });
  });

  it('keeps credentials and query strings out of every log line', async () => {
    await fetch(`${g.gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SANDBOX_API_KEY}` },
      body: JSON.stringify({ query: `{ unreadCount { total } conversations(first: 3) { edges { node { id } } } }` }),
    }).then((r) => r.text());
    await fetch(`${g.gateway.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SANDBOX_LIMITED_KEY}x` },
      body: '{}',
    }).then((r) => r.text());
    const forged = await fetch(`${g.gateway.url}/webhooks/protocol?token=${PROTOCOL_SANDBOX_WEBHOOK_SECRET}`, {
      method: 'POST',
      body: '{}',
    });
    expect(forged.status).toBe(403);
    await forged.text();
    await eventually(async () => {
      expect(lines().some((l) => l.msg === 'request' && l.route === '/webhooks/protocol')).toBe(true);
    }, SETTLE);
    expect(lines().some((l) => l.msg === 'upstream call' && l.source === 'protocol')).toBe(true);
    const all = g.logs.join('');
    for (const secret of CREDENTIALS) expect(all).not.toContain(secret);
  });
});
