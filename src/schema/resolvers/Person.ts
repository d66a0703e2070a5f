import type {
  MutationResolvers,
  ParticipantResolvers,
  PersonConnectionResolvers,
  PersonResolvers,
  QueryResolvers,
  Resolvers,
} from '../__generated__/resolvers-types';
import type { ConnectorSession, ConversationModel, ParticipantModel } from '../../connectors/types';
import { badInput, ErrorCode, GatewayError } from '../../errors';
import { loadPeople } from '../../people/load';
import type { OrderedPerson, PeopleView } from '../../people/peopleIndex';
import {
  awaitingSince,
  comparePeople,
  displayNameOf,
  formPeople,
  isPerson,
  participantKey,
  type PeopleIndex,
  type PersonConnectionModel,
  type PersonModel,
} from '../../people/people';
import type { GatewayContext } from '../context';
import { decodePersonId, toPersonId } from '../ids';
import { MAX_PAGE_SIZE, resolveInbox, type InboxArgs } from '../inbox';
import { connectionFields } from '../mappers';
import { MAX_SEARCH_LENGTH } from './Query';
import { notFoundOf, partial, resolveId } from './shared';

/**
 * People (src/people/) in the schema. An operation reads the people of the sources its API key may see from the
 * gateway's people index (src/people/peopleIndex.ts, `services.people.index`): one view per set of visible sources,
 * so tenancy holds by construction (a hidden source's participants are never in it). A gateway without an index
 * (services built by hand) forms them from scratch per operation.
 */
const indexes = new WeakMap<GatewayContext, { session: ConnectorSession | null; people: Promise<PeopleView> }>();

/** A view over people formed from scratch (no index): the same order and lookups. */
function viewOf(formed: PeopleIndex): PeopleView {
  const ordered = formed.people
    .map((p): OrderedPerson => ({ t: p.lastMessageAt?.getTime() ?? null, id: personId(p), person: p }))
    .sort(comparePeople);
  return { personOf: (k) => formed.byParticipant.get(k), ordered: () => ordered };
}

/**
 * The operation's people, read at its first need (with the manual links as they are then). A subscription drops
 * its sessions before each event (`resetSessions`): the people are read again, so every event sees them as they
 * are then.
 */
export function peopleOf(ctx: GatewayContext): Promise<PeopleView> {
  const first = ctx.visibleSources()[0];
  const session = first ? ctx.session(first.id) : null;
  const known = indexes.get(ctx);
  let p = known && known.session === session ? known.people : undefined;
  if (!p) {
    p = (async () => {
      const links = await ctx.services.people?.links?.read();
      const onSourceError = (e: unknown) => {
        // A failing source leaves its participants out, with an error naming it; anything else fails the read.
        if (e instanceof GatewayError && e.sourceId && e.isSourceFailure) ctx.sourceErrors.push(e);
        else throw e;
      };
      const index = ctx.services.people?.index;
      if (index)
        return index.read(
          ctx.visibleSources().map((c) => c.id),
          links,
          onSourceError,
        );
      return viewOf(
        await loadPeople(
          ctx.visibleSources().map((c) => ({ sourceId: c.id, session: ctx.session(c.id) })),
          { defaultCountry: ctx.services.people?.defaultCountry ?? null, links, onSourceError },
        ),
      );
    })();
    indexes.set(ctx, { session, people: p });
  }
  return p;
}

export const personId = (p: PersonModel) => toPersonId(p.anchor.sourceId, p.anchor.nativeId);

/**
 * The person of a person id: the one the id's participant belongs to now (also after members changed and the id
 * with them), or null when the key may not see it or it is no longer a contact of any conversation or listing.
 */
export async function findPerson(ctx: GatewayContext, id: string): Promise<PersonModel | null> {
  const d = decodePersonId(id);
  if (!d || !ctx.viewer.sourceIds.has(d.sourceId)) return null;
  return (await peopleOf(ctx)).personOf(participantKey(d)) ?? null;
}

interface PeopleCursor {
  t: number | null;
  id: string;
}
const encodeCursor = (c: PeopleCursor) => Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
function decodeCursor(raw: string): PeopleCursor {
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as PeopleCursor;
    if (c && typeof c.id === 'string' && (c.t === null || Number.isFinite(c.t))) return c;
  } catch {
    // fall through
  }
  throw badInput('"after" is not a cursor of Query.people.', 'after');
}

function checkSearch(search: string | null | undefined, field: string) {
  if (search != null && search.length > MAX_SEARCH_LENGTH)
    throw new GatewayError(
      ErrorCode.BAD_USER_INPUT,
      `"${field}" may hold at most ${MAX_SEARCH_LENGTH} characters, but got ${search.length}.`,
      { field, maxLength: MAX_SEARCH_LENGTH },
    );
}

const matches = (p: PersonModel, q: string) =>
  p.members.some((m) => m.name?.toLowerCase().includes(q)) ||
  p.emails.some((e) => e.includes(q)) ||
  p.phones.some((ph) => ph.includes(q.replace(/[\s().-]/g, '')));

async function listPeople(
  ctx: GatewayContext,
  args: { first?: number | null; after?: string | null; search?: string | null },
): Promise<PersonConnectionModel> {
  const first = args.first ?? 20;
  if (first < 0) throw badInput(`Query.people: "first" must not be negative, but got ${first}.`, 'first');
  if (first > MAX_PAGE_SIZE)
    throw badInput(`Query.people: "first" must be at most ${MAX_PAGE_SIZE}, but got ${first}.`, 'first');
  checkSearch(args.search, 'search');
  const after = args.after != null ? decodeCursor(args.after) : null;
  const q = args.search?.trim().toLowerCase() ?? '';
  // The index keeps its people in this order: a page is a binary search and a slice (a search filters first).
  const ordered = (await peopleOf(ctx)).ordered();
  const all = q ? ordered.filter((x) => matches(x.person, q)) : ordered;
  let start = 0;
  if (after) {
    let hi = all.length;
    while (start < hi) {
      const mid = (start + hi) >>> 1;
      if (comparePeople(all[mid] as OrderedPerson, after) <= 0) start = mid + 1;
      else hi = mid;
    }
  }
  const page = all.slice(start, start + first);
  return {
    edges: page.map((x) => ({ cursor: encodeCursor({ t: x.t, id: x.id }), node: x.person })),
    hasNextPage: start + first < all.length,
    hasPreviousPage: start > 0,
    totalCount: all.length,
  };
}

type ConversationArgs = Omit<InboxArgs, 'filter'> & {
  filter?: {
    sources?: string[] | null;
    status?: NonNullable<InboxArgs['filter']>['status'];
    unreadOnly?: boolean | null;
    participantId?: string | null;
    personId?: string | null;
    labels?: string[] | null;
    search?: string | null;
  } | null;
};

/** The inbox of some participants (a person's), with the rest of the filter applied as in Query.conversations. */
async function inboxOf(ctx: GatewayContext, members: ParticipantModel[] | null, args: ConversationArgs) {
  const f = args.filter;
  checkSearch(f?.search, 'filter.search');
  const participant = f?.participantId ? resolveId(ctx, f.participantId, 'Participant', 'filter.participantId') : null;
  let ids = members?.map((m) => ({ sourceId: m.sourceId, nativeId: m.nativeId })) ?? null;
  if (f?.personId) {
    const person = await findPerson(ctx, f.personId);
    if (!person) {
      if (!decodePersonId(f.personId))
        throw badInput('"filter.personId" is not a valid Switchboard id.', 'filter.personId');
      throw notFoundOf('Participant');
    }
    const theirs = new Set(person.members.map(participantKey));
    ids = (ids ?? person.members).filter((m) => theirs.has(participantKey(m)));
  }
  return resolveInbox(ctx, {
    first: args.first,
    after: args.after,
    last: args.last,
    before: args.before,
    filter: {
      sources: f?.sources,
      status: f?.status,
      unreadOnly: f?.unreadOnly,
      participantId: participant,
      participantIds: ids ?? [],
      labels: f?.labels,
      search: f?.search,
    },
  });
}

async function unreadOf(ctx: GatewayContext, p: PersonModel): Promise<number | null> {
  const counts = await Promise.all(
    p.conversations.map((c: ConversationModel) =>
      partial<number | null>(ctx, null, async () => {
        if (c.unreadCount !== undefined) return c.unreadCount;
        const s = ctx.session(c.sourceId);
        return s.loadUnreadCount ? s.loadUnreadCount(c) : null;
      }),
    ),
  );
  const known = counts.filter((n): n is number => n !== null);
  const readState = p.members.some((m) => ctx.connector(m.sourceId).capabilities.unreadCounts);
  return known.length || readState ? known.reduce((a, n) => a + n, 0) : null;
}

/** The oldest unanswered incoming message over the person's conversations; a failing source leaves its own out. */
async function awaitingOf(ctx: GatewayContext, p: PersonModel): Promise<Date | null> {
  const times = await Promise.all(
    p.conversations.map((c) =>
      partial<Date | null>(ctx, null, () => {
        const s = ctx.session(c.sourceId);
        return awaitingSince(c, (id, req) => s.listMessages(id, req));
      }),
    ),
  );
  return times.reduce<Date | null>((a, t) => (t && (!a || t < a) ? t : a), null);
}

export const Person: PersonResolvers = {
  id: (p) => personId(p),
  displayName: (p) => displayNameOf(p),
  emails: (p) => p.emails,
  phones: (p) => p.phones,
  avatarUrl: (p) => p.members.find((m) => m.avatarUrl)?.avatarUrl ?? null,
  participants: (p) => p.members,
  conversations: (p, args, ctx) => inboxOf(ctx, p.members, args),
  unreadCount: (p, _a, ctx) => unreadOf(ctx, p),
  lastMessageAt: (p) => p.lastMessageAt,
  awaitingReplySince: (p, _a, ctx) => awaitingOf(ctx, p),
};

export const PersonConnection: PersonConnectionResolvers = connectionFields<PersonModel>();

/** Participant.person: the participant's person, or a person of its own when no listing or conversation has it. */
export const participantPerson: NonNullable<ParticipantResolvers['person']> = async (p, _a, ctx) => {
  if (p.kind !== 'CONTACT') return null;
  const found = (await peopleOf(ctx)).personOf(participantKey(p));
  return (
    found ??
    (formPeople({
      participants: [p],
      conversationsOf: new Map(),
      defaultCountry: ctx.services.people?.defaultCountry,
    }).people[0] as PersonModel)
  );
};

function requireLinkManager(ctx: GatewayContext) {
  if (!ctx.services.people?.linkManagers?.has(ctx.viewer.keyId))
    throw new GatewayError(ErrorCode.FORBIDDEN, 'This API key may not link or unlink people (it lacks manageLinks).');
  const store = ctx.services.people?.links;
  if (!store) throw new GatewayError(ErrorCode.FORBIDDEN, 'Manual links are not configured.');
  return store;
}

/** The CONTACT participant behind an id argument, as the people index knows it; its person before the change. */
async function memberOf(ctx: GatewayContext, id: string, field: string) {
  const d = resolveId(ctx, id, 'Participant', field);
  const key = participantKey(d);
  const person = (await peopleOf(ctx)).personOf(key);
  if (!person) throw badInput(`"${field}" is not a contact of any visible conversation or contact listing.`, field);
  return { key, person };
}

/** Re-forms the operation's people after a change, and tells live screens about every conversation it touched. */
async function afterChange(ctx: GatewayContext, before: PersonModel[]): Promise<PeopleView> {
  indexes.delete(ctx);
  const index = await peopleOf(ctx);
  const touched = new Map<string, ConversationModel>();
  for (const p of before) for (const c of p.conversations) touched.set(`${c.sourceId}\u0000${c.nativeId}`, c);
  // docs/live.md "Thread events": each conversation once, as ConversationUpdated naming PEOPLE (its participants'
  // people are no longer what they were), before the mutation answers; a failure to publish fails nothing.
  const at = Date.now();
  // The sources the link reached: a key that cannot see all of them is not told of it (Subscription.ts).
  const peopleSources = [
    ...new Set(before.flatMap((p) => [...p.conversations.map((c) => c.sourceId), ...p.members.map((x) => x.sourceId)])),
  ].sort();
  await ctx.services.live
    .publishEvents(
      [...touched.values()].map((c) => ({
        kind: 'ConversationUpdated' as const,
        sourceId: c.sourceId,
        conversationNativeId: c.nativeId,
        conversation: c,
        changedFields: ['PEOPLE' as const],
        peopleSources,
        at,
      })),
    )
    .catch(() => undefined);
  await Promise.all(
    [...touched.values()].map((c) =>
      ctx.services.live.touch(c.sourceId, c.nativeId).catch(() => {
        // A screen that misses it sees the change on its next read.
      }),
    ),
  );
  return index;
}

const MAX_LINK = 100;

const linkParticipants: NonNullable<MutationResolvers['linkParticipants']> = async (_p, { input }, ctx) => {
  const store = requireLinkManager(ctx);
  if (input.participantIds.length < 1 || input.participantIds.length > MAX_LINK)
    throw badInput(
      `"input.participantIds" must hold 1 to ${MAX_LINK} ids, but got ${input.participantIds.length}.`,
      'input.participantIds',
    );
  const members = await Promise.all(input.participantIds.map((id) => memberOf(ctx, id, 'input.participantIds')));
  await store.link(members.map((m) => m.key));
  const index = await afterChange(
    ctx,
    members.map((m) => m.person),
  );
  return { person: index.personOf((members[0] as { key: string }).key) as PersonModel };
};

const unlinkParticipant: NonNullable<MutationResolvers['unlinkParticipant']> = async (_p, { input }, ctx) => {
  const store = requireLinkManager(ctx);
  const { key, person } = await memberOf(ctx, input.participantId, 'input.participantId');
  await store.unlink(key);
  const index = await afterChange(ctx, [person]);
  const other = person.members.find((m) => participantKey(m) !== key);
  return {
    person: index.personOf(key) as PersonModel,
    formerPerson: other ? (index.personOf(participantKey(other)) ?? null) : null,
  };
};

/** The people fields of Query, and the wrappers that teach node/nodes person ids and conversations `personId`. */
export function withPeople(r: Resolvers): Resolvers {
  const q = r.Query as QueryResolvers;
  const node = q.node as (...a: unknown[]) => unknown;
  const nodes = q.nodes as (...a: unknown[]) => unknown;
  const conversations = q.conversations as (...a: unknown[]) => unknown;
  const Query: QueryResolvers = {
    ...q,
    node: ((parent, args, ctx, info) =>
      decodePersonId(args.id) ? findPerson(ctx, args.id) : node(parent, args, ctx, info)) as QueryResolvers['node'],
    nodes: (async (parent, args, ctx, info) => {
      if (args.ids.length > 100 || !args.ids.some((id) => decodePersonId(id))) return nodes(parent, args, ctx, info);
      const rest = args.ids.filter((id) => !decodePersonId(id));
      const others = (rest.length ? await (nodes(parent, { ids: rest }, ctx, info) as Promise<unknown[]>) : []).slice();
      return Promise.all(
        args.ids.map((id) => (decodePersonId(id) ? findPerson(ctx, id).catch((e: Error) => e) : others.shift())),
      );
    }) as QueryResolvers['nodes'],
    conversations: ((parent, args, ctx, info) =>
      args.filter?.personId
        ? inboxOf(ctx, null, args)
        : conversations(parent, args, ctx, info)) as QueryResolvers['conversations'],
    people: (_p, args, ctx) => listPeople(ctx, args),
    person: (_p, { id }, ctx) => findPerson(ctx, id),
  };
  const baseNode = r.Node as { __resolveType: (p: unknown, ...rest: unknown[]) => unknown };
  return {
    ...r,
    Query,
    Mutation: { ...r.Mutation, linkParticipants, unlinkParticipant },
    Person,
    PersonConnection,
    Participant: { ...r.Participant, person: participantPerson },
    Node: {
      __resolveType: (p: unknown, ...rest: unknown[]) => (isPerson(p) ? 'Person' : baseNode.__resolveType(p, ...rest)),
    } as Resolvers['Node'],
  };
}
