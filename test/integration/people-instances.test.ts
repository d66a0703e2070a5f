import type { Config } from '../../src/config/schema';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { randomPrefix, REDIS_URL, redisClients } from '../utils/redis';
import { waitFor } from '../utils/wait';

/**
 * The people index across two instances sharing Redis (README "People", "Across instances"): each builds its own
 * index, and a change heard by one (here its own write) reaches the other's through `conversation:<source>` on the
 * pub/sub at once, not at its 10-minute re-read.
 */
type Resp<T> = { body: { data?: T; errors?: unknown[] } };

const INBOX = `{ conversations(first: 1) { nodes { id participants { id kind person { id } } } } }`;
const PERSON = `query ($id: ID!) { person(id: $id) { id lastMessageAt conversations(first: 1) { nodes { id } } } }`;
const SEND = `mutation ($input: SendMessageInput!) { sendMessage(input: $input) { id } }`;
const CONVERSATION = `query ($id: ID!) { node(id: $id) { ... on Conversation { lastMessageAt } } }`;

describe('the people index across instances', () => {
  const prefix = randomPrefix('people-instances');
  const redis = redisClients();
  const withPrefix = (c: Config): Config => (c.redis ? { ...c, redis: { ...c.redis, keyPrefix: prefix } } : c);
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    a = await startTestGateway({
      kinds: ['PIXIESET', 'CHATWOOT'],
      scale: 0.3,
      redisUrl: REDIS_URL,
      rateLimitPerMinute: 1_000_000,
      configure: withPrefix,
    });
    b = await startTestGateway({ redisUrl: REDIS_URL, configure: withPrefix, embedded: a.embedded });
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
    await redis.closeAll(prefix);
  });

  it("shows a write through one instance in the other's people at once", async () => {
    const inbox: Resp<{
      conversations: {
        nodes: Array<{ id: string; participants: Array<{ kind: string; person: { id: string } | null }> }>;
      };
    }> = await a.gql(INBOX);
    expect(inbox.body.errors).toBeUndefined();
    const conv = inbox.body.data!.conversations.nodes[0]!;
    const personId = conv.participants.find((p) => p.kind === 'CONTACT')!.person!.id;
    type P = Resp<{ person: { lastMessageAt: string | null; conversations: { nodes: Array<{ id: string }> } } }>;
    // B builds its index now, before the write.
    const before: P = await b.gql(PERSON, { id: personId });
    expect(before.body.errors).toBeUndefined();
    const sent: Resp<unknown> = await a.gql(SEND, {
      input: { conversationId: conv.id, content: 'people across instances' },
    });
    expect(sent.body.errors).toBeUndefined();
    const now: Resp<{ node: { lastMessageAt: string } }> = await a.gql(CONVERSATION, { id: conv.id });
    const expected = now.body.data!.node.lastMessageAt;
    // The write moved the person's activity: otherwise this test could not fail.
    expect(expected).not.toBe(before.body.data!.person.lastMessageAt);
    await waitFor(
      async () => {
        const r: P = await b.gql(PERSON, { id: personId });
        return r.body.data?.person.lastMessageAt === expected;
      },
      { what: "instance B's person showing the write made through A", timeoutMs: 10_000 },
    );
  });
});
