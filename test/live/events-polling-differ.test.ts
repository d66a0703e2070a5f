import { monicaConversationEvents, monicaMessageEvents } from '../../src/connectors/monica/poll';
import type { MonicaConversationDto } from '../../src/connectors/monica/types';
import {
  diffPixieset,
  pixiesetMessageReads,
  pixiesetPollEvents,
  pixiesetSnapshot,
} from '../../src/connectors/pixieset/poll';
import type { PixiesetConversationDto } from '../../src/connectors/pixieset/types';
import type { ConversationModel, SourceChange } from '../../src/connectors/types';
import { threadEventsOf } from '../../src/live/pollers';

/** The poll differs' thread events (pure parts; over HTTP: events-polling.test.ts). */

const kinds = (changes: SourceChange[]) =>
  changes.flatMap((c) => (c.events ?? []).map((e) => `${c.conversationNativeId}:${e.kind}`));

describe('Pixieset poll events', () => {
  const row = (
    id: string,
    at: string,
    unread: number,
    more: Partial<PixiesetConversationDto> = {},
  ): PixiesetConversationDto =>
    ({
      id,
      last_message_at: at,
      unread_count: unread,
      status: 'active',
      participants: [],
      ...more,
    }) as PixiesetConversationDto;
  const totals = { unread_count: 0, conversations_with_unread: 0 };

  it('tells a read, a status change, a new subject and a deletion from the page, without any detail', () => {
    const prev = pixiesetSnapshot(
      totals,
      [
        row('a', '2024-05-03T00:00:00Z', 2),
        row('b', '2024-05-02T00:00:00Z', 0),
        row('c', '2024-05-01T00:00:00Z', 0, { subject: 'Old' }),
        row('d', '2024-04-01T00:00:00Z', 0),
      ],
      10,
    );
    const next = pixiesetSnapshot(
      totals,
      [
        row('a', '2024-05-03T00:00:00Z', 0),
        row('b', '2024-05-02T00:00:00Z', 0, { status: 'archived' }),
        row('c', '2024-05-01T00:00:00Z', 0, { subject: 'New' }),
      ],
      10,
    );
    const changes = pixiesetPollEvents('px', prev, next, diffPixieset('px', prev, next), new Map(), 1000);
    expect(kinds(changes).sort()).toEqual([
      'a:ConversationRead',
      'b:ConversationUpdated',
      'c:ConversationUpdated',
      'd:ConversationDeleted',
    ]);
    const b = changes.find((c) => c.conversationNativeId === 'b')!.events![0]!;
    expect(b).toMatchObject({
      changedFields: ['STATUS', 'ARCHIVED'],
      conversation: { sourceId: 'px', status: 'ARCHIVED' },
    });
    const c = changes.find((x) => x.conversationNativeId === 'c')!.events![0]!;
    expect(c).toMatchObject({ changedFields: ['SUBJECT'] });
    // No message moved: no detail to read.
    expect(pixiesetMessageReads(prev, next)).toEqual([]);
  });

  it('reads the detail of a moved conversation and adds only the messages after the previous last one, oldest first', () => {
    const prev = pixiesetSnapshot(totals, [row('a', '2024-05-03T00:00:00Z', 0)], 2);
    const next = pixiesetSnapshot(
      totals,
      [row('n', '2024-05-05T00:00:00Z', 1), row('a', '2024-05-04T00:00:00Z', 2)],
      2,
    );
    expect(pixiesetMessageReads(prev, next)).toEqual([
      { id: 'n', after: null },
      { id: 'a', after: Date.parse('2024-05-03T00:00:00Z') },
    ]);
    const msg = (id: string, at: string) => ({ id, sent_at: at, sender_type: 'client' as const, attachments: [] });
    const detail = {
      ...row('a', '2024-05-04T00:00:00Z', 2),
      messages: [
        msg('m3', '2024-05-04T00:00:00Z'),
        msg('m1', '2024-05-03T00:00:00Z'),
        msg('m2', '2024-05-03T12:00:00Z'),
      ],
    } as PixiesetConversationDto;
    const changes = pixiesetPollEvents(
      'px',
      prev,
      next,
      diffPixieset('px', prev, next),
      new Map([['a', { dto: detail, after: Date.parse('2024-05-03T00:00:00Z') }]]),
      0,
    );
    const a = changes.find((c) => c.conversationNativeId === 'a')!;
    expect(a.events!.map((e) => (e.kind === 'MessageAdded' ? e.message.nativeId : e.kind))).toEqual(['a/m2', 'a/m3']);
  });
});

describe('Monica poll events', () => {
  const dto = (id: number, messages: Array<[number, string, string, string]>): MonicaConversationDto =>
    ({
      id,
      happened_at: '2024-05-01T00:00:00Z',
      contact: { id: 1, first_name: 'Pat' },
      contact_field_type: { id: 1, name: 'Email' },
      messages: messages.map(([mid, content, created, updated]) => ({
        id: mid,
        content,
        written_at: created,
        written_by_me: false,
        created_at: created,
        updated_at: updated,
      })),
    }) as unknown as MonicaConversationDto;
  const T1 = '2024-05-01T10:00:01Z';
  const T2 = '2024-05-01T10:00:02Z';

  it('sets its mark at the first poll, then tells messages created or updated after it, ties at the mark by id', () => {
    const first = monicaMessageEvents('mo', [dto(7, [[1, 'old', T1, T1]]), dto(8, [[4, 'original', T1, T1]])], null);
    expect(first.events.size).toBe(0);
    expect(first.mark).toEqual({ at: Date.parse(T1), ids: new Set([1, 4]) });
    const second = monicaMessageEvents(
      'mo',
      [
        dto(7, [
          [1, 'old', T1, T1],
          [2, 'same second', T1, T1],
          [3, 'later', T2, T2],
        ]),
        dto(8, [[4, 'edited', T1, T2]]),
      ],
      first.mark,
    );
    const summary = [...second.events].map(([id, es]) =>
      es.map(
        (e) => `${id}:${e.kind}:${e.kind === 'MessageAdded' || e.kind === 'MessageUpdated' ? e.message.content : ''}`,
      ),
    );
    expect(summary).toEqual([['7:MessageAdded:same second', '7:MessageAdded:later'], ['8:MessageUpdated:edited']]);
    expect(second.mark).toEqual({ at: Date.parse(T2), ids: new Set([3, 4]) });
    // Nothing new: nothing told.
    expect(monicaMessageEvents('mo', [dto(8, [[4, 'edited', T1, T2]])], second.mark).events.size).toBe(0);
  });

  it('tells a new subject and a removed conversation the catalog had', () => {
    const model = (id: string, subject: string) => ({ nativeId: id, subject }) as ConversationModel;
    const events = monicaConversationEvents(
      [model('1', 'Email · 2024-05-01'), model('2', 'x')],
      [model('1', 'Email · 2020-02-02')],
      ['2', '3'],
      5,
    );
    expect([...events].map(([id, es]) => `${id}:${es.map((e) => e.kind).join()}`)).toEqual([
      '1:ConversationUpdated',
      '2:ConversationDeleted',
    ]);
  });
});

describe('threadEventsOf', () => {
  it('keeps conversations apart and orders each by when it happened', () => {
    const message = (conversation: string, id: string) =>
      ({ nativeId: id, conversationNativeId: conversation }) as never;
    const events = threadEventsOf('s', [
      {
        sourceId: 's',
        conversationNativeId: 'a',
        events: [
          { kind: 'MessageAdded', message: message('a', 'a2'), at: 20 },
          { kind: 'MessageAdded', message: message('a', 'a1'), at: 10 },
        ],
      },
      {
        sourceId: 's',
        conversationNativeId: 'b',
        events: [{ kind: 'ConversationDeleted', conversationNativeId: 'b', at: 5 }],
      },
    ]);
    expect(
      events.map((e) => `${e.conversationNativeId}:${e.kind === 'MessageAdded' ? e.message.nativeId : e.kind}`),
    ).toEqual(['a:a1', 'a:a2', 'b:ConversationDeleted']);
  });
});
