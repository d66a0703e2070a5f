import type { ConversationModel, ConnectorSession, ParticipantModel } from '../connectors/types';
import type { LinkState } from './links';
import { formPeople, participantKey, type PeopleIndex } from './people';

/** Page size of the reads that gather participants (the connector contract's largest page). */
const PAGE = 100;

export interface PeopleSource {
  sourceId: string;
  session: ConnectorSession;
}

/** Everything one source says about its contacts: its listing (when it has one) and its conversations' participants. */
export interface SourceRead {
  /** From `listContacts`, in its order. */
  contacts: ParticipantModel[];
  /** Every conversation, in the source's list order, with its participants. */
  conversations: Array<{ conversation: ConversationModel; participants: ParticipantModel[] }>;
}

/**
 * Reads one source completely: its contacts through `listContacts` when the connector has one (paged, 100 at a
 * time), and the participants of every conversation (the catalog's, so a page costs no upstream request for
 * catalog sources). Throws what the source throws: a half-read source is never used.
 */
export async function readSource(session: ConnectorSession): Promise<SourceRead> {
  const contacts: ParticipantModel[] = [];
  const conversations: SourceRead['conversations'] = [];
  if (session.listContacts) {
    let after: string | undefined;
    for (;;) {
      const page = await session.listContacts({ after, first: PAGE });
      contacts.push(...page.items);
      if (!page.next || page.items.length === 0) break;
      after = page.next;
    }
  }
  for (let offset = 0; ; offset += PAGE) {
    const page = await session.listConversations({ offset, limit: PAGE, filter: {} });
    conversations.push(
      ...(await Promise.all(
        page.items.map(async (c) => ({
          conversation: c,
          participants: c.participants ?? (await session.loadParticipants(c)),
        })),
      )),
    );
    if (page.items.length === 0 || offset + page.items.length >= page.total) break;
  }
  return { contacts, conversations };
}

/**
 * Gathers the participants of the given sources and forms their people from scratch ({@link readSource} per
 * source, then {@link formPeople}). A source that fails is left out (`onSourceError` decides what to do with its
 * error; rethrowing fails the whole read). The gateway serves people from its index (./index.ts) instead; this is
 * the brute-force formation the index is tested against.
 *
 * Only the given sources are read: pass the sources the API key may see, and tenancy holds by construction.
 */
export async function loadPeople(
  sources: PeopleSource[],
  opts: { defaultCountry?: string | null; links?: LinkState; onSourceError: (e: unknown) => void },
): Promise<PeopleIndex> {
  const participants: ParticipantModel[] = [];
  const conversationsOf = new Map<string, ConversationModel[]>();
  await Promise.all(
    sources.map(async ({ session }) => {
      try {
        const read = await readSource(session);
        const own: ParticipantModel[] = [...read.contacts];
        const convs = new Map<string, ConversationModel[]>();
        for (const { conversation: c, participants: ps } of read.conversations) {
          for (const p of ps) {
            own.push(p);
            const k = participantKey(p);
            let list = convs.get(k);
            if (!list) convs.set(k, (list = []));
            if (!list.includes(c)) list.push(c);
          }
        }
        // Only a source read completely contributes: no half source.
        participants.push(...own);
        for (const [k, v] of convs) conversationsOf.set(k, v);
      } catch (e) {
        opts.onSourceError(e);
      }
    }),
  );
  // Sources answer in any order; form people in a fixed one so ids and names do not depend on timing.
  participants.sort((a, b) => (a.sourceId < b.sourceId ? -1 : a.sourceId > b.sourceId ? 1 : 0));
  return formPeople({ participants, conversationsOf, defaultCountry: opts.defaultCountry, links: opts.links });
}
