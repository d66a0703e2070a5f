import { decodeGlobalId } from '../../src/schema/ids';
import { DEMO_NAMES } from '../../src/sandbox/demoPeople';
import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * The default sandbox's demo people (src/sandbox/demoPeople.ts), as `npm start` without a config serves them: merged
 * across sources by email (also in another letter case) and by phone (written differently per source), and two
 * people with one name kept apart.
 */
type PersonView = {
  id: string;
  displayName: string | null;
  emails: string[];
  phones: string[];
  participants: Array<{ id: string; name: string | null }>;
  conversations: { totalCount: number | null; nodes: Array<{ source: { id: string } }> };
};
const PEOPLE = `query ($search: String) { people(first: 40, search: $search) { totalCount nodes {
  id displayName emails phones participants { id name }
  conversations(first: 20) { totalCount nodes { source { id } } } } } }`;

const sourcesOf = (p: PersonView) => [...new Set(p.participants.map((x) => decodeGlobalId(x.id)?.sourceId))].sort();

describe('the default sandbox’s demo people', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(() => t.close());

  async function people(search: string | null = null, key = t.apiKey): Promise<PersonView[]> {
    const r = await t.gql<{ people: { nodes: PersonView[] } }>(
      PEOPLE,
      { search },
      {
        authorization: `Bearer ${key}`,
      },
    );
    expect(r.body.errors).toBeUndefined();
    return r.body.data!.people.nodes;
  }
  async function only(name: string): Promise<PersonView> {
    const found = (await people(name)).filter((p) => p.displayName === name);
    expect(found).toHaveLength(1);
    return found[0]!;
  }

  it('merge Maya Lindqvist over all four sources by email and phone', async () => {
    const maya = await only(DEMO_NAMES.maya);
    // Monica's conversations carry only a ContactShort (no contact fields): her Monica contact joins through Monica's
    // contact listing (listContacts with contact fields).
    expect(sourcesOf(maya)).toEqual(['chatwoot', 'monica', 'pixieset', 'protocol']);
    expect(maya.emails).toEqual(['maya.lindqvist@example.com']);
    expect(maya.phones).toEqual(['+15550142201']);
    expect(maya.participants.every((p) => p.name === DEMO_NAMES.maya)).toBe(true);
    // Her conversations are those of every member, in every source she is in.
    expect(new Set(maya.conversations.nodes.map((c) => c.source.id))).toEqual(new Set(sourcesOf(maya)));
  });

  it('merge Daniel Osei over three sources: his email in another letter case, and his phone', async () => {
    const daniel = await only(DEMO_NAMES.daniel);
    expect(sourcesOf(daniel)).toEqual(['chatwoot', 'pixieset', 'protocol']);
    const pixieset = daniel.participants.find((p) => decodeGlobalId(p.id)?.sourceId === 'pixieset');
    const participant: { body: { data?: { node: { email: string } } | null } } = await t.gql(
      `query ($id: ID!) { node(id: $id) { ... on Participant { email } } }`,
      { id: pixieset!.id },
    );
    expect(participant.body.data!.node.email).toBe('Daniel.Osei@Example.com');
    expect(daniel.emails).toEqual(['daniel.osei@example.com']);
    expect(daniel.phones).toEqual(['+15550173344']);
  });

  it('merge Ren Takahashi by phone only, written as E.164 in Chatwoot and spaced in Protocol', async () => {
    const ren = await only(DEMO_NAMES.ren);
    expect(sourcesOf(ren)).toEqual(['chatwoot', 'protocol']);
    expect(ren.emails).toEqual([]);
    expect(ren.phones).toEqual(['+447700900077']);
  });

  it('keep the two Jordan Blakes apart: one name, different emails and phones', async () => {
    const jordans = (await people(DEMO_NAMES.jordan)).filter((p) => p.displayName === DEMO_NAMES.jordan);
    expect(jordans).toHaveLength(2);
    expect(jordans.map(sourcesOf).sort()).toEqual([['chatwoot'], ['pixieset']]);
    expect(new Set(jordans.flatMap((p) => p.emails))).toEqual(
      new Set(['jordan.blake@example.com', 'jblake@northwind.example']),
    );
  });

  it('come first in people, the most recently active: Maya first', async () => {
    const first = (await people()).slice(0, 4).map((p) => p.displayName);
    expect(first[0]).toBe(DEMO_NAMES.maya);
    expect(first).toContain(DEMO_NAMES.daniel);
  });

  it('show a key limited to Pixieset only Pixieset’s part of them', async () => {
    const maya = (await people(DEMO_NAMES.maya, t.limitedKey)).filter((p) => p.displayName === DEMO_NAMES.maya);
    expect(maya).toHaveLength(1);
    expect(sourcesOf(maya[0]!)).toEqual(['pixieset']);
    expect(maya[0]!.phones).toEqual([]);
    expect(await people(DEMO_NAMES.ren, t.limitedKey)).toEqual([]);
  });
});
