import fc from 'fast-check';
import { createMemoryCatalogStore } from '../../src/connectors/catalog-stores/memory';
import type {
  Connector,
  ConnectorSession,
  ContactPage,
  ConversationModel,
  MessageModel,
  ParticipantModel,
} from '../../src/connectors/types';
import { toGlobalId } from '../../src/schema/ids';
import { mergedCompare } from '../../src/schema/inbox';
import { buildConnectors } from '../../src/server/connectors';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { waitFor } from '../utils/wait';

/**
 * People over the four emulators. The emulators' contacts keep their native ids (so the sources filter by them as
 * usual), and the test gives them the contact details it needs at the connector's edge: every contact a unique
 * email of its own and no phone, except the people under test.
 */
type Details = Pick<ParticipantModel, 'name' | 'email' | 'phone'>;
const key = (p: { sourceId: string; nativeId: string }) => `${p.sourceId}/${p.nativeId}`;

function rewriting(c: Connector, details: Map<string, Partial<Details>>): Connector {
  const fix = (p: ParticipantModel): ParticipantModel =>
    p.kind !== 'CONTACT'
      ? p
      : {
          ...p,
          email: `${p.sourceId}.${p.nativeId.replace(/\W/g, '_')}@test.example`,
          phone: null,
          ...details.get(key(p)),
        };
  const fixConv = (x: ConversationModel): ConversationModel => ({
    ...x,
    participants: x.participants?.map(fix) ?? null,
  });
  return new Proxy(c, {
    get(target, prop, receiver) {
      if (prop !== 'openSession') return Reflect.get(target, prop, receiver) as unknown;
      return (scope: Parameters<Connector['openSession']>[0]) => {
        const s = target.openSession(scope);
        return new Proxy(s, {
          get(st, sp, sr) {
            const v = Reflect.get(st, sp, sr) as unknown;
            if (typeof v !== 'function') return v;
            const f = v.bind(st) as (...a: unknown[]) => Promise<unknown>;
            switch (sp) {
              case 'listConversations':
                return async (...a: unknown[]) => {
                  const page = (await f(...a)) as Awaited<ReturnType<ConnectorSession['listConversations']>>;
                  return { ...page, items: page.items.map(fixConv) };
                };
              case 'loadConversation':
                return async (...a: unknown[]) => {
                  const x = (await f(...a)) as ConversationModel | null;
                  return x && fixConv(x);
                };
              case 'loadParticipants':
                return async (...a: unknown[]) => ((await f(...a)) as ParticipantModel[]).map(fix);
              case 'listContacts':
                return async (...a: unknown[]) => {
                  const page = (await f(...a)) as ContactPage;
                  return { ...page, items: page.items.map(fix) };
                };
              case 'loadParticipant':
                return async (...a: unknown[]) => {
                  const p = (await f(...a)) as ParticipantModel | null;
                  return p && fix(p);
                };
              default:
                return f;
            }
          },
        });
      };
    },
  });
}

/** Every contact of the sources' contact listings (those that have one), through the (rewritten) connectors. */
async function listed(t: TestGateway) {
  const all: ParticipantModel[] = [];
  for (const c of t.gateway.services.connectors) {
    const s = c.openSession({ requestId: 'truth' });
    if (!s.listContacts) continue;
    for (let after: string | undefined; ;) {
      const page = await s.listContacts({ after, first: 100 });
      all.push(...page.items);
      if (!page.next || !page.items.length) break;
      after = page.next;
    }
  }
  return all;
}

/** Every conversation of every source with its participants, through the (rewritten) connectors. */
async function everything(t: TestGateway) {
  const all: Array<{ c: ConversationModel; ps: ParticipantModel[] }> = [];
  for (const c of t.gateway.services.connectors) {
    const s = c.openSession({ requestId: 'truth' });
    for (let offset = 0; ; offset += 100) {
      const p = await s.listConversations({ offset, limit: 100, filter: {} });
      for (const x of p.items) all.push({ c: x, ps: x.participants ?? (await s.loadParticipants(x)) });
      if (offset + 100 >= p.total) break;
    }
  }
  return all.sort((a, b) => mergedCompare(a.c, b.c));
}

const PEOPLE = /* GraphQL */ `
  query People($first: Int, $after: String, $search: String) {
    people(first: $first, after: $after, search: $search) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        id
        displayName
        emails
        phones
        lastMessageAt
        unreadCount
        participants {
          id
        }
      }
    }
  }
`;
interface PersonView {
  id: string;
  displayName: string | null;
  emails: string[];
  phones: string[];
  lastMessageAt: string | null;
  unreadCount: number | null;
  participants: Array<{ id: string }>;
}
type Resp<T> = { body: { data?: T; errors?: Array<{ extensions?: Record<string, unknown> }> } };
const pid = (p: ParticipantModel) => toGlobalId('Participant', p.sourceId, p.nativeId);
const cid = (c: ConversationModel) => toGlobalId('Conversation', c.sourceId, c.nativeId);

async function allPeople(t: TestGateway, headers?: Record<string, string>): Promise<PersonView[]> {
  const out: PersonView[] = [];
  let after: string | null = null;
  for (;;) {
    const r: Resp<{
      people: { nodes: PersonView[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
    }> = await t.gql(PEOPLE, { first: 37, after }, headers);
    if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
    out.push(...r.body.data!.people.nodes);
    if (!r.body.data!.people.pageInfo.hasNextPage) return out;
    after = r.body.data!.people.pageInfo.endCursor;
  }
}

describe('people over four sources', () => {
  let t: TestGateway;
  let truth: Awaited<ReturnType<typeof everything>>;
  const store = createMemoryCatalogStore();
  const details = new Map<string, Partial<Details>>();
  /** Three contacts of each source, chosen once the emulators run. */
  const picked: Record<string, ParticipantModel[]> = {};

  beforeAll(async () => {
    t = await startTestGateway({
      seed: 11,
      scale: 0.5,
      rateLimitPerMinute: 1_000_000,
      configure: (c) => ({ ...c, people: { defaultCountry: 'US', linksFile: null } }),
      connectors: (config) =>
        buildConnectors(config.sources, { catalogStore: store }).map((c) => rewriting(c, details)),
    });
    const before = await everything(t);
    for (const { ps } of before)
      for (const p of ps) {
        if (p.kind !== 'CONTACT') continue;
        const list = (picked[p.sourceId] ??= []);
        if (list.length < 3 && !list.some((q) => q.nativeId === p.nativeId)) list.push(p);
      }
    const [px, cw, mo, pr] = ['pixieset', 'chatwoot', 'monica', 'protocol'].map((s) => picked[s]!);
    // Ann: one email in two letter cases, in Pixieset and Chatwoot.
    details.set(key(px![0]!), { name: 'Ann Lee', email: 'Ann@Example.com' });
    details.set(key(cw![0]!), { name: null, email: ' ann@example.com ' });
    // Pat: found only by phone, written two ways, in Protocol and Monica.
    details.set(key(pr![0]!), { name: 'Pat', email: null, phone: '(415) 555-0100' });
    details.set(key(mo![0]!), { name: 'Pat Doe', email: null, phone: '+1 415-555-0100' });
    // ... and a duplicate of Pat in Monica itself (a national number, read in the default country).
    details.set(key(mo![2]!), { name: 'P. Doe', email: null, phone: '415 555 0100' });
    // Two Sam Smiths: the same name, different people.
    details.set(key(cw![1]!), { name: 'Sam Smith', email: 'sam@one.example' });
    details.set(key(mo![1]!), { name: 'Sam Smith', email: 'sam@two.example' });
    truth = await everything(t);
  });

  afterAll(async () => {
    await t?.close();
    await store.close();
  });

  const personWith = (people: PersonView[], p: ParticipantModel) =>
    people.find((x) => x.participants.some((q) => q.id === pid(p)));

  it('merges by email (any letter case) and by phone (any writing), never by name', async () => {
    const people = await allPeople(t);
    const contacts = new Set(truth.flatMap(({ ps }) => ps.filter((p) => p.kind === 'CONTACT').map(key)));
    // Contacts of a listing that are in no conversation are people too.
    for (const p of await listed(t)) if (p.kind === 'CONTACT') contacts.add(key(p));
    // Every contact is in exactly one person; two pairs merged.
    expect(people.flatMap((p) => p.participants).length).toBe(contacts.size);
    expect(people.length).toBe(contacts.size - 3);
    const ann = personWith(people, picked.pixieset![0]!)!;
    expect(ann.participants.map((x) => x.id).sort()).toEqual(
      [pid(picked.pixieset![0]!), pid(picked.chatwoot![0]!)].sort(),
    );
    expect(ann.emails).toEqual(['ann@example.com']);
    expect(ann.displayName).toBe('Ann Lee');
    const pat = personWith(people, picked.protocol![0]!)!;
    expect(pat.participants.map((x) => x.id).sort()).toEqual(
      [pid(picked.protocol![0]!), pid(picked.monica![0]!), pid(picked.monica![2]!)].sort(),
    );
    expect(pat.phones).toEqual(['+14155550100']);
    const sam1 = personWith(people, picked.chatwoot![1]!)!;
    const sam2 = personWith(people, picked.monica![1]!)!;
    expect(sam1.id).not.toBe(sam2.id);
    expect(sam1.participants).toHaveLength(1);
    expect(sam2.participants).toHaveLength(1);
  });

  it('orders people by last activity and answers person(id), node(id) and Participant.person alike', async () => {
    const people = await allPeople(t);
    const times = people.map((p) => (p.lastMessageAt ? Date.parse(p.lastMessageAt) : -Infinity));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const ann = personWith(people, picked.chatwoot![0]!)!;
    const r = await t.gql<{
      person: { id: string };
      node: { __typename: string; id: string };
      participant: { person: { id: string } };
      agent: { person: unknown } | null;
    }>(
      `query ($id: ID!, $p: ID!) {
        person(id: $id) { id }
        node(id: $id) { __typename id }
        participant: node(id: $p) { ... on Participant { person { id } } }
      }`,
      { id: ann.id, p: pid(picked.pixieset![0]!) },
    );
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.person.id).toBe(ann.id);
    expect(r.body.data!.node).toEqual({ __typename: 'Person', id: ann.id });
    expect(r.body.data!.participant.person.id).toBe(ann.id);
    const search = await t.gql<{ people: { nodes: PersonView[] } }>(PEOPLE, { search: 'ANN@example' });
    expect(search.body.data!.people.nodes.map((p) => p.id)).toEqual([ann.id]);
  });

  it.each([
    ['Ann (two sources)', () => [picked.pixieset![0]!, picked.chatwoot![0]!]],
    ['Pat (two of them in one source)', () => [picked.protocol![0]!, picked.monica![0]!, picked.monica![2]!]],
  ])('pages %s’s conversations both ways to exactly the union of its participants’ filters', async (_n, who) => {
    const people = await allPeople(t);
    const ann = personWith(people, who()[0]!)!;
    const members = new Set(who().map(key));
    const expected = truth.filter(({ ps }) => ps.some((p) => members.has(key(p)))).map(({ c }) => cid(c));
    expect(expected.length).toBeGreaterThan(0);
    const Q = `query ($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
      person(id: $id) { conversations(first: $first, after: $after, last: $last, before: $before) {
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { id } } }
      viaFilter: conversations(first: 100, filter: { personId: $id }) { nodes { id } }
    }`;
    type R = {
      person: {
        conversations: {
          pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string; endCursor: string };
          nodes: Array<{ id: string }>;
        };
      };
      viaFilter: { nodes: Array<{ id: string }> };
    };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 }), async (sizes) => {
        const fwd: string[] = [];
        let after: string | null = null;
        for (let i = 0; ; i++) {
          const r: Resp<R> = await t.gql<R>(Q, { id: ann.id, first: sizes[i % sizes.length], after });
          expect(r.body.errors).toBeUndefined();
          const c: R['person']['conversations'] = r.body.data!.person.conversations;
          fwd.push(...c.nodes.map((n) => n.id));
          if (i === 0) expect(r.body.data!.viaFilter.nodes.map((n) => n.id)).toEqual(expected.slice(0, 100));
          if (!c.pageInfo.hasNextPage) break;
          after = c.pageInfo.endCursor;
        }
        expect(fwd).toEqual(expected);
        const back: string[] = [];
        let before: string | null = null;
        for (let i = 0; ; i++) {
          const r: Resp<R> = await t.gql<R>(Q, { id: ann.id, last: sizes[i % sizes.length], before });
          const c: R['person']['conversations'] = r.body.data!.person.conversations;
          back.unshift(...c.nodes.map((n) => n.id));
          if (!c.pageInfo.hasPreviousPage) break;
          before = c.pageInfo.startCursor;
        }
        expect(back).toEqual(expected);
      }),
      { numRuns: 4, seed: 15 },
    );
  });

  it('counts a person’s unread messages and last activity over all its sources', async () => {
    const people = await allPeople(t);
    const pat = personWith(people, picked.monica![0]!)!;
    const members = new Set([key(picked.protocol![0]!), key(picked.monica![0]!), key(picked.monica![2]!)]);
    const convs = truth.filter(({ ps }) => ps.some((p) => members.has(key(p)))).map(({ c }) => c);
    const newest = convs
      .map((c) => c.lastMessageAt?.getTime() ?? -Infinity)
      .reduce((a, b) => Math.max(a, b), -Infinity);
    expect(pat.lastMessageAt ? Date.parse(pat.lastMessageAt) : -Infinity).toBe(newest);
    const unread = await Promise.all(
      convs.map(async (c) => {
        if (c.unreadCount !== undefined) return c.unreadCount ?? 0;
        const s = t.gateway.services.connectors.find((x) => x.id === c.sourceId)!.openSession({ requestId: 'truth' });
        return (await s.loadUnreadCount?.(c)) ?? 0;
      }),
    );
    expect(pat.unreadCount).toBe(unread.reduce((a, b) => a + b, 0));
  });

  it('finds the oldest unanswered incoming message across sources, as a brute force over every message does', async () => {
    const people = await allPeople(t);
    const chosen = [...people].sort((a, b) => b.participants.length - a.participants.length).slice(0, 6);
    const keys = (p: PersonView) =>
      new Set(
        p.participants.map((x) =>
          Buffer.from(x.id, 'base64url').toString().slice('Participant:'.length).replace(':', '/'),
        ),
      );
    let nonNull = 0;
    for (const person of chosen) {
      const members = keys(person);
      let expected: number | null = null;
      for (const { c, ps } of truth) {
        if (!ps.some((p) => members.has(key(p)))) continue;
        const s = t.gateway.services.connectors.find((x) => x.id === c.sourceId)!.openSession({ requestId: 'truth' });
        const all: MessageModel[] = [];
        let after: string | null = null;
        for (;;) {
          const page = await s.listMessages(c.nativeId, { first: 100, after });
          all.push(...page.items.map((i) => i.message));
          if (!page.hasNextPage || page.items.length === 0) break;
          after = page.items[page.items.length - 1]!.cursor;
        }
        let lastAnswer = -1;
        all.forEach((m, i) => {
          if (m.direction === 'OUTGOING' && !m.private) lastAnswer = i;
        });
        const waiting = all
          .slice(lastAnswer + 1)
          .filter((m) => m.direction === 'INCOMING' && m.sentAt)
          .map((m) => m.sentAt!.getTime());
        if (waiting.length) expected = Math.min(expected ?? Infinity, ...waiting);
      }
      const r: Resp<{ person: { awaitingReplySince: string | null } }> = await t.gql(
        `query ($id: ID!) { person(id: $id) { awaitingReplySince } }`,
        { id: person.id },
      );
      expect(r.body.errors).toBeUndefined();
      const got = r.body.data!.person.awaitingReplySince;
      expect(got === null ? null : Date.parse(got)).toBe(expected);
      if (expected !== null) nonNull++;
    }
    expect(nonNull).toBeGreaterThan(0);
  });

  it('shows a key limited to one source only that source’s participants, and nothing of the others', async () => {
    const limited = t.gateway.services.connectors[0]!.id;
    const headers = { authorization: `Bearer ${t.limitedKey}` };
    const people = await allPeople(t, headers);
    for (const p of people)
      for (const q of p.participants)
        expect(Buffer.from(q.id, 'base64url').toString()).toMatch(`Participant:${limited}:`);
    const full = await allPeople(t);
    // A person anchored on a hidden source is not found by its full id, not even through node(id).
    const hidden = full.find((p) => !Buffer.from(p.id, 'base64url').toString().startsWith(`Person:${limited}:`))!;
    const r = await t.gql<{ person: unknown; node: unknown }>(
      `query ($id: ID!) { person(id: $id) { id } node(id: $id) { id } }`,
      { id: hidden.id },
      headers,
    );
    expect(r.body.data).toEqual({ person: null, node: null });
    const f = await t.gql<{ conversations: { nodes: unknown[] } }>(
      `query ($id: ID!) { conversations(filter: { personId: $id }) { nodes { id } } }`,
      { id: hidden.id },
      headers,
    );
    expect(f.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // Ann seen through the limited key: her participants and conversations in that source only.
    const own = picked[limited]![0]!;
    const ann = personWith(people, own)!;
    expect(ann.participants.map((x) => x.id)).toEqual([pid(own)]);
    const convs = await t.gql<{ person: { conversations: { nodes: Array<{ id: string }> } } }>(
      `query ($id: ID!) { person(id: $id) { conversations(first: 100) { nodes { id } } } }`,
      { id: ann.id },
      headers,
    );
    const expected = truth.filter(({ ps }) => ps.some((p) => key(p) === key(own))).map(({ c }) => cid(c));
    expect(convs.body.data!.person.conversations.nodes.map((n) => n.id)).toEqual(expected.slice(0, 100));
  });
  // Last: it changes a contact's details.
  it('follows a change event: a contact given Ann’s email upstream joins Ann once the live engine hears of its conversation', async () => {
    const cw = t.gateway.services.connectors.find((c) => c.id === 'chatwoot')!;
    const other = picked.chatwoot![2]!;
    const conv = truth.find(({ c, ps }) => c.sourceId === cw.id && ps.some((p) => key(p) === key(other)))!.c;
    const annOf = async () => personWith(await allPeople(t), picked.pixieset![0]!)!;
    const ann = await annOf();
    expect(ann.participants.map((p) => p.id)).not.toContain(pid(other));
    // Upstream, the contact now has Ann's email (in yet another letter case).
    details.set(key(other), { name: 'Ann (support)', email: 'ANN@example.com' });
    // Served from the index: nothing has said that anything changed yet.
    expect((await annOf()).participants.map((p) => p.id)).not.toContain(pid(other));
    // The contact writes: Chatwoot's message_created webhook reaches the gateway and the live engine.
    t.embedded.sandbox.emulators.get('chatwoot')!.controls.simulateIncoming({ conversationId: conv.nativeId });
    const joined = await waitFor(
      async () => {
        const p = await annOf();
        return p.participants.some((x) => x.id === pid(other)) && p;
      },
      { what: 'Ann with the Chatwoot contact that took her email', timeoutMs: 10_000 },
    );
    expect(joined.id).toBe(ann.id);
    expect(joined.participants.map((p) => p.id).sort()).toEqual(
      [pid(picked.pixieset![0]!), pid(picked.chatwoot![0]!), pid(other)].sort(),
    );
    // Her activity takes that conversation's in (the seed's own times may be later than the new message's).
    expect(Date.parse(joined.lastMessageAt!)).toBeGreaterThanOrEqual(Date.parse(ann.lastMessageAt ?? '1970-01-01'));
  });
});
