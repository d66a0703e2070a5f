import type { ExecutionResult } from 'graphql';
import type { Client } from 'graphql-ws';
import type { Config } from '../../src/config/schema';
import type { PubSubTransport } from '../../src/live/pubsub';
import { adjust, makeTransport, metric, TRANSPORTS } from '../live/helpers';
import { startTestGateway, tuneSources, type TestGateway } from '../utils/gateway';
import { randomPrefix, redisClients } from '../utils/redis';
import { waitFor } from '../utils/wait';
import { createWsClient } from '../utils/ws';

/**
 * Issue 12 item 15: a failing source is not "zero unread" in `unreadCountChanged`. The subscription's value
 * carries the same typed error entry as the `unreadCount` query (data and errors in one graphql-ws `next`),
 * `bySource` leaves the failing source out, and a corrected value follows once the source answers again.
 */

type Unread = {
  total: number;
  conversationsWithUnread: number;
  bySource: Array<{ source: { id: string }; total: number; conversationsWithUnread: number }>;
};
type Err = { message: string; path?: unknown; extensions?: Record<string, unknown> };

const FIELDS = `total conversationsWithUnread bySource { source { id } total conversationsWithUnread }`;

/** Every graphql-ws `next` result of one subscription, data and errors together. */
function collect(client: Client, query: string) {
  const results: Array<ExecutionResult<{ unreadCountChanged: Unread }>> = [];
  const failures: unknown[] = [];
  const dispose = client.subscribe<{ unreadCountChanged: Unread }>(
    { query },
    {
      next: (r) => results.push(r as ExecutionResult<{ unreadCountChanged: Unread }>),
      error: (e) => failures.push(e),
      complete: () => {},
    },
  );
  return { results, failures, dispose };
}

describe('unreadCountChanged with a failing source', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({
      kinds: ['PIXIESET', 'PROTOCOL'],
      // One upstream request per read, no circuit in the way, and catalogs re-read by every read (10 ms): the
      // fault alone decides.
      configure: (c) =>
        tuneSources(c, () => ({
          retries: 0,
          catalogMaxAgeMs: 10,
          circuitBreaker: { failures: 1000, halfOpenAfterMs: 10_000 },
        })),
    });
  });
  afterAll(async () => {
    await t.close();
  });

  afterEach(() => emulator('protocol').setFaults({}));

  const emulator = (name: string) => t.embedded.sandbox.emulators.get(name)!;

  it('carries the query’s typed error entry, leaves the source out of bySource, and corrects itself when the source is back', async () => {
    const px = emulator('pixieset');
    const pr = emulator('protocol');
    const pxState = px.controls.unreadState()!;
    const prState = pr.controls.unreadState()!;
    // Both sources have unread messages, so "zero" and "missing" cannot be confused.
    expect(pxState.total).toBeGreaterThan(0);
    expect(prState.total).toBeGreaterThan(0);
    pr.setFaults({ errorRate: 1 });
    pr.clearRequests();

    const query = await t.gql<{ unreadCount: Unread }>(`{ unreadCount { ${FIELDS} } }`);
    expect(query.status).toBe(200);
    // One read of protocol's totals: its conversations and its contacts, both refused.
    expect(pr.requests().map((r) => [r.path, r.status])).toEqual([
      ['/v1/conversations', 500],
      ['/v1/contacts', 500],
    ]);
    const queryErrors = query.body.errors as Err[];
    expect(queryErrors).toHaveLength(1);
    expect(queryErrors[0]!.extensions).toMatchObject({ code: 'SOURCE_UNAVAILABLE', source: 'protocol' });
    expect(query.body.data!.unreadCount.bySource.map((b) => b.source.id)).toEqual(['pixieset']);

    const client = createWsClient(t.wsUrl, t.apiKey);
    try {
      const sub = collect(client, `subscription { unreadCountChanged { ${FIELDS} } }`);
      await waitFor(() => sub.results.length >= 1, { what: 'the first unreadCountChanged value' });
      const first = sub.results[0]!;
      // Not "no unread": pixieset's totals, protocol named as missing, with the very entry the query gave.
      expect(first.data!.unreadCountChanged).toEqual({
        total: pxState.total,
        conversationsWithUnread: pxState.conversationsWithUnread,
        bySource: [{ source: { id: 'pixieset' }, ...pxState }],
      });
      expect(first.errors).toEqual(queryErrors);

      // The source answers again: the next value holds both sources and no error.
      pr.setFaults({});
      await waitFor(() => sub.results.length >= 2, { what: 'the corrected value', timeoutMs: 8000 });
      const corrected = sub.results[1]!;
      expect(corrected.errors).toBeUndefined();
      expect(corrected.data!.unreadCountChanged).toEqual({
        total: pxState.total + prState.total,
        conversationsWithUnread: pxState.conversationsWithUnread + prState.conversationsWithUnread,
        bySource: [
          { source: { id: 'pixieset' }, ...pxState },
          { source: { id: 'protocol' }, ...prState },
        ],
      });
      expect(sub.failures).toEqual([]);
      sub.dispose();
    } finally {
      await client.dispose();
    }
  });

  it('a subscription started while every source answers carries no error', async () => {
    const client = createWsClient(t.wsUrl, t.apiKey);
    try {
      const sub = collect(client, `subscription { unreadCountChanged { ${FIELDS} } }`);
      await waitFor(() => sub.results.length >= 1, { what: 'the first value' });
      expect(sub.results[0]!.errors).toBeUndefined();
      expect(sub.results[0]!.data!.unreadCountChanged.bySource.map((b) => b.source.id)).toEqual([
        'pixieset',
        'protocol',
      ]);
      sub.dispose();
    } finally {
      await client.dispose();
    }
  });

  it('corrects itself even when the source comes back with the totals recorded before it failed', async () => {
    const pr = emulator('protocol');
    const prState = pr.controls.unreadState()!;
    const client = createWsClient(t.wsUrl, t.apiKey);
    try {
      // Protocol's totals are read and recorded while it answers.
      const healthy = collect(client, `subscription { unreadCountChanged(sources: ["protocol"]) { ${FIELDS} } }`);
      await waitFor(() => healthy.results.length >= 1, { what: 'the healthy first value' });
      expect(healthy.results[0]!.data!.unreadCountChanged.total).toBe(prState.total);
      healthy.dispose();
      // Nobody watches protocol any more, so the next subscriber reads it again (not the cached totals).
      await waitFor(
        async () => /^switchboard_graphql_subscriptions_active 0$/m.test((await t.gateway.metrics.render()).body),
        { what: 'the first subscription to end' },
      );

      pr.setFaults({ errorRate: 1 });
      const sub = collect(client, `subscription { unreadCountChanged(sources: ["protocol"]) { ${FIELDS} } }`);
      await waitFor(() => sub.results.length >= 1, { what: 'the first value while failing' });
      expect(sub.results[0]!.data!.unreadCountChanged).toEqual({ total: 0, conversationsWithUnread: 0, bySource: [] });
      expect(sub.results[0]!.errors?.map((e) => e.extensions)).toEqual([
        { code: 'SOURCE_UNAVAILABLE', source: 'protocol' },
      ]);

      // Back with the very totals recorded before (nothing changed at the vendor): still a corrected value.
      pr.setFaults({});
      await waitFor(() => sub.results.length >= 2, { what: 'the corrected value', timeoutMs: 8000 });
      expect(sub.results[1]!.errors).toBeUndefined();
      expect(sub.results[1]!.data!.unreadCountChanged).toEqual({
        ...prState,
        bySource: [{ source: { id: 'protocol' }, ...prState }],
      });
      sub.dispose();
    } finally {
      await client.dispose();
    }
  });
});

/**
 * Brief D gap 3: a source that was healthy when the subscription started and fails later. Its subscribers get one
 * event carrying the source's typed error entry (the source left out of `bySource`, as in a first value), however
 * many re-reads keep failing, and the corrected value once it answers again. Over Redis, two instances share the
 * sandbox and one Redis: the instance that does not poll learns of the failure from the one that does.
 */
describe.each(TRANSPORTS)('unreadCountChanged when a healthy source starts failing (%s)', (kind) => {
  const POLL_MS = 150;
  let prefix: string;
  const gateways: TestGateway[] = [];
  const transports: PubSubTransport[] = [];
  beforeAll(async () => {
    prefix = randomPrefix('unread-fail');
    const configure = (c: Config) =>
      tuneSources(adjust({ redisPrefix: kind === 'Redis' ? prefix : null })(c), (s) => ({
        retries: 0,
        circuitBreaker: { failures: 1000, halfOpenAfterMs: 10_000 },
        ...(s.kind === 'PIXIESET' ? { pollIntervalMs: POLL_MS } : {}),
      }));
    const pubA = makeTransport(kind, prefix);
    transports.push(pubA);
    const a = await startTestGateway({ kinds: ['PIXIESET', 'PROTOCOL'], pubsub: pubA, configure });
    gateways.push(a);
    if (kind === 'Redis') {
      const pubB = makeTransport(kind, prefix);
      transports.push(pubB);
      gateways.push(await startTestGateway({ embedded: a.embedded, pubsub: pubB, configure }));
    }
  });
  afterAll(async () => {
    for (const g of gateways.reverse()) await g.close();
    await Promise.all(transports.map((p) => p.close()));
    if (kind === 'Redis') {
      const redis = redisClients();
      await redis.closeAll(prefix);
    }
  });

  it('sends the error entry once per failure episode, then the corrected value', async () => {
    const first = gateways[0]!;
    const px = first.embedded.sandbox.emulators.get('pixieset')!;
    const pr = first.embedded.sandbox.emulators.get('protocol')!;
    const pxState = px.controls.unreadState()!;
    const prState = pr.controls.unreadState()!;
    expect(pxState.total).toBeGreaterThan(0);
    const clients = gateways.map((g) => createWsClient(g.wsUrl, g.apiKey));
    try {
      const subs = clients.map((c) => collect(c, `subscription { unreadCountChanged { ${FIELDS} } }`));
      const healthy = {
        total: pxState.total + prState.total,
        conversationsWithUnread: pxState.conversationsWithUnread + prState.conversationsWithUnread,
        bySource: [
          { source: { id: 'pixieset' }, ...pxState },
          { source: { id: 'protocol' }, ...prState },
        ],
      };
      for (const sub of subs) {
        await waitFor(() => sub.results.length >= 1, { what: 'the healthy first value' });
        expect(sub.results[0]!.errors).toBeUndefined();
        expect(sub.results[0]!.data!.unreadCountChanged).toEqual(healthy);
      }
      const polled = () => gateways.find((g) => g.gateway.services.live.pollingSources().includes('pixieset'));
      const holder = await waitFor(polled, { what: 'a pixieset poller holding the lease' });
      const failedPolls = () =>
        metric(holder.url, 'switchboard_live_polls_total', { source: 'pixieset', outcome: 'error' });
      const before = await failedPolls();

      px.setFaults({ errorRate: 1 });
      // Several re-reads fail in a row: still one event per subscriber.
      await waitFor(async () => (await failedPolls()) >= before + 3, {
        what: 'three failed polls of pixieset',
        timeoutMs: 10_000,
      });
      for (const sub of subs) {
        await waitFor(() => sub.results.length >= 2, { what: 'the event saying pixieset fails' });
        expect(sub.results).toHaveLength(2);
        const failing = sub.results[1]!;
        expect(failing.errors?.map((e) => e.extensions)).toEqual([{ code: 'SOURCE_UNAVAILABLE', source: 'pixieset' }]);
        expect(failing.data!.unreadCountChanged).toEqual({
          ...prState,
          bySource: [{ source: { id: 'protocol' }, ...prState }],
        });
      }

      px.setFaults({});
      for (const sub of subs) {
        await waitFor(() => sub.results.length >= 3, { what: 'the corrected value', timeoutMs: 8000 });
        expect(sub.results[2]!.errors).toBeUndefined();
        expect(sub.results[2]!.data!.unreadCountChanged).toEqual(healthy);
        expect(sub.failures).toEqual([]);
        sub.dispose();
      }
    } finally {
      px.setFaults({});
      await Promise.all(clients.map((c) => c.dispose()));
    }
  });
});
