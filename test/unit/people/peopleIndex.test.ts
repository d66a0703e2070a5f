import fc from 'fast-check';
import type { Connector, ConnectorSession, ConversationModel, ParticipantModel } from '../../../src/connectors/types';
import type { LinkState } from '../../../src/people/links';
import { loadPeople } from '../../../src/people/load';
import { comparePeople, participantKey, type PersonModel } from '../../../src/people/people';
import { LivePeopleIndex, type PeopleView } from '../../../src/people/peopleIndex';

/**
 * The people index against the from-scratch formation (load.ts `loadPeople`: every source read, `formPeople`):
 * after its first read and after every change it is told of, each view holds exactly the people, members, emails,
 * phones, conversations, activity and order that forming them again from the sources gives.
 */

/** A source in memory: a directory of contacts (details may change) and conversations naming contact ids. */
interface FakeSource {
  id: string;
  contacts: Map<string, { name: string | null; email: string | null; phone: string | null }>;
  conversations: Map<string, { members: string[]; lastMessageAt: number | null; unread: number }>;
  /** Whether the connector has listContacts (then every directory contact is listed). */
  lists: boolean;
  reads: number;
  /** When set, a listing waits for it (a read in flight). */
  gate?: Promise<void>;
}

const participant = (s: FakeSource, id: string): ParticipantModel => {
  const d = s.contacts.get(id)!;
  return {
    sourceId: s.id,
    nativeId: id,
    kind: 'CONTACT',
    avatarUrl: null,
    avatarColor: null,
    ...d,
  };
};

const agent = (s: FakeSource): ParticipantModel => ({
  sourceId: s.id,
  nativeId: 'agent',
  kind: 'AGENT',
  name: 'Agent',
  email: 'shared@agents.example',
  phone: null,
  avatarUrl: null,
  avatarColor: null,
});

function conversation(s: FakeSource, id: string): ConversationModel {
  const c = s.conversations.get(id)!;
  return {
    sourceId: s.id,
    nativeId: id,
    subject: null,
    status: 'OPEN',
    channel: null,
    createdAt: null,
    updatedAt: null,
    lastMessageAt: c.lastMessageAt === null ? null : new Date(c.lastMessageAt),
    unreadCount: c.unread,
    muted: false,
    pinned: false,
    archived: false,
    labels: [],
    // Half of them leave participants to loadParticipants.
    participants: Number(id.slice(1)) % 2 ? null : [...c.members.map((m) => participant(s, m)), agent(s)],
  };
}

function session(s: FakeSource): ConnectorSession {
  const base: Partial<ConnectorSession> = {
    listConversations: async ({ offset, limit }) => {
      s.reads++;
      await s.gate;
      const all = [...s.conversations.keys()].sort().map((id) => conversation(s, id));
      return { items: all.slice(offset, offset + limit), total: all.length };
    },
    loadConversation: (id) => Promise.resolve(s.conversations.has(id) ? conversation(s, id) : null),
    loadParticipants: (c) =>
      Promise.resolve([...(s.conversations.get(c.nativeId)?.members ?? []).map((m) => participant(s, m)), agent(s)]),
  };
  if (s.lists)
    base.listContacts = ({ after, first }) => {
      const ids = [...s.contacts.keys()].sort();
      const from = after ? Number(after) : 0;
      const next = from + first < ids.length ? String(from + first) : null;
      return Promise.resolve({ items: ids.slice(from, from + first).map((id) => participant(s, id)), next });
    };
  return base as ConnectorSession;
}

const connectorOf = (s: FakeSource) => ({ id: s.id, openSession: () => session(s) }) as unknown as Connector;
const personId = (p: PersonModel) => `${p.anchor.sourceId}:${p.anchor.nativeId}`;

/** What the brute force and the index are compared on. */
function shape(view: PeopleView) {
  return view.ordered().map(({ t, id, person }) => ({
    t,
    id,
    members: person.members.map(participantKey),
    emails: person.emails,
    phones: person.phones,
    lastMessageAt: person.lastMessageAt?.getTime() ?? null,
    conversations: person.conversations.map((c) => `${c.sourceId}/${c.nativeId}`).sort(),
    lookups: person.members.every((m) => view.personOf(participantKey(m)) === person),
  }));
}

async function bruteForce(sources: FakeSource[], links?: LinkState) {
  const formed = await loadPeople(
    sources.map((s) => ({ sourceId: s.id, session: session(s) })),
    {
      defaultCountry: 'US',
      links,
      onSourceError: (e) => {
        throw e;
      },
    },
  );
  const view: PeopleView = {
    personOf: (k) => formed.byParticipant.get(k),
    ordered: () =>
      formed.people
        .map((person) => ({ t: person.lastMessageAt?.getTime() ?? null, id: personId(person), person }))
        .sort(comparePeople),
  };
  return shape(view);
}

const EMAILS = ['ann@x.example', 'ANN@x.example ', 'bob@x.example', 'cy@x.example', null, null];
const PHONES = ['(415) 555-0100', '+1 415 555 0100', '+44 20 7946 0000', null, null, null];

const details = fc.record({
  name: fc.constantFrom('Sam', null),
  email: fc.constantFrom(...EMAILS),
  phone: fc.constantFrom(...PHONES),
});

const sourceArb = (id: string) =>
  fc
    .record({
      contacts: fc.array(details, { minLength: 1, maxLength: 6 }),
      conversations: fc.array(
        fc.record({
          members: fc.array(fc.nat(5), { minLength: 1, maxLength: 2 }),
          lastMessageAt: fc.option(fc.integer({ min: 0, max: 20 }), { nil: null }),
          unread: fc.nat(3),
        }),
        { maxLength: 6 },
      ),
      lists: fc.boolean(),
    })
    .map(({ contacts, conversations, lists }): FakeSource => ({
      id,
      contacts: new Map(contacts.map((d, i) => [`u${i}`, d])),
      conversations: new Map(
        conversations.map((c, i) => [
          `c${i}`,
          { ...c, members: [...new Set(c.members.map((m) => `u${m % contacts.length}`))] },
        ]),
      ),
      lists,
      reads: 0,
    }));

/** A change at a source, then what the live engine would report of it. */
const changeArb = fc.record({
  source: fc.nat(2),
  kind: fc.constantFrom('details', 'members', 'activity', 'remove', 'add', 'link', 'unlink'),
  a: fc.nat(9),
  b: fc.nat(9),
  d: details,
  time: fc.integer({ min: 0, max: 30 }),
  /** Reported as a change of the source that names no conversation (a full re-read). */
  unnamed: fc.boolean(),
});

describe('the people index', () => {
  it('equals the from-scratch formation after its first read and after every change, in every view', async () => {
    await fc.assert(
      fc.asyncProperty(
        sourceArb('alpha'),
        sourceArb('beta'),
        sourceArb('gamma'),
        fc.array(changeArb, { maxLength: 8 }),
        async (a, b, g, changes) => {
          const sources = [a, b, g];
          const index = new LivePeopleIndex({
            connectors: sources.map(connectorOf),
            defaultCountry: 'US',
            personId,
          });
          const pairs: Array<[string, string]> = [];
          const pins = new Set<string>();
          const links = (): LinkState => ({ edges: [...pairs], pins: new Set(pins) });
          const views = [['alpha', 'beta', 'gamma'], ['beta'], ['alpha', 'gamma']];
          const check = async () => {
            for (const ids of views) {
              const mine = sources.filter((s) => ids.includes(s.id));
              const view = await index.read(ids, links(), (e) => {
                throw e;
              });
              expect(shape(view)).toEqual(await bruteForce(mine, links()));
            }
          };
          await check();
          for (const ch of changes) {
            const s = sources[ch.source]!;
            const contactIds = [...s.contacts.keys()];
            const convIds = [...s.conversations.keys()];
            const contact = contactIds[ch.a % contactIds.length]!;
            const conv = convIds.length ? convIds[ch.b % convIds.length] : undefined;
            const named: string[] = [];
            // A listing's details are seen again only by a full read (a conversation's copy never overrides them).
            const unnamed = ch.unnamed || (s.lists && (ch.kind === 'details' || ch.kind === 'add'));
            if (ch.kind === 'details') {
              s.contacts.set(contact, ch.d);
              for (const [id, c] of s.conversations) if (c.members.includes(contact)) named.push(id);
            } else if (ch.kind === 'members' && conv) {
              const c = s.conversations.get(conv)!;
              c.members = c.members.includes(contact)
                ? c.members.filter((m) => m !== contact)
                : [...c.members, contact];
              named.push(conv);
            } else if (ch.kind === 'activity' && conv) {
              s.conversations.get(conv)!.lastMessageAt = ch.time;
              named.push(conv);
            } else if (ch.kind === 'remove' && conv) {
              s.conversations.delete(conv);
              named.push(conv);
            } else if (ch.kind === 'add') {
              const id = `c${s.conversations.size + 10 + ch.b}`;
              s.contacts.set(`n${ch.a}`, ch.d);
              s.conversations.set(id, { members: [`n${ch.a}`], lastMessageAt: ch.time, unread: 1 });
              named.push(id);
            } else if (ch.kind === 'link') {
              const other = sources[(ch.source + 1) % 3]!;
              const otherIds = [...other.contacts.keys()];
              pairs.push([`${s.id}\u0000${contact}`, `${other.id}\u0000${otherIds[ch.b % otherIds.length]!}`]);
            } else if (ch.kind === 'unlink') {
              const k = `${s.id}\u0000${contact}`;
              for (let i = pairs.length - 1; i >= 0; i--) if (pairs[i]!.includes(k)) pairs.splice(i, 1);
              pins.add(k);
            }
            if (unnamed) await index.changed(s.id, null);
            else for (const id of named) await index.changed(s.id, id);
            await index.settled();
            await check();
          }
          await index.close();
        },
      ),
      { numRuns: 150, seed: 1515 },
    );
  });

  it('follows a change event: a new email on a participant merges it with the person that has that email', async () => {
    const s: FakeSource = {
      id: 'alpha',
      contacts: new Map([
        ['u0', { name: 'Ann', email: 'ann@x.example', phone: null }],
        ['u1', { name: 'A. Lee', email: 'old@x.example', phone: null }],
      ]),
      conversations: new Map([
        ['c0', { members: ['u0'], lastMessageAt: 5, unread: 0 }],
        ['c2', { members: ['u1'], lastMessageAt: 9, unread: 2 }],
      ]),
      lists: false,
      reads: 0,
    };
    const index = new LivePeopleIndex({ connectors: [connectorOf(s)], defaultCountry: null, personId });
    const fail = (e: unknown) => {
      throw e;
    };
    const before = await index.read(['alpha'], undefined, fail);
    expect(before.ordered().map((p) => p.person.members.map((m) => m.nativeId))).toEqual([['u1'], ['u0']]);
    expect(s.reads).toBe(1);
    // The participant's email changes upstream, and the live engine hears of its conversation.
    s.contacts.set('u1', { name: 'A. Lee', email: ' Ann@X.example', phone: null });
    await index.changed('alpha', 'c2');
    const after = await index.read(['alpha'], undefined, fail);
    const [ann] = after.ordered();
    expect(after.ordered()).toHaveLength(1);
    expect(ann!.person.members.map((m) => m.nativeId)).toEqual(['u0', 'u1']);
    expect(ann!.person.lastMessageAt?.getTime()).toBe(9);
    expect(ann!.id).toBe('alpha:u0');
    // Only that conversation was read again: the source was listed once, at the first read.
    expect(s.reads).toBe(1);
    await index.close();
  });

  it('keeps a person (the same object and id) that the change does not touch', async () => {
    const s: FakeSource = {
      id: 'alpha',
      contacts: new Map([
        ['u0', { name: null, email: 'a@x.example', phone: null }],
        ['u1', { name: null, email: 'b@x.example', phone: null }],
      ]),
      conversations: new Map([
        ['c0', { members: ['u0'], lastMessageAt: 1, unread: 0 }],
        ['c2', { members: ['u1'], lastMessageAt: 2, unread: 0 }],
      ]),
      lists: false,
      reads: 0,
    };
    const index = new LivePeopleIndex({ connectors: [connectorOf(s)], defaultCountry: null, personId });
    const view = await index.read(['alpha'], undefined, () => undefined);
    const untouched = view.personOf('alpha\u0000u0');
    s.conversations.get('c2')!.lastMessageAt = 7;
    await index.changed('alpha', 'c2');
    expect(view.personOf('alpha\u0000u0')).toBe(untouched);
    expect(view.ordered().map((p) => p.id)).toEqual(['alpha:u1', 'alpha:u0']);
    await index.close();
  });

  it('re-reads a source older than maxAgeMs in the background, serving what it has meanwhile', async () => {
    let now = 0;
    const s: FakeSource = {
      id: 'alpha',
      contacts: new Map([['u0', { name: null, email: 'a@x.example', phone: null }]]),
      conversations: new Map([['c0', { members: ['u0'], lastMessageAt: 1, unread: 0 }]]),
      lists: false,
      reads: 0,
    };
    const index = new LivePeopleIndex({
      connectors: [connectorOf(s)],
      defaultCountry: null,
      personId,
      maxAgeMs: 1000,
      now: () => now,
    });
    await index.read(['alpha'], undefined, () => undefined);
    s.contacts.set('u1', { name: null, email: 'b@x.example', phone: null });
    s.conversations.set('c2', { members: ['u1'], lastMessageAt: 3, unread: 0 });
    now = 999;
    expect((await index.read(['alpha'], undefined, () => undefined)).ordered()).toHaveLength(1);
    expect(s.reads).toBe(1);
    now = 1000;
    let open = () => undefined as void;
    s.gate = new Promise((resolve) => (open = resolve));
    // Served as it was, re-read behind it.
    expect((await index.read(['alpha'], undefined, () => undefined)).ordered()).toHaveLength(1);
    expect(s.reads).toBe(2);
    open();
    await index.settled();
    expect(s.reads).toBe(2);
    expect((await index.read(['alpha'], undefined, () => undefined)).ordered()).toHaveLength(2);
    await index.close();
  });
  it('applies a change another instance announced on the pub/sub, and skips the echo of one it heard itself', async () => {
    const s: FakeSource = {
      id: 'alpha',
      contacts: new Map([
        ['u0', { name: null, email: 'a@x.example', phone: null }],
        ['u1', { name: null, email: 'b@x.example', phone: null }],
      ]),
      conversations: new Map([['c0', { members: ['u0'], lastMessageAt: 1, unread: 0 }]]),
      lists: false,
      reads: 0,
    };
    let loads = 0;
    const connector = connectorOf(s);
    const counting = {
      ...connector,
      openSession: (scope: Parameters<Connector['openSession']>[0]) => {
        const session = connector.openSession(scope);
        return {
          ...session,
          loadConversation: (id: string) => {
            loads++;
            return session.loadConversation(id);
          },
        };
      },
    } as unknown as Connector;
    const index = new LivePeopleIndex({ connectors: [counting], defaultCountry: null, personId });
    await index.read(['alpha'], undefined, () => undefined);
    // Heard here (the live engine's onChange), then its own announcement comes back: one re-read.
    s.conversations.get('c0')!.lastMessageAt = 5;
    await index.changed('alpha', 'c0');
    await index.announced('alpha', 'c0');
    expect(loads).toBe(1);
    // Heard by another instance only: its announcement is the change.
    s.conversations.set('c2', { members: ['u1'], lastMessageAt: 9, unread: 1 });
    await index.announced('alpha', 'c2');
    expect(loads).toBe(2);
    const view = await index.read(['alpha'], undefined, () => undefined);
    expect(view.ordered().map((p) => [p.id, p.t])).toEqual([
      ['alpha:u1', 9],
      ['alpha:u0', 5],
    ]);
    await index.close();
  });
});
