import fc from 'fast-check';
import type { ConversationModel, ParticipantModel } from '../../../src/connectors/types';
import { normalizeEmail, normalizePhone } from '../../../src/people/normalize';
import { awaitingSince, displayNameOf, formPeople, participantKey } from '../../../src/people/people';
import type { MessageModel } from '../../../src/connectors/types';
import { UnionFind } from '../../../src/people/unionFind';

const contact = (sourceId: string, nativeId: string, over: Partial<ParticipantModel> = {}): ParticipantModel => ({
  sourceId,
  nativeId,
  name: null,
  email: null,
  phone: null,
  kind: 'CONTACT',
  avatarUrl: null,
  avatarColor: null,
  ...over,
});

const groups = (ps: ParticipantModel[], defaultCountry: string | null = 'US') =>
  formPeople({ participants: ps, conversationsOf: new Map(), defaultCountry })
    .people.map((p) => p.members.map((m) => `${m.sourceId}/${m.nativeId}`).join(','))
    .sort();

describe('normalizeEmail', () => {
  it('trims and lower-cases', () => {
    expect(normalizeEmail('  Ann.Lee@Example.COM ')).toBe('ann.lee@example.com');
  });
  it('keeps plus-addressing and dots (different mailboxes)', () => {
    expect(normalizeEmail('ann+shop@example.com')).toBe('ann+shop@example.com');
    expect(normalizeEmail('a.nn@gmail.com')).not.toBe(normalizeEmail('ann@gmail.com'));
  });
  it('gives no key for what is not an address', () => {
    expect(normalizeEmail(null)).toBeNull();
    expect(normalizeEmail('   ')).toBeNull();
    expect(normalizeEmail('ann')).toBeNull();
    expect(normalizeEmail('a b@example.com')).toBeNull();
  });
});

describe('normalizePhone', () => {
  it('gives E.164 whatever the writing', () => {
    expect(normalizePhone('+1 (415) 555-0100')).toBe('+14155550100');
    expect(normalizePhone('+1.415.555.0100')).toBe('+14155550100');
    expect(normalizePhone('+44 20 7946 0958')).toBe('+442079460958');
  });
  it('uses the default country for national numbers, and none without one', () => {
    expect(normalizePhone('(415) 555-0100', 'US')).toBe('+14155550100');
    expect(normalizePhone('020 7946 0958', 'GB')).toBe('+442079460958');
    expect(normalizePhone('(415) 555-0100', null)).toBeNull();
  });
  it('gives no key for what is not a possible number', () => {
    expect(normalizePhone('12', 'US')).toBeNull();
    expect(normalizePhone('call me', 'US')).toBeNull();
    expect(normalizePhone('', 'US')).toBeNull();
  });
});

describe('UnionFind', () => {
  it('joins transitively and keeps the rest apart', () => {
    const uf = new UnionFind();
    for (const x of ['a', 'b', 'c', 'd', 'e']) uf.add(x);
    uf.union('a', 'b');
    uf.union('c', 'd');
    uf.union('b', 'd');
    expect(uf.find('a')).toBe(uf.find('c'));
    expect(uf.find('e')).not.toBe(uf.find('a'));
    expect(
      uf
        .groups()
        .map((g) => g.sort().join(''))
        .sort(),
    ).toEqual(['abcd', 'e']);
  });

  it('agrees with a brute-force connected components for random unions', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(19), fc.nat(19)), { maxLength: 40 }), (pairs) => {
        const uf = new UnionFind();
        for (let i = 0; i < 20; i++) uf.add(String(i));
        for (const [a, b] of pairs) uf.union(String(a), String(b));
        // Brute force: repeated relabelling until stable.
        const label = Array.from({ length: 20 }, (_, i) => i);
        for (let changed = true; changed;) {
          changed = false;
          for (const [a, b] of pairs) {
            const m = Math.min(label[a]!, label[b]!);
            if (label[a] !== m || label[b] !== m) {
              label[a] = label[b] = m;
              changed = true;
            }
          }
        }
        for (let i = 0; i < 20; i++)
          for (let j = 0; j < 20; j++) expect(uf.find(String(i)) === uf.find(String(j))).toBe(label[i] === label[j]);
      }),
    );
  });
});

describe('formPeople', () => {
  it('merges by email across sources, whatever the letter case and spaces', () => {
    expect(
      groups([
        contact('chatwoot', 'contact:1', { email: 'Ann@Example.com' }),
        contact('pixieset', '9', { email: ' ann@example.com' }),
        contact('monica', '3', { email: 'bob@example.com' }),
      ]),
    ).toEqual(['chatwoot/contact:1,pixieset/9', 'monica/3']);
  });

  it('merges by phone written differently, with the default country', () => {
    expect(
      groups([
        contact('protocol', 'c1', { phone: '(415) 555-0100' }),
        contact('monica', '7', { phone: '+1 415-555-0100' }),
      ]),
    ).toEqual(['monica/7,protocol/c1']);
  });

  it('merges transitively (email in one pair, phone in the other)', () => {
    expect(
      groups([
        contact('a', '1', { email: 'x@example.com' }),
        contact('b', '1', { email: 'X@example.com', phone: '+14155550100' }),
        contact('c', '1', { phone: '+1 415 555 0100' }),
      ]),
    ).toEqual(['a/1,b/1,c/1']);
  });

  it('never merges by name: same name, different person', () => {
    expect(
      groups([
        contact('a', '1', { name: 'Sam Smith', email: 'sam@one.example' }),
        contact('b', '1', { name: 'Sam Smith', email: 'sam@two.example' }),
        contact('c', '1', { name: 'Sam Smith' }),
      ]),
    ).toEqual(['a/1', 'b/1', 'c/1']);
  });

  it('leaves agents, bots and groups out', () => {
    expect(
      groups([
        contact('a', '1', { email: 'x@example.com' }),
        contact('a', 'user:1', { email: 'x@example.com', kind: 'AGENT' }),
        contact('b', 'g', { kind: 'GROUP' }),
      ]),
    ).toEqual(['a/1']);
  });

  it('anchors a person on its smallest member and gathers its conversations once', () => {
    const a = contact('pixieset', '9', { email: 'ann@example.com', name: 'Ann' });
    const b = contact('chatwoot', 'contact:1', { email: 'ANN@example.com', name: null });
    const conv = (sourceId: string, nativeId: string, t: number) =>
      ({ sourceId, nativeId, lastMessageAt: new Date(t) }) as ConversationModel;
    const c1 = conv('pixieset', 'x', 1000);
    const c2 = conv('chatwoot', '1:1', 5000);
    const { people } = formPeople({
      participants: [a, b],
      conversationsOf: new Map([
        [participantKey(a), [c1]],
        [participantKey(b), [c2, c2]],
      ]),
    });
    expect(people).toHaveLength(1);
    const p = people[0]!;
    expect(p.anchor).toBe(b);
    expect(p.members).toEqual([b, a]);
    expect(p.emails).toEqual(['ann@example.com']);
    expect(p.conversations).toHaveLength(2);
    expect(p.lastMessageAt).toEqual(new Date(5000));
    expect(displayNameOf(p)).toBe('Ann');
  });
});

describe('awaitingSince', () => {
  const msg = (i: number, direction: MessageModel['direction'], isPrivate = false): MessageModel => ({
    sourceId: 's',
    nativeId: String(i),
    conversationNativeId: 'c',
    content: null,
    sentAt: new Date(i * 1000),
    readAt: null,
    direction,
    private: isPrivate,
    sender: null,
    attachments: [],
  });
  /** A pager over `all` (oldest first) with pages of `size`, counting its calls. */
  function pager(all: MessageModel[], size: number) {
    const calls: Array<string | null | undefined> = [];
    const page = (_id: string, req: { last: number; before?: string | null }) => {
      calls.push(req.before);
      const end = req.before ? Number(req.before) : all.length;
      const start = Math.max(0, end - Math.min(size, req.last));
      return Promise.resolve({
        items: all.slice(start, end).map((message, k) => ({ cursor: String(start + k), message })),
        hasPreviousPage: start > 0,
      });
    };
    return { page, calls };
  }
  const conv = (last?: MessageModel) => ({ nativeId: 'c', lastMessage: last }) as ConversationModel;

  it('is the oldest incoming message after the newest answer, across pages', async () => {
    const all = [msg(1, 'INCOMING'), msg(2, 'OUTGOING'), msg(3, 'INCOMING'), msg(4, 'ACTIVITY'), msg(5, 'INCOMING')];
    const p = pager(all, 2);
    expect(await awaitingSince(conv(), p.page)).toEqual(new Date(3000));
    expect(p.calls).toEqual([null, '3']);
  });

  it('does not count internal notes or activity as answers', async () => {
    const all = [msg(1, 'OUTGOING'), msg(2, 'INCOMING'), msg(3, 'OUTGOING', true), msg(4, 'ACTIVITY')];
    expect(await awaitingSince(conv(), pager(all, 100).page)).toEqual(new Date(2000));
  });

  it('is null when the last word is an answer, without reading when the conversation says so', async () => {
    const all = [msg(1, 'INCOMING'), msg(2, 'OUTGOING')];
    expect(await awaitingSince(conv(), pager(all, 100).page)).toBeNull();
    const p = pager(all, 100);
    expect(await awaitingSince(conv(all[1]), p.page)).toBeNull();
    expect(p.calls).toEqual([]);
  });

  it('is the first incoming message when nobody ever answered, and null without messages', async () => {
    expect(await awaitingSince(conv(), pager([msg(1, 'INCOMING'), msg(2, 'INCOMING')], 1).page)).toEqual(
      new Date(1000),
    );
    expect(await awaitingSince(conv(), pager([], 10).page)).toBeNull();
  });
});
