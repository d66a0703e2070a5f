import type { ConversationModel, MessageModel, ParticipantModel } from '../connectors/types';
import { normalizeEmail, normalizePhone } from './normalize';
import type { LinkState } from './links';
import { UnionFind } from './unionFind';

/**
 * # People: one person across every source
 *
 * A person is a set of CONTACT participants (agents, bots and groups never belong to one). Two participants are
 * in one person when they share a normalised email or phone ({@link ./normalize.ts}), transitively (union-find over
 * participant -> keys). Names never merge people.
 *
 * People are formed per operation from the participants the API key may see (src/people/load.ts), so a key limited
 * to one source sees a person made of that source's participants only, and learns nothing of the others.
 *
 * A person's id is that of its smallest member (by source id, then native id, plain string order) as the viewer
 * sees it: stable while its members stay the same.
 */
export interface PersonModel {
  /** Marks the model for Node.__resolveType. */
  readonly __person: true;
  /** The smallest member; the person's id derives from it. */
  readonly anchor: ParticipantModel;
  /** Members in (source id, native id) order. */
  readonly members: ParticipantModel[];
  readonly emails: string[];
  readonly phones: string[];
  /** Distinct conversations of the members, in no particular order. */
  readonly conversations: ConversationModel[];
  readonly lastMessageAt: Date | null;
}

export const participantKey = (p: Pick<ParticipantModel, 'sourceId' | 'nativeId'>) =>
  `${p.sourceId}\u0000${p.nativeId}`;

const compareMembers = (a: ParticipantModel, b: ParticipantModel) =>
  a.sourceId === b.sourceId
    ? a.nativeId === b.nativeId
      ? 0
      : a.nativeId < b.nativeId
        ? -1
        : 1
    : a.sourceId < b.sourceId
      ? -1
      : 1;

export interface PeopleIndex {
  people: PersonModel[];
  /** participantKey -> person. */
  byParticipant: Map<string, PersonModel>;
}

export interface PeopleInput {
  /** Every known participant (any kind; only CONTACTs form people). A participant seen twice keeps its first model. */
  participants: ParticipantModel[];
  /** participantKey -> conversations the participant is in. */
  conversationsOf: Map<string, ConversationModel[]>;
  defaultCountry?: string | null;
  /** Manual links ({@link ./links.ts}): edges join, pins keep a participant out of the automatic rule. */
  links?: LinkState;
}

/** Forms the people of a set of participants. Pure. */
export function formPeople(input: PeopleInput): PeopleIndex {
  const byKey = new Map<string, ParticipantModel>();
  for (const p of input.participants) {
    if (p.kind !== 'CONTACT') continue;
    const k = participantKey(p);
    if (!byKey.has(k)) byKey.set(k, p);
  }
  const uf = new UnionFind();
  // The first participant seen with each email/phone key; later ones join it.
  const owner = new Map<string, string>();
  for (const [k, p] of byKey) {
    uf.add(k);
    if (input.links?.pins.has(k)) continue;
    const email = normalizeEmail(p.email);
    const phone = normalizePhone(p.phone, input.defaultCountry);
    for (const key of [email && `e:${email}`, phone && `p:${phone}`]) {
      if (!key) continue;
      const o = owner.get(key);
      if (o) uf.union(o, k);
      else owner.set(key, k);
    }
  }
  // Links whose ends the viewer sees both of; a link to a hidden participant joins nothing visible.
  for (const [a, b] of input.links?.edges ?? []) if (byKey.has(a) && byKey.has(b)) uf.union(a, b);
  const people: PersonModel[] = [];
  const byParticipant = new Map<string, PersonModel>();
  for (const group of uf.groups()) {
    const members = group.map((k) => byKey.get(k) as ParticipantModel).sort(compareMembers);
    const person = personOf(members, input.conversationsOf, input.defaultCountry);
    people.push(person);
    for (const k of group) byParticipant.set(k, person);
  }
  return { people, byParticipant };
}

function personOf(
  members: ParticipantModel[],
  conversationsOf: Map<string, ConversationModel[]>,
  defaultCountry?: string | null,
): PersonModel {
  const emails = new Set<string>();
  const phones = new Set<string>();
  const conversations = new Map<string, ConversationModel>();
  let last: Date | null = null;
  for (const m of members) {
    const e = normalizeEmail(m.email);
    if (e) emails.add(e);
    const ph = normalizePhone(m.phone, defaultCountry);
    if (ph) phones.add(ph);
    for (const c of conversationsOf.get(participantKey(m)) ?? []) {
      conversations.set(`${c.sourceId}\u0000${c.nativeId}`, c);
      if (c.lastMessageAt && (!last || c.lastMessageAt > last)) last = c.lastMessageAt;
    }
  }
  return {
    __person: true,
    anchor: members[0] as ParticipantModel,
    members,
    emails: [...emails],
    phones: [...phones],
    conversations: [...conversations.values()],
    lastMessageAt: last,
  };
}

export const isPerson = (x: unknown): x is PersonModel =>
  typeof x === 'object' && x !== null && (x as { __person?: unknown }).__person === true;

/** The name shown for a person: the first member's name (member order), else an email, else a phone. */
export function displayNameOf(p: PersonModel): string | null {
  for (const m of p.members) if (m.name?.trim()) return m.name.trim();
  return p.emails[0] ?? p.phones[0] ?? null;
}

/** The people order: last activity descending (none last), then id ascending. */
export function comparePeople(a: { t: number | null; id: string }, b: { t: number | null; id: string }): number {
  if (a.t !== b.t) {
    if (a.t === null) return 1;
    if (b.t === null) return -1;
    return b.t - a.t;
  }
  return a.id === b.id ? 0 : a.id < b.id ? -1 : 1;
}

/** A page of people before resolution (the shape of schema/mappers.ts ConnectionModel). */
export interface PersonConnectionModel {
  edges: Array<{ cursor: string; node: PersonModel }>;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  totalCount: number | null;
}

/** What {@link awaitingSince} needs of a source: its messages of one conversation, newest page first. */
export type MessagePager = (
  conversationNativeId: string,
  req: { last: number; before?: string | null },
) => Promise<{ items: Array<{ cursor: string; message: MessageModel }>; hasPreviousPage: boolean }>;

/** An answer: an outgoing message the client sees (an internal note is none). */
const isAnswer = (m: MessageModel) => m.direction === 'OUTGOING' && !m.private;

/**
 * When the client started waiting in one conversation: the time of the oldest INCOMING message after the newest
 * answer (OUTGOING, not private; ACTIVITY entries and notes count for neither), or null when the newest message the
 * client wrote was answered. Reads the conversation's messages backwards until it meets an answer; a conversation
 * whose last message is known to be an answer costs nothing.
 */
export async function awaitingSince(c: ConversationModel, page: MessagePager): Promise<Date | null> {
  if (c.lastMessage && isAnswer(c.lastMessage)) return null;
  let oldest: Date | null = null;
  let before: string | null = null;
  for (;;) {
    const p = await page(c.nativeId, { last: 100, before });
    for (let i = p.items.length - 1; i >= 0; i--) {
      const m = (p.items[i] as { message: MessageModel }).message;
      if (isAnswer(m)) return oldest;
      if (m.direction === 'INCOMING' && m.sentAt) oldest = m.sentAt;
    }
    if (!p.hasPreviousPage || p.items.length === 0) return oldest;
    before = (p.items[0] as { cursor: string }).cursor;
  }
}
