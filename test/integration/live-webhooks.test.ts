import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from 'graphql-ws';
import { signChatwootWebhook } from '../../src/connectors/chatwoot/webhook';
import { signProtocolWebhook } from '../../src/connectors/protocol/webhook';
import { CHATWOOT_SANDBOX_WEBHOOK_SECRET } from '../../src/sandbox/chatwoot';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { createWsClient, subscribe } from '../utils/ws';
import {
  adjust,
  eventually,
  makeTransport,
  randomPrefix,
  recording,
  TRANSPORTS,
  type RecordingPubSub,
} from '../live/helpers';

/**
 * Forged and replayed webhooks publish nothing. The emulators' real deliveries are caught by a capture server
 * instead of reaching the gateway, so the test can forge them, deliver them, and deliver them again: to the same
 * instance (in memory), or to the other instance sharing Redis (event ids and Chatwoot's delivery ids are
 * remembered in Redis). The sandbox's Chatwoot signs as v4.11.2+ does and its URL carries the token too, so the
 * gateway requires both (docs/vendors/chatwoot.md "Webhooks").
 */
interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

async function startCapture(): Promise<{ url: string; deliveries: Delivery[]; close(): Promise<void> }> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      deliveries.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    deliveries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type Unread = { unreadCountChanged: { total: number; bySource: Array<{ source: { id: string }; total: number }> } };
const UNREAD = `subscription { unreadCountChanged(sources: ["protocol", "chatwoot"]) { total bySource { source { id } total } } }`;
const ROWS = `subscription { conversationChanged(sources: ["protocol", "chatwoot"]) { nativeId } }`;

describe.each(TRANSPORTS)('webhook authentication and replay over %s', (kind) => {
  let receiver: TestGateway;
  let replayTo: TestGateway;
  const pubs: RecordingPubSub[] = [];
  let capture: Awaited<ReturnType<typeof startCapture>>;
  const clients: Client[] = [];

  beforeAll(async () => {
    const prefix = randomPrefix('hooks');
    const redisPrefix = kind === 'Redis' ? prefix : null;
    const pubA = recording(makeTransport(kind, prefix));
    pubs.push(pubA);
    receiver = await startTestGateway({
      kinds: ['PROTOCOL', 'CHATWOOT'],
      pubsub: pubA,
      configure: adjust({ redisPrefix }),
    });
    if (kind === 'Redis') {
      const pubB = recording(makeTransport(kind, prefix));
      pubs.push(pubB);
      replayTo = await startTestGateway({
        embedded: receiver.embedded,
        pubsub: pubB,
        configure: adjust({ redisPrefix }),
      });
    } else {
      replayTo = receiver;
    }
    capture = await startCapture();
    receiver.embedded.sandbox.setWebhookBase(capture.url);
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
    if (replayTo !== receiver) await replayTo.close();
    await receiver.close();
    await Promise.all(pubs.map((p) => p.close()));
    await capture.close();
  });

  const published = () => pubs.reduce((n, p) => n + p.published.length, 0);
  const deliver = (
    g: TestGateway,
    d: Delivery,
    override: { headers?: Record<string, string>; body?: string; path?: string } = {},
  ) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const h of ['x-protocol-signature', 'x-chatwoot-signature', 'x-chatwoot-timestamp', 'x-chatwoot-delivery']) {
      const v = d.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    return fetch(`${g.url}${override.path ?? d.path}`, {
      method: 'POST',
      headers: { ...headers, ...override.headers },
      body: override.body ?? d.body,
    });
  };
  const nextDelivery = async (from: number, source: string) =>
    eventually(() => {
      const d = capture.deliveries.slice(from).find((x) => x.path.startsWith(`/webhooks/${source}`));
      if (!d) throw new Error(`no ${source} delivery yet`);
      return d;
    }, 5000);

  const INBOX = `{ conversations(first: 100, filter: { sources: ["chatwoot"] }) { nodes { lastMessage { content } } } }`;
  const chatwootShows = async (text: string) => {
    const r = await receiver.gql<{ conversations: { nodes: Array<{ lastMessage: { content: string } | null }> } }>(
      INBOX,
    );
    return r.body.data!.conversations.nodes.some((n) => n.lastMessage?.content === text);
  };

  it('rejects forged, stale and replayed deliveries (403) and applies an event once, publishing nothing for any of them', async () => {
    const ws = createWsClient(receiver.wsUrl, receiver.apiKey);
    clients.push(ws);
    const unread = subscribe<Unread>(ws, UNREAD);
    const rows = subscribe<{ conversationChanged: { nativeId: string } }>(ws, ROWS);
    const [first] = await unread.waitFor(1);
    const start = first!.unreadCountChanged.total;

    // Real deliveries, caught before they reach the gateway.
    const mark = capture.deliveries.length;
    const pr = receiver.embedded.sandbox.emulators.get('protocol')!;
    const cw = receiver.embedded.sandbox.emulators.get('chatwoot')!;
    pr.controls.simulateIncoming({ content: 'first' });
    const protocolEvent = await nextDelivery(mark, 'protocol');
    // A conversation the catalog holds as read: the read checks of the unread subscription's poller re-read only
    // the unread ones (src/connectors/chatwoot/poll.ts), so nothing but the webhook can show the new message.
    const read = await receiver.gql<{
      conversations: { nodes: Array<{ nativeId: string; status: string; unreadCount: number | null }> };
    }>(`{ conversations(first: 100, filter: { sources: ["chatwoot"] }) { nodes { nativeId status unreadCount } } }`);
    const quiet = read.body.data!.conversations.nodes.find((n) => n.status === 'OPEN' && n.unreadCount === 0);
    expect(quiet).toBeDefined();
    cw.controls.simulateIncoming({ conversationId: quiet!.nativeId, content: 'first' });
    const chatwootEvent = await nextDelivery(mark, 'chatwoot');
    expect(chatwootEvent.path).toContain('?token=');
    const stamp = String(chatwootEvent.headers['x-chatwoot-timestamp']);
    expect(chatwootEvent.headers['x-chatwoot-signature']).toBe(
      signChatwootWebhook(chatwootEvent.body, stamp, CHATWOOT_SANDBOX_WEBHOOK_SECRET),
    );
    expect(chatwootEvent.headers['x-chatwoot-delivery']).toMatch(/^[0-9a-f-]{36}$/);
    const resigned = (at: number, body = chatwootEvent.body, secret = CHATWOOT_SANDBOX_WEBHOOK_SECRET) => ({
      'x-chatwoot-timestamp': String(at),
      'x-chatwoot-signature': signChatwootWebhook(body, at, secret),
    });
    const now = Math.floor(Date.now() / 1000);
    expect(await chatwootShows('first')).toBe(false);

    // Forged: no signature, a wrong one, a signed body altered afterwards, a signature with another secret;
    // Chatwoot without its token or with a wrong one, unsigned, signed with another secret, with an altered body,
    // re-signed 6 minutes in the past (stale) or 10 minutes ahead, with a timestamp the signature does not cover.
    const before = published();
    const forged = [
      await deliver(receiver, protocolEvent, { headers: { 'x-protocol-signature': '' } }),
      await deliver(receiver, protocolEvent, { headers: { 'x-protocol-signature': '00'.repeat(32) } }),
      await deliver(receiver, protocolEvent, { body: protocolEvent.body.replace('first', 'forged') }),
      await deliver(receiver, protocolEvent, {
        headers: { 'x-protocol-signature': signProtocolWebhook(protocolEvent.body, 'not-the-secret') },
      }),
      await deliver(receiver, chatwootEvent, { path: '/webhooks/chatwoot' }),
      await deliver(receiver, chatwootEvent, { path: '/webhooks/chatwoot?token=wrong-token-123' }),
      await deliver(receiver, chatwootEvent, { headers: { 'x-chatwoot-signature': '', 'x-chatwoot-timestamp': '' } }),
      await deliver(receiver, chatwootEvent, { headers: resigned(now, chatwootEvent.body, 'not-the-secret') }),
      await deliver(receiver, chatwootEvent, { body: chatwootEvent.body.replace('first', 'forged') }),
      await deliver(receiver, chatwootEvent, { headers: resigned(now - 360) }),
      await deliver(receiver, chatwootEvent, { headers: resigned(now + 600) }),
      await deliver(receiver, chatwootEvent, { headers: { 'x-chatwoot-timestamp': String(Number(stamp) + 1) } }),
    ];
    expect(forged.map((r) => r.status)).toEqual(Array(12).fill(403));
    expect(published()).toBe(before);
    expect(await chatwootShows('first')).toBe(false);

    // The genuine deliveries: applied once, then replayed (to the other instance when there are two).
    const genuine = [await deliver(receiver, protocolEvent), await deliver(receiver, chatwootEvent)];
    expect(await Promise.all(genuine.map((r) => r.json()))).toEqual([
      { accepted: 1, new: 1 },
      { accepted: 1, new: 1 },
    ]);
    expect(await chatwootShows('first')).toBe(true);
    // Chatwoot caps a conversation's unread at 10, so the vendors' own state says what the total must be.
    const expected = () => pr.controls.unreadState()!.total + cw.controls.unreadState()!.total;
    expect(expected()).toBeGreaterThan(start);
    await unread.waitFor(2, 5000);
    await eventually(() => expect(unread.values.at(-1)!.unreadCountChanged.total).toBe(expected()), 5000);
    await rows.waitFor(2, 5000);
    const afterGenuine = { published: published(), unread: unread.values.length, rows: rows.values.length };

    // Protocol's repeated event id is accepted and dropped; Chatwoot's repeated delivery is refused, by its
    // X-Chatwoot-Delivery id, and with a fresh id by its signature (which does not cover the id).
    const replays = [
      await deliver(replayTo, protocolEvent),
      await deliver(receiver, protocolEvent),
      await deliver(replayTo, protocolEvent),
    ];
    expect(replays.map((r) => r.status)).toEqual([202, 202, 202]);
    expect(await Promise.all(replays.map((r) => r.json()))).toEqual(Array(3).fill({ accepted: 1, new: 0 }));
    const chatwootReplays = [
      await deliver(replayTo, chatwootEvent),
      await deliver(receiver, chatwootEvent),
      await deliver(replayTo, chatwootEvent, { headers: { 'x-chatwoot-delivery': randomUUID() } }),
    ];
    expect(chatwootReplays.map((r) => r.status)).toEqual([403, 403, 403]);
    expect(published()).toBe(afterGenuine.published);

    // A sentinel: the next real change arrives, and nothing arrived before it.
    const sentinelMark = capture.deliveries.length;
    pr.controls.simulateIncoming({ content: 'sentinel' });
    expect(await (await deliver(receiver, await nextDelivery(sentinelMark, 'protocol'))).json()).toEqual({
      accepted: 1,
      new: 1,
    });
    await unread.waitFor(afterGenuine.unread + 1, 5000);
    await rows.waitFor(afterGenuine.rows + 1, 5000);
    expect(unread.values.slice(afterGenuine.unread).map((v) => v.unreadCountChanged.total)).toEqual([expected()]);
    expect(rows.values).toHaveLength(afterGenuine.rows + 1);
  });
});
