import { toGlobalId } from '../../src/schema/ids';
import { endpointTemplate } from '../../src/server/metrics';
import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Issue 12 item 10: upstream `endpoint` labels come from route templates, never from ids, so a tenant cannot
 * spend the metrics' label budget (64 a source, then `other`) with ids that look like words.
 */

/** 70 distinct ids in Pixieset's format (`conv_` and 12 alphanumerics) made of lowercase letters only. */
const wordIds = Array.from({ length: 70 }, (_, i) => {
  let n = i;
  let s = '';
  for (let k = 0; k < 12; k++) {
    s += String.fromCharCode(97 + (n % 26));
    n = Math.floor(n / 26) + k + 1;
  }
  return `conv_${s}`;
});

async function endpointLabels(t: TestGateway, source: string): Promise<Set<string>> {
  const m = await t.gateway.metrics.registry.getSingleMetric('switchboard_upstream_requests_total')!.get();
  return new Set(m.values.filter((v) => v.labels.source === source).map((v) => String(v.labels.endpoint)));
}

describe('upstream endpoint labels are route templates (item 10)', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['PIXIESET'] });
  });
  afterAll(async () => {
    await t.close();
  });

  it('70 lookups with word-like ids create no new endpoint label values', async () => {
    expect(new Set(wordIds).size).toBe(70);
    const px = t.embedded.sandbox.emulators.get('pixieset')!;
    // One lookup of a real conversation first: the route's own template is then known.
    const first = await t.gql<{ conversations: { edges: Array<{ node: { id: string } }> } }>(
      `{ conversations(first: 1) { edges { node { id } } } }`,
    );
    const realId = first.body.data!.conversations.edges[0]!.node.id;
    await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: realId });
    const before = await endpointLabels(t, 'pixieset');
    expect(before).toContain('/conversations/:id/');

    px.clearRequests();
    for (let i = 0; i < wordIds.length; i += 10) {
      await Promise.all(
        wordIds
          .slice(i, i + 10)
          .map((nativeId) =>
            t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: toGlobalId('Conversation', 'pixieset', nativeId) }),
          ),
      );
    }
    // Every lookup reached the vendor (exactly once each), so each could have minted a label.
    const lookups = px.requests().filter((r) => /^\/api\/v1\/conversations\/conv_[a-z]{12}\/$/.test(r.path));
    expect(lookups).toHaveLength(70);

    const after = await endpointLabels(t, 'pixieset');
    expect([...after].filter((l) => !before.has(l))).toEqual([]);
    expect(after).not.toContain('other');
  });

  it('keeps the route words of every vendor path the connectors build, and nothing an id could bring', () => {
    // Route words stay; every id position is `:id`, whatever the id looks like.
    expect(endpointTemplate('/conversations/conv_abcdefghijkl/')).toBe('/conversations/:id/');
    expect(endpointTemplate('/conversations/hello')).toBe('/conversations/:id');
    expect(endpointTemplate('/conversations/hello/messages/world')).toBe('/conversations/:id/messages/:id');
    expect(endpointTemplate('/clients/cl_abc')).toBe('/clients/:id');
    expect(endpointTemplate('/contacts/bob/conversations')).toBe('/contacts/:id/conversations');
    // Collection-level routes at an id's place are the vendors' own.
    expect(endpointTemplate('/conversations/filter')).toBe('/conversations/filter');
    expect(endpointTemplate('/conversations/unread_counts')).toBe('/conversations/unread_counts');
    expect(endpointTemplate('/conversations/unread/count')).toBe('/conversations/unread/count');
    expect(endpointTemplate('/conversation_message_attachments/upload_url')).toBe(
      '/conversation_message_attachments/upload_url',
    );
    expect(endpointTemplate('/conversations/12/update_last_seen')).toBe('/conversations/:id/update_last_seen');
    expect(endpointTemplate('/v1/contacts/words?with=x')).toBe('/v1/contacts/:id');
  });
});
