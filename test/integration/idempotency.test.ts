import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { startEmbedded, type Embedded } from '../../src/sandbox/embedded';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { randomPrefix, REDIS_URL, redisClients } from '../utils/redis';
import { redisAnswers, startThrowawayRedis, stopRedis, type ThrowawayRedis } from '../utils/redis-global-setup';
import { eventually, waitFor } from '../utils/wait';

/**
 * Idempotent mutations end to end: many concurrent sendMessage (and createConversation) calls with one
 * idempotencyKey create exactly one upstream object, counted in the emulator's request log, and all get the
 * same answer; in memory on one instance, and through Redis across two instances.
 */
const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id content sentAt direction conversation { id } } }`;
const CREATE = `mutation($input: CreateConversationInput!) { createConversation(input: $input) { id nativeId createdAt participants { id } } }`;

type Gql = TestGateway['gql'];

async function firstConversation(gql: Gql, source: string) {
  const r = await gql<{
    conversations: { edges: Array<{ node: { id: string; participants: Array<{ id: string; kind: string }> } }> };
  }>(
    `query($s: [ID!]) { conversations(first: 1, filter: { sources: $s }) { edges { node { id participants { id kind } } } } }`,
    { s: [source] },
  );
  return r.body.data!.conversations.edges[0]!.node;
}

const posts = (embedded: Embedded, source: string, path: RegExp) =>
  embedded.sandbox.emulators
    .get(source)!
    .requests()
    .filter((r) => r.method === 'POST' && path.test(r.path));

async function sendFifty(gqls: Gql[], conversationId: string, key: string) {
  return Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      gqls[i % gqls.length]!(SEND, { input: { conversationId, content: 'Booked for Saturday!', idempotencyKey: key } }),
    ),
  );
}

describe('idempotent mutations on one instance (in memory)', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['PIXIESET', 'PROTOCOL'] });
  });
  afterAll(async () => {
    await t.close();
  });

  it('50 concurrent sendMessage with one key: exactly one upstream POST and 50 identical results', async () => {
    const conv = await firstConversation(t.gql, 'pixieset');
    t.embedded.sandbox.emulators.get('pixieset')!.clearRequests();
    const results = await sendFifty([t.gql], conv.id, `send-${randomUUID()}`);
    expect(posts(t.embedded, 'pixieset', /messages/)).toHaveLength(1);
    for (const r of results) {
      expect(r.body.errors).toBeUndefined();
      expect(r.body).toEqual(results[0]!.body);
    }
    expect(results[0]!.body.data).toMatchObject({
      sendMessage: { content: 'Booked for Saturday!', conversation: { id: conv.id } },
    });
  });

  it('refuses the same key with other input, and lets a failed send be retried with the same key', async () => {
    const conv = await firstConversation(t.gql, 'pixieset');
    const px = t.embedded.sandbox.emulators.get('pixieset')!;
    const key = `send-${randomUUID()}`;
    await t.gql(SEND, { input: { conversationId: conv.id, content: 'one', idempotencyKey: key } });
    const other = await t.gql(SEND, { input: { conversationId: conv.id, content: 'two', idempotencyKey: key } });
    expect(other.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'idempotencyKey' });

    const retryKey = `send-${randomUUID()}`;
    px.setFaults({ errorRate: 1 });
    const failed = await t.gql(SEND, {
      input: { conversationId: conv.id, content: 'three', idempotencyKey: retryKey },
    });
    expect(failed.body.errors?.[0]?.extensions).toMatchObject({ code: 'SOURCE_UNAVAILABLE', source: 'pixieset' });
    px.setFaults({});
    px.clearRequests();
    const retried = await t.gql(SEND, {
      input: { conversationId: conv.id, content: 'three', idempotencyKey: retryKey },
    });
    expect(retried.body.errors).toBeUndefined();
    expect(posts(t.embedded, 'pixieset', /messages/)).toHaveLength(1);
  });
});

describe('idempotent mutations across two instances sharing Redis', () => {
  let embedded: Embedded;
  let a: TestGateway;
  let b: TestGateway;
  const keyPrefix = randomPrefix('idem');
  const clients = redisClients();
  beforeAll(async () => {
    embedded = await startEmbedded({ port: 0, kinds: ['PIXIESET', 'PROTOCOL'] });
    const configure = (c: TestGateway['embedded']['config']) => ({ ...c, redis: { url: REDIS_URL, keyPrefix } });
    a = await startTestGateway({ embedded, configure });
    b = await startTestGateway({ embedded, configure });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await embedded.sandbox.close();
    await clients.closeAll(keyPrefix);
  });

  it('50 concurrent sendMessage with one key, split over both: exactly one upstream POST and 50 identical results', async () => {
    const conv = await firstConversation(a.gql, 'pixieset');
    embedded.sandbox.emulators.get('pixieset')!.clearRequests();
    const key = `send-${randomUUID()}`;
    const results = await sendFifty([a.gql, b.gql], conv.id, key);
    expect(posts(embedded, 'pixieset', /messages/)).toHaveLength(1);
    for (const r of results) {
      expect(r.body.errors).toBeUndefined();
      expect(r.body).toEqual(results[0]!.body);
    }
    // A retry a minute later on either instance still gets the first answer.
    const later = await b.gql(SEND, {
      input: { conversationId: conv.id, content: 'Booked for Saturday!', idempotencyKey: key },
    });
    expect(later.body).toEqual(results[0]!.body);
    expect(posts(embedded, 'pixieset', /messages/)).toHaveLength(1);
  });

  it('20 concurrent createConversation with one key, split over both: one conversation created, one answer', async () => {
    const conv = await firstConversation(a.gql, 'protocol');
    const contact = conv.participants.find((p) => p.kind === 'CONTACT')!;
    embedded.sandbox.emulators.get('protocol')!.clearRequests();
    const key = `create-${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).gql(CREATE, {
          input: { sourceId: 'protocol', participantIds: [contact.id], content: 'Welcome!', idempotencyKey: key },
        }),
      ),
    );
    expect(posts(embedded, 'protocol', /\/conversations$/)).toHaveLength(1);
    for (const r of results) {
      expect(r.body.errors).toBeUndefined();
      expect(r.body).toEqual(results[0]!.body);
    }
  });
});

const codes = (errors: Array<{ extensions?: Record<string, unknown> }> | undefined) =>
  (errors ?? []).map((e) => e.extensions?.code);

describe('idempotent mutations while Redis is down (issue 12 item 2)', () => {
  let redis: ThrowawayRedis;
  let t: TestGateway;
  beforeAll(async () => {
    redis = await startThrowawayRedis();
    t = await startTestGateway({
      kinds: ['PIXIESET'],
      configure: (c) => ({ ...c, redis: { url: redis.url, keyPrefix: randomPrefix('idem-outage') } }),
    });
  }, 30_000);
  afterAll(async () => {
    await t?.close();
    if (redis) await stopRedis(redis);
  });

  it('a keyed send is refused with IDEMPOTENCY_UNAVAILABLE (HTTP 200, retryable, nothing sent); unkeyed sends work; keys work again after Redis returns', async () => {
    const conv = await firstConversation(t.gql, 'pixieset');
    const px = t.embedded.sandbox.emulators.get('pixieset')!;
    const exited = new Promise<void>((resolve) => redis.child.once('exit', () => resolve()));
    redis.child.kill('SIGKILL');
    await exited;
    px.clearRequests();

    const key = `send-${randomUUID()}`;
    const refused = await t.gql(SEND, {
      input: { conversationId: conv.id, content: 'During the outage', idempotencyKey: key },
    });
    expect(refused.status).toBe(200);
    expect(refused.body.data?.sendMessage ?? null).toBeNull();
    expect(refused.body.errors?.find((e) => e.extensions?.code !== 'REDIS_UNAVAILABLE')?.extensions).toMatchObject({
      code: 'IDEMPOTENCY_UNAVAILABLE',
      retryable: true,
      retryAfter: expect.any(Number),
    });
    expect(posts(t.embedded, 'pixieset', /messages/)).toHaveLength(0);
    const unkeyed = await t.gql(SEND, { input: { conversationId: conv.id, content: 'No key, no Redis needed' } });
    // Beside a REDIS_UNAVAILABLE warning (README "Redis outage"), nothing else.
    expect(codes(unkeyed.body.errors)).toEqual(codes(unkeyed.body.errors).filter((c) => c === 'REDIS_UNAVAILABLE'));
    expect(unkeyed.body.data).toMatchObject({ sendMessage: { content: 'No key, no Redis needed' } });
    expect(posts(t.embedded, 'pixieset', /messages/)).toHaveLength(1);

    // Redis returns on the same port: the same key now sends, once.
    const port = new URL(redis.url).port;
    redis = {
      ...redis,
      child: spawn(
        'redis-server',
        ['--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redis.dir],
        {
          stdio: 'ignore',
        },
      ),
    };
    await waitFor(() => redisAnswers(redis.url, 500), { timeoutMs: 10_000, what: 'redis-server to restart' });
    const again = await eventually(
      async () => {
        const r = await t.gql(SEND, {
          input: { conversationId: conv.id, content: 'During the outage', idempotencyKey: key },
        });
        expect(codes(r.body.errors)).not.toContain('IDEMPOTENCY_UNAVAILABLE');
        expect(r.body.data).toMatchObject({ sendMessage: { content: 'During the outage' } });
        return r;
      },
      { timeoutMs: 15_000, everyMs: 200, what: 'a keyed send to succeed once Redis is back' },
    );
    const repeat = await t.gql(SEND, {
      input: { conversationId: conv.id, content: 'During the outage', idempotencyKey: key },
    });
    expect(repeat.body.data).toEqual(again.body.data);
    expect(posts(t.embedded, 'pixieset', /messages/)).toHaveLength(2);
  }, 60_000);
});
