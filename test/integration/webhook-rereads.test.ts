import type { EmulatorHandle } from '../../src/sandbox/kit/server';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { eventually, sleep } from '../utils/wait';

/**
 * A webhook's re-reads belong to the live engine: the gateway applies a delivery's changes in a scope of the engine's
 * own (`live-<source>-<n>`, docs/live.md "Sessions"), so every upstream request of a re-read carries that request id
 * (and is counted in the engine's upstream metrics). Protocol sends one webhook for an incoming message, which costs
 * one GET of the conversation; Chatwoot sends two (message_created, conversation_updated), applied in one batch or
 * two depending on when they arrive, so only its request ids are asserted here (test/unit/connectors/chatwoot/
 * connector.test.ts counts the GETs of one batch).
 */
describe('webhook re-reads', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['PROTOCOL', 'CHATWOOT'] });
  });
  afterAll(async () => {
    await t.close();
  });

  const emulator = (id: string) => t.embedded.sandbox.emulators.get(id) as EmulatorHandle;
  /** The first conversation the gateway lists for a source (which syncs the source's catalog). */
  async function first(source: string): Promise<string> {
    const r = await t.gql<{ conversations: { nodes: Array<{ nativeId: string }> } }>(
      `{ conversations(first: 1, filter: { sources: ["${source}"] }) { nodes { nativeId } } }`,
    );
    return r.body.data!.conversations.nodes[0]!.nativeId;
  }

  it.each([
    ['protocol', 1, (nativeId: string) => nativeId, (id: string) => `/v1/conversations/${id}`],
    [
      'chatwoot',
      null,
      (nativeId: string) => nativeId.split(':')[1]!,
      (id: string) => `/api/v1/accounts/1/conversations/${id}`,
    ],
  ])(
    '%s: re-reads the named conversation with live-<source>-<n> request ids only',
    async (source, gets, vendorId, path) => {
      const id = vendorId(await first(source));
      const h = emulator(source);
      h.clearRequests();
      h.controls.simulateIncoming({ conversationId: id, content: `re-read ${source}` });
      const reads = await eventually(() => {
        const got = h.requests().filter((r) => r.method === 'GET' && r.path === path(id));
        expect(got.length).toBeGreaterThan(0);
        return h.requests();
      });
      expect(reads.length).toBeGreaterThan(0);
      expect(reads.filter((r) => !new RegExp(`^live-${source}-\\d+$`).test(r.headers['x-request-id'] ?? ''))).toEqual(
        [],
      );
      // Time for a second batch to show, were there one (none is expected: the count stays exact).
      await sleep(300);
      if (gets !== null)
        expect(h.requests().filter((r) => r.method === 'GET' && r.path === path(id))).toHaveLength(gets);
      expect(h.requests().filter((r) => !r.headers['x-request-id']?.startsWith(`live-${source}-`))).toEqual([]);
    },
  );
});
