import type { Config } from '../../src/config/schema';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { randomPrefix, REDIS_URL, redisClients } from '../utils/redis';
import { waitFor } from '../utils/wait';

/**
 * The response cache across two instances sharing Redis (README "Response cache", "instances"): each instance
 * keeps its own answers, and a write through one reaches the other's cache through the services' own Redis
 * transport (`conversation:<source>`), not at the end of `cache.ttlMs`, which here is far longer than the test.
 */
type Resp<T> = { body: { data?: T; errors?: unknown[] } };

const INBOX = `{ conversations(first: 5, filter: { sources: ["pixieset"] }) { nodes { id lastMessage { content } } } }`;
const SEND = `mutation ($input: SendMessageInput!) { sendMessage(input: $input) { id } }`;
type Inbox = Resp<{ conversations: { nodes: Array<{ id: string; lastMessage: { content: string } | null }> } }>;

describe('the response cache across instances', () => {
  const prefix = randomPrefix('response-cache-instances');
  const redis = redisClients();
  const configure = (c: Config): Config => ({
    ...c,
    ...(c.redis ? { redis: { ...c.redis, keyPrefix: prefix } } : {}),
    cache: { ttlMs: 600_000, responses: { enabled: true } },
  });
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    a = await startTestGateway({ kinds: ['PIXIESET'], scale: 0.3, redisUrl: REDIS_URL, configure });
    b = await startTestGateway({ redisUrl: REDIS_URL, configure, embedded: a.embedded });
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
    await redis.closeAll(prefix);
  });

  it("drops an instance's cached answers when a write goes through the other instance", async () => {
    const px = a.embedded.sandbox.emulators.get('pixieset')!;
    const first: Inbox = await b.gql(INBOX);
    expect(first.body.errors).toBeUndefined();
    const conv = first.body.data!.conversations.nodes[0]!;
    // Cached on B: the same page again costs the vendor nothing.
    px.clearRequests();
    const again: Inbox = await b.gql(INBOX);
    expect(again.body.data).toEqual(first.body.data);
    expect(px.requests()).toHaveLength(0);

    const sent: Resp<unknown> = await a.gql(SEND, {
      input: { conversationId: conv.id, content: 'response cache across instances' },
    });
    expect(sent.body.errors).toBeUndefined();
    await waitFor(
      async () => {
        const r: Inbox = await b.gql(INBOX);
        return r.body.data?.conversations.nodes.some(
          (n) => n.lastMessage?.content === 'response cache across instances',
        );
      },
      { what: "instance B's cached inbox showing the send made through A", timeoutMs: 10_000 },
    );
  });
});
