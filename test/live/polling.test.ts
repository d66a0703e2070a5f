import { createMonicaConnector } from '../../src/connectors/monica';
import { diffMonica, monicaMinPollIntervalMs, monicaPollCost } from '../../src/connectors/monica/poll';
import { createPixiesetConnector, PIXIESET_CAPABILITIES } from '../../src/connectors/pixieset';
import { diffPixieset, pixiesetSnapshot } from '../../src/connectors/pixieset/poll';
import type { PixiesetConversationDto } from '../../src/connectors/pixieset/types';
import type { Connector, ConversationModel, SourceChange } from '../../src/connectors/types';
import { ErrorCode, GatewayError } from '../../src/errors';
import { LiveEngine } from '../../src/live/engine';
import { createInMemoryPubSub } from '../../src/live/transports/inMemory';
import type { EmulatorHandle } from '../../src/sandbox/kit/server';
import { MONICA_SANDBOX_TOKEN, startMonicaEmulator } from '../../src/sandbox/monica';
import { startPixiesetEmulator } from '../../src/sandbox/pixieset';
import { vendorConfig } from '../utils/vendors';
import { eventually } from './helpers';

/** Change detection of the POLLING sources, and the engine's poll loop (backoff, Retry-After, no overlap). */

const scope = { requestId: 'live-test-1' };
const ids = (changes: SourceChange[]) => changes.map((c) => c.conversationNativeId).sort();

describe('Pixieset change detection', () => {
  const row = (id: string, at: string | null, unread: number): PixiesetConversationDto =>
    ({ id, last_message_at: at, unread_count: unread, status: 'active', participants: [] }) as PixiesetConversationDto;
  const totals = (n: number, c: number) => ({ unread_count: n, conversations_with_unread: c });

  it('reports conversations whose last message or unread count moved, and new ones entering the page', () => {
    const prev = pixiesetSnapshot(
      totals(3, 2),
      [row('a', '2024-05-03T00:00:00Z', 2), row('b', '2024-05-02T00:00:00Z', 1), row('c', '2024-05-01T00:00:00Z', 0)],
      3,
    );
    const next = pixiesetSnapshot(
      totals(4, 3),
      [row('d', '2024-05-04T00:00:00Z', 1), row('a', '2024-05-03T00:00:00Z', 2), row('b', '2024-05-02T00:00:00Z', 0)],
      3,
    );
    // d is new at the top; b was read; a did not change; c only slid off the full page.
    expect(ids(diffPixieset('px', prev, next))).toEqual(['b', 'd']);
  });

  it('ignores a row that slid into a full page from below, and reports a totals-only change without a conversation', () => {
    const prev = pixiesetSnapshot(
      totals(5, 2),
      [row('a', '2024-05-03T00:00:00Z', 2), row('b', '2024-05-02T00:00:00Z', 3)],
      2,
    );
    const next = pixiesetSnapshot(
      totals(4, 2),
      [row('a', '2024-05-03T00:00:00Z', 2), row('c', '2024-05-01T00:00:00Z', 0)],
      2,
    );
    // b left the page... but the page was full, so it may just have moved down; c entered below a's time.
    expect(diffPixieset('px', prev, next)).toEqual([{ sourceId: 'px', conversationNativeId: null }]);
    expect(diffPixieset('px', next, next)).toEqual([]);
  });

  describe('against the emulator', () => {
    let emu: EmulatorHandle;
    let connector: Connector;
    beforeAll(async () => {
      emu = await startPixiesetEmulator({ scale: 2 });
      // The sandbox's config (test/utils/vendors.ts), polled every second, without retries (exact counts).
      connector = createPixiesetConnector(vendorConfig('PIXIESET', emu.url, { pollIntervalMs: 1000, retries: 0 }));
    });
    afterAll(() => emu.close());

    it('costs two requests a poll, sets a baseline first, then reports writes and reads', async () => {
      const poll = connector.poll!;
      emu.clearRequests();
      expect(await poll(scope)).toEqual([]);
      expect(emu.requests()).toHaveLength(2);
      expect(await poll(scope)).toEqual([]);
      const written = emu.controls.simulateIncoming({}) as { data: { conversation_id: string } };
      expect(ids(await poll(scope))).toEqual([written.data.conversation_id]);
      emu.controls.simulateRead({ conversationId: written.data.conversation_id });
      expect(ids(await poll(scope))).toEqual([written.data.conversation_id]);
      expect(await poll(scope)).toEqual([]);
      expect(emu.requests()).toHaveLength(10);
    });
  });
});

describe('Monica change detection', () => {
  const conv = (id: string, last: string | null, messageId: string | null, text = ''): ConversationModel => ({
    sourceId: 'mo',
    nativeId: id,
    subject: null,
    status: 'OPEN',
    channel: null,
    createdAt: null,
    updatedAt: new Date('2024-05-01T00:00:00Z'),
    lastMessageAt: last ? new Date(last) : null,
    unreadCount: null,
    muted: false,
    pinned: false,
    archived: false,
    labels: [],
    participants: null,
    lastMessage: messageId
      ? {
          sourceId: 'mo',
          nativeId: messageId,
          conversationNativeId: id,
          content: text,
          sentAt: null,
          readAt: null,
          direction: 'INCOMING',
          private: false,
          sender: null,
          attachments: [],
        }
      : null,
    searchText: text,
  });

  it('diffs catalog snapshots: new messages, edits, new and removed conversations', () => {
    const before = [
      conv('1', '2024-05-01', '1/10', 'hi'),
      conv('2', '2024-05-02', '2/20', 'yo'),
      conv('3', null, null),
      conv('4', '2024-05-04', '4/40', 'x'),
    ];
    const after = [
      conv('1', '2024-05-01', '1/10', 'hi'),
      conv('2', '2024-05-05', '2/21', 'yo\nnew'),
      conv('3', null, null, ''),
      conv('5', null, null),
      { ...conv('4', '2024-05-04', '4/40', 'x'), searchText: 'edited' },
    ];
    expect(ids(diffMonica('mo', before, after))).toEqual(['2', '4', '5']);
    expect(ids(diffMonica('mo', after, after.slice(1)))).toEqual(['1']);
  });

  it('keeps polls within half of the 60 requests a minute', () => {
    expect(monicaPollCost(0)).toBe(2);
    expect(monicaPollCost(100)).toBe(2);
    expect(monicaPollCost(101)).toBe(3);
    expect(monicaMinPollIntervalMs(20, 60)).toBe(4000);
    expect(monicaMinPollIntervalMs(1000, 60)).toBe(22_000);
    expect(monicaMinPollIntervalMs(1000, null)).toBe(0);
    // At that interval, a minute of polls costs at most 30 requests.
    for (const n of [1, 150, 999, 5000])
      expect((60_000 / monicaMinPollIntervalMs(n, 60)) * monicaPollCost(n)).toBeLessThanOrEqual(30);
  });

  describe('against the emulator', () => {
    let emu: EmulatorHandle;
    let connector: Connector;
    beforeAll(async () => {
      emu = await startMonicaEmulator({ scale: 6, rateLimitPerMinute: 10_000 });
      // The sandbox's config (test/utils/vendors.ts), polled every second, without retries (exact counts), and
      // allowed 1000 requests a minute.
      connector = createMonicaConnector(
        vendorConfig('MONICA', emu.url, { pollIntervalMs: 1000, retries: 0, rateLimitPerMinute: 1000 }),
      );
    });
    afterAll(() => emu.close());

    it('re-syncs the catalog in ceil(n / 100) + 1 requests a poll and reports what changed', async () => {
      const poll = connector.poll!;
      emu.clearRequests();
      expect(await poll(scope)).toEqual([]);
      const log = emu.requests();
      const list = log.filter((r) => r.path === '/api/conversations');
      const total = (await (
        await fetch(`${emu.url}/api/conversations?limit=1`, {
          headers: { authorization: `Bearer ${MONICA_SANDBOX_TOKEN}`, accept: 'application/json' },
        })
      ).json()) as { meta: { total: number } };
      expect(total.meta.total).toBeGreaterThan(100);
      expect(list).toHaveLength(Math.ceil(total.meta.total / 100));
      expect(log).toHaveLength(monicaPollCost(total.meta.total));
      expect(connector.minPollIntervalMs!()).toBe(monicaMinPollIntervalMs(total.meta.total, 1000));

      expect(await poll(scope)).toEqual([]);
      const m = emu.controls.simulateIncoming({}) as { data: { conversation: { id: number } } };
      expect(ids(await poll(scope))).toEqual([String(m.data.conversation.id)]);
      expect(await poll(scope)).toEqual([]);
    });
  });
});

describe('the engine poll loop', () => {
  const fake = (poll: () => Promise<SourceChange[]>): Connector => ({
    id: 'fake',
    kind: 'PIXIESET',
    name: 'Fake',
    capabilities: { ...PIXIESET_CAPABILITIES, unreadCounts: false },
    openSession: () => {
      throw new Error('the fake source has no sessions');
    },
    health: () => ({ status: 'UP', lastSuccessAt: null, lastFailureAt: null, lastErrorCode: null, circuit: 'CLOSED' }),
    poll,
  });
  const run = async (connector: Connector, intervalMs: number, until: () => boolean) => {
    const pubsub = createInMemoryPubSub();
    const engine = new LiveEngine({ connectors: [connector], pubsub, pollIntervalMs: () => intervalMs });
    const stop = await engine.watchConversations(['fake'], () => undefined);
    try {
      await eventually(until, 15_000, 5);
    } finally {
      await stop();
      await engine.close();
      await pubsub.close();
    }
  };

  it('runs a poller for POLLING sources with poll() or unread counts, and WEBHOOK sources with poll(), only', async () => {
    const polled: string[] = [];
    const source = (
      id: string,
      realtime: 'POLLING' | 'WEBHOOK',
      withPoll: boolean,
      unreadCounts: boolean,
    ): Connector => ({
      ...fake(async () => {
        polled.push(id);
        return [];
      }),
      id,
      capabilities: { ...PIXIESET_CAPABILITIES, realtime, unreadCounts },
      ...(withPoll ? {} : { poll: undefined }),
    });
    const connectors = [
      source('polling-poll', 'POLLING', true, false),
      source('polling-none', 'POLLING', false, false),
      source('polling-unread', 'POLLING', false, true), // no poll(): its totals are re-read every interval
      source('webhook-poll', 'WEBHOOK', true, false),
      source('webhook-none', 'WEBHOOK', false, false),
    ];
    const pubsub = createInMemoryPubSub();
    const engine = new LiveEngine({ connectors, pubsub, pollIntervalMs: () => 20 });
    const stop = await engine.watchConversations(
      connectors.map((c) => c.id),
      () => undefined,
    );
    try {
      expect(engine.activePollers().sort()).toEqual(['polling-poll', 'polling-unread', 'webhook-poll']);
      await eventually(() => polled.includes('polling-poll') && polled.includes('webhook-poll'), 5000, 5);
      await eventually(
        () => expect(engine.pollingSources().sort()).toEqual(['polling-poll', 'polling-unread', 'webhook-poll']),
        5000,
        5,
      );
    } finally {
      await stop();
      await engine.close();
      await pubsub.close();
    }
    expect(engine.activePollers()).toEqual([]);
    expect(polled.filter((id) => id.endsWith('-none'))).toEqual([]);
  });

  it('waits Retry-After when the source rate-limits, then polls at the interval again', async () => {
    const calls: number[] = [];
    const connector = fake(async () => {
      calls.push(Date.now());
      if (calls.length === 1)
        throw new GatewayError(ErrorCode.SOURCE_RATE_LIMITED, 'slow down', { source: 'fake', retryAfter: 1 });
      return [];
    });
    await run(connector, 20, () => calls.length >= 3);
    expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(995);
  });

  it('backs off exponentially (with jitter) on errors, and runs one poll at a time', async () => {
    const calls: number[] = [];
    let running = 0;
    let overlap = false;
    const connector = fake(async () => {
      calls.push(Date.now());
      overlap ||= running > 0;
      running++;
      await new Promise((r) => setTimeout(r, 30));
      running--;
      if (calls.length <= 4) throw new GatewayError(ErrorCode.SOURCE_UNAVAILABLE, 'down', { source: 'fake' });
      return [];
    });
    const interval = 20;
    await run(connector, interval, () => calls.length >= 6);
    expect(overlap).toBe(false);
    // After the k-th failure the pause is at least half of interval × 2^k (equal jitter), on top of the 30 ms poll.
    for (let k = 1; k <= 4; k++)
      expect(calls[k]! - calls[k - 1]!).toBeGreaterThanOrEqual(30 + (interval * 2 ** k) / 2 - 2);
  });
});
