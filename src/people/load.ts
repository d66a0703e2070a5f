import type { ConversationModel, ConnectorSession, ParticipantModel } from '../connectors/types';
import type { LinkState } from './links';
import { formPeople, participantKey, type PeopleIndex } from './people';

/** Page size of the reads that gather participants (the connector contract's largest page). */
const PAGE = 100;

export interface PeopleSource {
  sourceId: string;
  session: ConnectorSession;
}

/**
 * Gathers the participants of the given sources and forms their people. Per source: its contacts through
 * `listContacts` when the connector has one, and the participants of every conversation (the catalog's, so a page
 * costs no upstream request for catalog sources), which also gives each participant its conversations. A source
 * that fails is left out (`onSourceError` decides what to do with its error; rethrowing fails the whole read).
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
        const own: ParticipantModel[] = [];
        const convs = new Map<string, ConversationModel[]>();
        if (session.listContacts) {
          let after: string | undefined;
          for (;;) {
            const page = await session.listContacts({ after, first: PAGE });
            own.push(...page.items);
            if (!page.next || page.items.length === 0) break;
            after = page.next;
          }
        }
        for (let offset = 0; ; offset += PAGE) {
          const page = await session.listConversations({ offset, limit: PAGE, filter: {} });
          const withParticipants = await Promise.all(
            page.items.map(async (c) => ({ c, ps: c.participants ?? (await session.loadParticipants(c)) })),
          );
          for (const { c, ps } of withParticipants) {
            for (const p of ps) {
              own.push(p);
              const k = participantKey(p);
              let list = convs.get(k);
              if (!list) convs.set(k, (list = []));
              if (!list.includes(c)) list.push(c);
            }
          }
          if (page.items.length === 0 || offset + page.items.length >= page.total) break;
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
