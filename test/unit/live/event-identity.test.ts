import type { ConversationModel, MessageModel } from '../../../src/connectors/types';
import { eventIdentity, type ThreadEvent } from '../../../src/live/events';

/**
 * docs/live.md "Thread events" ("Once each", "Why updatedAt"): the identity under which a thread event is published
 * once across instances; equal identities are one event (the gateway's write and the vendor's echo of it).
 */
const conversation = (over: Partial<ConversationModel> = {}): ConversationModel => ({
  sourceId: 'cw',
  nativeId: '1:17',
  subject: null,
  status: 'RESOLVED',
  channel: 'Channel::Api',
  createdAt: new Date(1_790_000_000_000),
  updatedAt: new Date(1_795_000_001_250),
  lastMessageAt: null,
  unreadCount: 0,
  muted: false,
  pinned: false,
  archived: false,
  labels: ['b', 'a'],
  participants: [],
  ...over,
});
const updated = (c: ConversationModel, changedFields: Array<'STATUS' | 'LABELS'> = ['STATUS']): ThreadEvent => ({
  kind: 'ConversationUpdated',
  sourceId: 'cw',
  conversationNativeId: c.nativeId,
  conversation: c,
  changedFields,
  at: 1,
});
const message = (content: string): MessageModel => ({
  sourceId: 'cw',
  nativeId: '1:17/301',
  conversationNativeId: '1:17',
  content,
  sentAt: null,
  readAt: null,
  direction: 'INCOMING',
  private: false,
  sender: null,
  attachments: [],
});

describe('eventIdentity', () => {
  it('gives ConversationUpdated of one save (same updatedAt and values) one identity, whatever its fields, its time or how the conversation was read', () => {
    const gateway = updated(conversation({ lastMessage: null, participants: null }), ['STATUS', 'LABELS']);
    const webhook = { ...updated(conversation({ labels: ['a', 'b'], unreadCount: 3 })), at: 99 };
    expect(eventIdentity(gateway)).toMatch(/^ConversationUpdated:1:17:1795000001250:[0-9a-f]{16}$/);
    expect(eventIdentity(webhook)).toBe(eventIdentity(gateway));
  });

  it('gives a later save (updatedAt moved) or other values another identity, so a change back and forth is each published', () => {
    const first = eventIdentity(updated(conversation()));
    expect(eventIdentity(updated(conversation({ updatedAt: new Date(1_795_000_009_500) })))).not.toBe(first);
    // Whole-second clocks: two saves in one second differ by their values.
    expect(eventIdentity(updated(conversation({ status: 'OPEN' })))).not.toBe(first);
    expect(eventIdentity(updated(conversation({ muted: true })))).not.toBe(first);
  });

  it('publishes every ConversationUpdated without updatedAt and every ConversationRead (no identity)', () => {
    expect(eventIdentity(updated(conversation({ updatedAt: null })))).toBeNull();
    const read: ThreadEvent = {
      kind: 'ConversationRead',
      sourceId: 'cw',
      conversationNativeId: '1:17',
      conversation: conversation(),
      at: 1,
    };
    expect(eventIdentity(read)).toBeNull();
  });

  it('keys ConversationDeleted on the conversation, MessageDeleted on the message and MessageUpdated on its content', () => {
    const deleted: ThreadEvent = { kind: 'ConversationDeleted', sourceId: 'pr', conversationNativeId: 'x', at: 1 };
    expect(eventIdentity(deleted)).toBe('ConversationDeleted:x:');
    expect(eventIdentity({ ...deleted, at: 2 })).toBe('ConversationDeleted:x:');
    const m = (kind: 'MessageDeleted' | 'MessageUpdated', content: string): ThreadEvent => ({
      kind,
      sourceId: 'cw',
      conversationNativeId: '1:17',
      message: message(content),
      at: 1,
    });
    // The gateway's delete (the message as it was) and Chatwoot's soft delete (the "deleted" text) are one event.
    expect(eventIdentity(m('MessageDeleted', 'hello'))).toBe(
      eventIdentity(m('MessageDeleted', 'This message was deleted')),
    );
    expect(eventIdentity(m('MessageUpdated', 'a'))).not.toBe(eventIdentity(m('MessageUpdated', 'b')));
  });
});
