import { createHash } from 'node:crypto';
import type { Config } from '../../src/config/schema';
import { DEMO_NAMES } from '../../src/sandbox/demoPeople';
import { decodeGlobalId } from '../../src/schema/ids';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { createLiveClient, type LiveClient, type LiveSubscription } from '../utils/liveClient';
import { eventually } from './helpers';

/**
 * docs/live.md "Thread events": linkParticipants and unlinkParticipant publish one ConversationUpdated naming PEOPLE
 * for each conversation of the people before the change, over graphql-ws; a key that cannot see those sources hears
 * nothing of them. Uses the demo people of the default sandbox (src/sandbox/demoPeople.ts).
 */
type Event = { conversationEvents: { __typename: string; conversationId: string | null; changedFields?: string[] } };
const EVENTS = `subscription ($ids: [ID!]) { conversationEvents(conversationIds: $ids) {
  __typename conversationId ... on ConversationUpdated { changedFields } } }`;
const PERSON = `query ($q: String) { people(first: 10, search: $q) { nodes { displayName
  participants { id } conversations(first: 50) { nodes { id } } } } }`;
const LINK = `mutation ($ids: [ID!]!) { linkParticipants(input: { participantIds: $ids }) { person { participants { id } } } }`;
const UNLINK = `mutation ($id: ID!) { unlinkParticipant(input: { participantId: $id }) { person { participants { id } } } }`;
type PersonView = {
  displayName: string;
  participants: Array<{ id: string }>;
  conversations: { nodes: Array<{ id: string }> };
};

/** A key that sees Chatwoot only: Ren's link below also reaches Protocol, which it cannot see. */
const CHATWOOT_ONLY_KEY = 'people-link-events-chatwoot-only';
const managing = (c: Config): Config => ({
  ...c,
  apiKeys: [
    ...c.apiKeys.map((k) => (k.name === 'sandbox' ? { ...k, manageLinks: true } : k)),
    {
      name: 'chatwoot-only',
      sha256: createHash('sha256').update(CHATWOOT_ONLY_KEY).digest('hex'),
      sources: ['chatwoot'],
    },
  ],
});
const sourceOf = (id: string | null) => (id ? decodeGlobalId(id)?.sourceId : undefined);

describe('link events on conversationEvents', () => {
  let t: TestGateway;
  const clients: LiveClient[] = [];
  beforeAll(async () => {
    t = await startTestGateway({ configure: managing, rateLimitPerMinute: 1_000_000 });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await t.close();
  });

  async function gql<T>(query: string, variables: Record<string, unknown>, key = t.apiKey): Promise<T> {
    const r = await t.gql<T>(query, variables, { authorization: `Bearer ${key}` });
    expect(r.body.errors).toBeUndefined();
    return r.body.data as T;
  }
  const people = async (name: string) =>
    (await gql<{ people: { nodes: PersonView[] } }>(PERSON, { q: name })).people.nodes.filter(
      (p) => p.displayName === name,
    );
  /** PEOPLE events per conversation id. */
  const peopleEvents = (sub: LiveSubscription<Event>) => {
    const n = new Map<string, number>();
    for (const { conversationEvents: e } of sub.values)
      if (e.__typename === 'ConversationUpdated' && e.changedFields?.includes('PEOPLE'))
        n.set(e.conversationId as string, (n.get(e.conversationId as string) ?? 0) + 1);
    return n;
  };
  /** Repeats `probe` until `sub` has an event of `conversationId` past `from` values (it is live then). */
  async function heard(sub: LiveSubscription<Event>, conversationId: string, probe: () => Promise<unknown>) {
    const from = sub.values.length;
    await eventually(async () => {
      await probe();
      expect(sub.values.slice(from).some((v) => v.conversationEvents.conversationId === conversationId)).toBe(true);
    }, 15_000);
  }

  it('reach the subscribers of the people’s conversations once per link and once per unlink, and no other key', async () => {
    const [ren] = await people(DEMO_NAMES.ren);
    const jordanChatwoot = (await people(DEMO_NAMES.jordan)).find((p) =>
      p.participants.some((x) => sourceOf(x.id) === 'chatwoot'),
    );
    const renChatwoot = ren!.participants.find((x) => sourceOf(x.id) === 'chatwoot')!.id;
    const jordan = jordanChatwoot!.participants[0]!.id;
    const affected = [...ren!.conversations.nodes, ...jordanChatwoot!.conversations.nodes].map((c) => c.id);
    expect(new Set(affected.map(sourceOf))).toEqual(new Set(['chatwoot', 'protocol']));

    // Probes: a Chatwoot conversation of somebody else (marked read) and, for the key limited to Pixieset, a message
    // in a Pixieset conversation: each proves its subscription live and later than what came before it.
    const all = await gql<{ conversations: { nodes: Array<{ id: string }> } }>(
      `{ conversations(first: 50) { nodes { id } } }`,
      {},
    );
    const probe = all.conversations.nodes.find((c) => sourceOf(c.id) === 'chatwoot' && !affected.includes(c.id))!.id;
    const pixiesetProbe = all.conversations.nodes.find((c) => sourceOf(c.id) === 'pixieset')!.id;
    const markRead = () => gql(`mutation ($id: ID!) { markConversationRead(id: $id) { id } }`, { id: probe });
    const send = () =>
      gql(`mutation ($id: ID!) { sendMessage(input: { conversationId: $id, content: "probe" }) { id } }`, {
        id: pixiesetProbe,
      });

    const full = createLiveClient('ws', t, t.apiKey);
    const limitedClient = createLiveClient('ws', t, t.limitedKey);
    const chatwootClient = createLiveClient('ws', t, CHATWOOT_ONLY_KEY);
    clients.push(full, limitedClient, chatwootClient);
    const sub = full.subscribe<Event>(EVENTS, { ids: [...affected, probe] });
    const limited = limitedClient.subscribe<Event>(EVENTS, {});
    const chatwootOnly = chatwootClient.subscribe<Event>(EVENTS, {});
    await heard(sub, probe, markRead);
    await heard(limited, pixiesetProbe, send);
    await heard(chatwootOnly, probe, markRead);

    // Link Ren (Chatwoot and Protocol) with the Chatwoot Jordan Blake: every conversation of both, once.
    const linked = await gql<{ linkParticipants: { person: { participants: unknown[] } } }>(LINK, {
      ids: [renChatwoot, jordan],
    });
    expect(linked.linkParticipants.person.participants).toHaveLength(3);
    await eventually(() => expect([...peopleEvents(sub).keys()].sort()).toEqual([...affected].sort()));
    await heard(sub, probe, markRead);
    expect([...peopleEvents(sub).values()].every((n) => n === 1)).toBe(true);

    // Unlink Jordan again: the conversations of the person before the change (all of them), once more.
    const unlinked = await gql<{ unlinkParticipant: { person: { participants: Array<{ id: string }> } } }>(UNLINK, {
      id: jordan,
    });
    expect(unlinked.unlinkParticipant.person.participants.map((p) => p.id)).toEqual([jordan]);
    await eventually(() =>
      expect([...peopleEvents(sub).entries()].sort()).toEqual([...affected].sort().map((id) => [id, 2])),
    );
    await heard(sub, probe, markRead);
    expect([...peopleEvents(sub).entries()].sort()).toEqual([...affected].sort().map((id) => [id, 2]));

    // The key that sees Chatwoot but not Protocol heard of neither (both reached Protocol), though Ren's and
    // Jordan's Chatwoot conversations are its own; its probe after both arrived.
    await heard(chatwootOnly, probe, markRead);
    expect(peopleEvents(chatwootOnly).size).toBe(0);
    expect(chatwootOnly.errors).toEqual([]);
    chatwootOnly.dispose();

    // The key that sees only Pixieset heard nothing of them (its probe after both arrived).
    await heard(limited, pixiesetProbe, send);
    expect(peopleEvents(limited).size).toBe(0);
    expect(limited.values.every((v) => sourceOf(v.conversationEvents.conversationId) === 'pixieset')).toBe(true);
    expect(sub.errors).toEqual([]);
    expect(limited.errors).toEqual([]);
    sub.dispose();
    limited.dispose();
  });
});
