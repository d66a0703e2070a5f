import { startDemoTraffic } from '../../src/sandbox/demo';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { createWsClient, subscribe } from '../utils/ws';
import { eventually } from './helpers';

/** Demo mode: simulated clients write through the control API, the emulators webhook or get polled, badges tick. */
describe('demo traffic', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({
      configure: (c) => ({ ...c, sources: c.sources.map((s) => ({ ...s, pollIntervalMs: 300 })) }),
    });
  });
  afterAll(() => t.close());

  it('makes an unread badge subscription tick, through webhooks and polls, until stopped', async () => {
    const client = createWsClient(t.wsUrl, t.apiKey);
    const sub = subscribe<{
      unreadCountChanged: { total: number; bySource: Array<{ source: { id: string }; total: number }> };
    }>(client, `subscription { unreadCountChanged { total bySource { source { id } total } } }`);
    await sub.waitFor(1);
    const errors: unknown[] = [];
    const stop = startDemoTraffic(t.embedded.sandbox, {
      intervalMs: 40,
      readShare: 0.3,
      onError: (e) => errors.push(e),
    });
    // The badge ticks, with totals moving for several sources (webhooks for Protocol and Chatwoot, polls for Pixieset).
    const moved = (id: string) =>
      new Set(sub.values.map((v) => v.unreadCountChanged.bySource.find((s) => s.source.id === id)?.total)).size > 1;
    try {
      await sub.waitFor(4, 20_000);
      await eventually(
        () => expect(['pixieset', 'protocol', 'chatwoot'].filter(moved).length).toBeGreaterThanOrEqual(2),
        20_000,
      );
    } finally {
      await stop();
    }
    expect(errors).toEqual([]);
    // Control calls never show in the vendors' request logs (only the gateway's own calls do).
    for (const e of t.embedded.sandbox.emulators.values())
      expect(e.requests().every((r) => !r.path.startsWith('/__sandbox'))).toBe(true);
    sub.dispose();
    await client.dispose();
  });
});
