import type { Config } from '../../src/config/schema';
import { startTestGateway, tuneSources, type TestGateway } from '../utils/gateway';
import { waitFor } from '../utils/wait';

/**
 * Issue 12 item 3: `/readyz` answers from the sources' recent health and probes each source at most once per
 * `server.readinessIntervalMs`, one probe at a time, so unauthenticated callers cannot spend the gateway's
 * vendor requests or fill a slow source's request slots.
 */

const readyz = async (t: TestGateway, headers: Record<string, string> = {}) => {
  const r = await fetch(`${t.url}/readyz`, { headers });
  return { status: r.status, body: (await r.json()) as { status: string; sources: Array<Record<string, unknown>> } };
};

const withInterval =
  (ms: number, more: (c: Config) => Config = (c) => c) =>
  (c: Config): Config =>
    more({ ...c, server: { ...c.server, readinessIntervalMs: ms } });

describe('/readyz costs at most one upstream probe per source per interval (item 3)', () => {
  it('50 unauthenticated calls, 25 at once and 25 in a row, make one probe request per source', async () => {
    const t = await startTestGateway({ kinds: ['PIXIESET', 'PROTOCOL'], configure: withInterval(60_000) });
    try {
      const px = t.embedded.sandbox.emulators.get('pixieset')!;
      const pr = t.embedded.sandbox.emulators.get('protocol')!;
      // What one probe of each source costs: Pixieset one list request; Protocol its catalog's first sync.
      px.clearRequests();
      pr.clearRequests();
      const answers = await Promise.all(Array.from({ length: 25 }, () => readyz(t)));
      for (const a of answers) {
        expect(a).toEqual({
          status: 200,
          body: {
            status: 'ready',
            sources: [
              { source: 'pixieset', ready: true },
              { source: 'protocol', ready: true },
            ],
          },
        });
      }
      expect(px.requests()).toHaveLength(1);
      const protocolProbe = pr.requests().length;
      expect(protocolProbe).toBeGreaterThan(0);
      for (let i = 0; i < 25; i++) expect((await readyz(t)).status).toBe(200);
      expect(px.requests()).toHaveLength(1);
      expect(pr.requests()).toHaveLength(protocolProbe);
    } finally {
      await t.close();
    }
  });

  it('answers from recent traffic: after a real query succeeded, /readyz makes no upstream request', async () => {
    const t = await startTestGateway({ kinds: ['PIXIESET'], configure: withInterval(60_000) });
    try {
      const px = t.embedded.sandbox.emulators.get('pixieset')!;
      expect((await t.gql(`{ unreadCount { total } }`)).body.errors).toBeUndefined();
      px.clearRequests();
      for (let i = 0; i < 10; i++) expect((await readyz(t)).status).toBe(200);
      expect(px.requests()).toHaveLength(0);
    } finally {
      await t.close();
    }
  });

  it("counts a probe's upstream calls in metrics, under the request id of the /readyz that started it", async () => {
    const t = await startTestGateway({ kinds: ['PIXIESET'], configure: withInterval(60_000) });
    try {
      const px = t.embedded.sandbox.emulators.get('pixieset')!;
      px.clearRequests();
      expect((await readyz(t, { 'x-request-id': 'readyz-probe-1' })).status).toBe(200);
      const m = await t.gateway.metrics.registry.getSingleMetric('switchboard_upstream_requests_total')!.get();
      const counted = m.values.filter((v) => v.labels.source === 'pixieset').reduce((a, v) => a + v.value, 0);
      expect(px.requests()).toHaveLength(1);
      expect(counted).toBe(1);
      expect(px.requests()[0]!.headers['x-request-id']).toBe('readyz-probe-1');
    } finally {
      await t.close();
    }
  });

  it('40 concurrent /readyz against a slow source leave its request slots to a real query', async () => {
    const t = await startTestGateway({
      kinds: ['PIXIESET'],
      configure: withInterval(60_000, (c) =>
        tuneSources(c, () => ({ maxConcurrency: 2, timeoutMs: 1500, retries: 0 })),
      ),
    });
    try {
      const px = t.embedded.sandbox.emulators.get('pixieset')!;
      px.setFaults({ latencyMs: 600 });
      px.clearRequests();
      const probes = Array.from({ length: 40 }, () => readyz(t));
      await new Promise((r) => setTimeout(r, 50));
      const real = await t.gql(`{ unreadCount { total } }`);
      expect(real.body.errors).toBeUndefined();
      expect(real.body.data).toEqual({ unreadCount: { total: expect.any(Number) } });
      for (const a of await Promise.all(probes)) expect(a.status).toBe(200);
      // Exactly one probe request (the list) and the real query's one (the unread count).
      expect(
        px
          .requests()
          .map((r) => r.path)
          .sort(),
      ).toEqual(['/api/v1/conversations/', '/api/v1/conversations/unread/count']);
    } finally {
      t.embedded.sandbox.emulators.get('pixieset')!.setFaults({});
      await t.close();
    }
  });

  it('reports a source that went down within about one interval, and ready again once it answers', async () => {
    const t = await startTestGateway({ kinds: ['PIXIESET'], configure: withInterval(100) });
    try {
      const px = t.embedded.sandbox.emulators.get('pixieset')!;
      expect((await readyz(t)).status).toBe(200);
      px.setFaults({ errorRate: 1 });
      // 100 checks 50 ms apart did it before: a 10 s deadline is no shorter.
      const until = (status: number) =>
        waitFor(
          async () => {
            const r = await readyz(t);
            return r.status === status ? r : undefined;
          },
          { timeoutMs: 10_000, everyMs: 50, what: `/readyz to answer ${status}` },
        );
      expect((await until(503)).body).toEqual({
        status: 'degraded',
        sources: [{ source: 'pixieset', ready: false, code: 'SOURCE_UNAVAILABLE' }],
      });
      px.setFaults({});
      expect((await until(200)).body.status).toBe('ready');
    } finally {
      await t.close();
    }
  });
});
