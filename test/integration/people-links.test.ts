import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config/schema';
import type { ParticipantModel } from '../../src/connectors/types';
import { toGlobalId } from '../../src/schema/ids';
import { startTestGateway, type TestGateway, type TestGatewayOptions } from '../utils/gateway';
import { createLiveClient } from '../utils/liveClient';
import { randomPrefix, REDIS_URL, redisClients } from '../utils/redis';
import { waitFor } from '../utils/wait';

/**
 * Manual links through the mutations: who may call them, what they do to people, that they persist across a
 * restart (a local file; Redis, shared by instances), and that live screens hear of them.
 */
type Resp<T> = { body: { data?: T | null; errors?: Array<{ extensions?: Record<string, unknown> }> } };
const pid = (p: ParticipantModel) => toGlobalId('Participant', p.sourceId, p.nativeId);

const LINK = `mutation ($ids: [ID!]!) { linkParticipants(input: { participantIds: $ids }) {
  person { id participants { id } conversations(first: 100) { nodes { id } } } } }`;
const UNLINK = `mutation ($id: ID!) { unlinkParticipant(input: { participantId: $id }) {
  person { id participants { id } } formerPerson { id participants { id } } } }`;
const PERSON_OF = `query ($id: ID!) { node(id: $id) { ... on Participant { person { id participants { id } } } } }`;
type PersonView = { id: string; participants: Array<{ id: string }> };

const managing =
  (people: Partial<Config['people']>, redisPrefix?: string) =>
  (c: Config): Config => ({
    ...c,
    apiKeys: c.apiKeys.map((k) => (k.name === 'sandbox' ? { ...k, manageLinks: true } : k)),
    people: { defaultCountry: null, linksFile: null, ...people },
    ...(redisPrefix && c.redis ? { redis: { ...c.redis, keyPrefix: redisPrefix } } : {}),
  });

/** Two contacts of different sources with different emails (two people before any link). */
async function twoContacts(t: TestGateway): Promise<[ParticipantModel, ParticipantModel]> {
  const found: ParticipantModel[] = [];
  for (const c of t.gateway.services.connectors) {
    const s = c.openSession({ requestId: 'pick' });
    const page = await s.listConversations({ offset: 0, limit: 20, filter: {} });
    for (const x of page.items) {
      const p = (x.participants ?? (await s.loadParticipants(x))).find(
        (q) => q.kind === 'CONTACT' && q.email && !found.some((f) => f.email?.toLowerCase() === q.email?.toLowerCase()),
      );
      if (p) {
        found.push(p);
        break;
      }
    }
    if (found.length === 2) return found as [ParticipantModel, ParticipantModel];
  }
  throw new Error('no two contacts');
}

async function personOf(t: TestGateway, p: ParticipantModel): Promise<PersonView> {
  const r: Resp<{ node: { person: PersonView } }> = await t.gql(PERSON_OF, { id: pid(p) });
  expect(r.body.errors).toBeUndefined();
  return r.body.data!.node.person;
}

/** Starts a gateway, then a second one after the first stopped (a restart), over the same emulators. */
async function restartCase(
  opts: TestGatewayOptions,
  run: (t: TestGateway, again: () => Promise<TestGateway>) => Promise<void>,
) {
  const first = await startTestGateway({ seed: 5, scale: 0.3, rateLimitPerMinute: 1_000_000, ...opts });
  let second: TestGateway | null = null;
  try {
    await run(first, async () => {
      await first.gateway.close();
      second = await startTestGateway({ ...opts, embedded: first.embedded });
      return second;
    });
  } finally {
    if (second) await (second as TestGateway).close();
    else await first.gateway.close();
    await first.embedded.sandbox.close();
  }
}

describe('linkParticipants and unlinkParticipant', () => {
  it('are FORBIDDEN to keys without manageLinks, and link, unlink and persist in a local file across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'people-links-'));
    try {
      const linksFile = join(dir, 'links.json');
      await restartCase({ configure: managing({ linksFile }) }, async (t, again) => {
        const [a, b] = await twoContacts(t);
        const forbidden: Resp<unknown> = await t.gql(
          LINK,
          { ids: [pid(a), pid(b)] },
          {
            authorization: `Bearer ${t.limitedKey}`,
          },
        );
        expect(forbidden.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        const pa = await personOf(t, a);
        const pb = await personOf(t, b);
        expect(pa.id).not.toBe(pb.id);

        const r1: Resp<{ linkParticipants: { person: PersonView & { conversations: { nodes: unknown[] } } } }> =
          await t.gql(LINK, { ids: [pid(a), pid(b)] });
        expect(r1.body.errors).toBeUndefined();
        const linked = r1.body.data!.linkParticipants.person;
        expect(linked.participants.map((x) => x.id).sort()).toEqual(
          [...new Set([...pa.participants, ...pb.participants].map((x) => x.id))].sort(),
        );
        // Idempotent.
        const r2: Resp<{ linkParticipants: { person: PersonView } }> = await t.gql(LINK, { ids: [pid(b), pid(a)] });
        expect(r2.body.data!.linkParticipants.person.id).toBe(linked.id);

        const t2 = await again();
        expect((await personOf(t2, a)).id).toBe(linked.id);
        expect((await personOf(t2, b)).id).toBe(linked.id);
        const u: Resp<{ unlinkParticipant: { person: PersonView; formerPerson: PersonView | null } }> = await t2.gql(
          UNLINK,
          { id: pid(b) },
        );
        expect(u.body.errors).toBeUndefined();
        expect(u.body.data!.unlinkParticipant.person.participants.map((x) => x.id)).toEqual([pid(b)]);
        expect(u.body.data!.unlinkParticipant.formerPerson?.participants.map((x) => x.id)).not.toContain(pid(b));
        expect((await personOf(t2, a)).id).not.toBe((await personOf(t2, b)).id);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('persist in Redis, shared by instances and across a restart', async () => {
    const prefix = randomPrefix('people');
    const redis = redisClients();
    try {
      await restartCase({ redisUrl: REDIS_URL, configure: managing({}, prefix) }, async (t, again) => {
        const [a, b] = await twoContacts(t);
        const r: Resp<{ linkParticipants: { person: PersonView } }> = await t.gql(LINK, { ids: [pid(a), pid(b)] });
        expect(r.body.errors).toBeUndefined();
        const t2 = await again();
        expect((await personOf(t2, a)).id).toBe(r.body.data!.linkParticipants.person.id);
        expect((await personOf(t2, b)).id).toBe(r.body.data!.linkParticipants.person.id);
      });
    } finally {
      await redis.closeAll(prefix);
    }
  });

  it('tell conversationChanged subscribers about the person’s conversations', async () => {
    await restartCase({ configure: managing({}) }, async (t) => {
      const [a, b] = await twoContacts(t);
      const live = createLiveClient('ws', t, t.apiKey);
      try {
        const sub = live.subscribe<{ conversationChanged: { id: string } }>(
          `subscription { conversationChanged { id } }`,
        );
        let person: { conversations: { nodes: Array<{ id: string }> } } | null = null;
        // Linking is idempotent: repeat it until the subscription (being set up) hears one.
        await waitFor(
          async () => {
            const r: Resp<{ linkParticipants: { person: typeof person } }> = await t.gql(LINK, {
              ids: [pid(a), pid(b)],
            });
            person = r.body.data!.linkParticipants.person;
            return sub.values.length > 0;
          },
          { what: 'a conversationChanged after linkParticipants' },
        );
        const ids = new Set(person!.conversations.nodes.map((n) => n.id));
        expect(sub.values.every((v) => ids.has(v.conversationChanged.id))).toBe(true);
        sub.dispose();
      } finally {
        await live.close();
      }
    });
  });
});
