import { mapChatwootError } from '../../../../src/connectors/chatwoot/client';
import { createHmac } from 'node:crypto';
import {
  chatwootDeliveryKeys,
  parseChatwootWebhook,
  signChatwootWebhook,
} from '../../../../src/connectors/chatwoot/webhook';
import type { WebhookRequest } from '../../../../src/connectors/types';
import { thrown } from '../../../utils/errors';

const config = { sourceId: 'cw', accountId: 1, webhookToken: 'a-long-webhook-secret' };
/** `token: null` sends none. */
const req = (body: unknown, token: string | null = config.webhookToken): WebhookRequest => ({
  headers: { 'content-type': 'application/json' },
  rawBody: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  query: token === null ? {} : { token },
});
/** The code of the GatewayError `fn` throws (test/utils/errors.ts `thrown` fails on any other outcome). */
const codeOf = (fn: () => unknown) => thrown(fn).code;

/** Shapes from docs/vendors/chatwoot.md "Webhooks". */
const messageCreated = {
  event: 'message_created',
  id: 301,
  content: 'Hi',
  message_type: 'incoming',
  created_at: '2026-11-21T05:00:00.000Z',
  private: false,
  account: { id: 1, name: 'Acme Support' },
  inbox: { id: 3, name: 'API' },
  sender: { id: 4, name: 'Ava', email: null },
  conversation: { id: 17, status: 'open', updated_at: 1_795_000_000.5 },
};
const statusChanged = {
  event: 'conversation_status_changed',
  id: 17,
  status: 'resolved',
  updated_at: 1_795_000_001.25,
  created_at: 1_790_000_000,
  changed_attributes: [{ status: { previous_value: 'open', current_value: 'resolved' } }],
};

describe('chatwoot parseWebhook', () => {
  it('refuses a delivery without the token, with a wrong token, or when neither token nor secret is configured (FORBIDDEN)', () => {
    expect(codeOf(() => parseChatwootWebhook(config, req(messageCreated, null)))).toBe('FORBIDDEN');
    expect(codeOf(() => parseChatwootWebhook(config, req(messageCreated, 'a-long-webhook-secreT')))).toBe('FORBIDDEN');
    expect(codeOf(() => parseChatwootWebhook(config, req(messageCreated, 'short')))).toBe('FORBIDDEN');
    expect(codeOf(() => parseChatwootWebhook({ ...config, webhookToken: undefined }, req(messageCreated)))).toBe(
      'FORBIDDEN',
    );
  });

  it('rejects a body that is not JSON or not a Chatwoot event (BAD_USER_INPUT)', () => {
    expect(codeOf(() => parseChatwootWebhook(config, req('{nope')))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => parseChatwootWebhook(config, req({ hello: 'world' })))).toBe('BAD_USER_INPUT');
  });

  it('turns message_created into a change of its conversation, keyed by message id and created_at', () => {
    expect(parseChatwootWebhook(config, req(messageCreated))).toEqual([
      {
        sourceId: 'cw',
        conversationNativeId: '1:17',
        eventId: 'message_created:301:2026-11-21T05:00:00.000Z',
        // docs/live.md "Thread events": the message itself, as a typed event for conversationEvents.
        events: [
          {
            kind: 'MessageAdded',
            at: Date.parse('2026-11-21T05:00:00.000Z'),
            message: expect.objectContaining({ nativeId: '1:17/301', conversationNativeId: '1:17', content: 'Hi' }),
          },
        ],
      },
    ]);
  });

  it('turns conversation events into changes keyed by updated_at, so a repeat has the same id and a new write another', () => {
    const [a] = parseChatwootWebhook(config, req(statusChanged));
    const [b] = parseChatwootWebhook(config, req(statusChanged));
    const [c] = parseChatwootWebhook(config, req({ ...statusChanged, updated_at: 1_795_000_009.5 }));
    expect(a).toEqual({
      sourceId: 'cw',
      conversationNativeId: '1:17',
      eventId: 'conversation_status_changed:17:1795000001.25',
      events: [expect.objectContaining({ kind: 'ConversationUpdated', changedFields: ['STATUS'] })],
    });
    expect(b?.eventId).toBe(a?.eventId);
    expect(c?.eventId).not.toBe(a?.eventId);
    for (const event of ['conversation_created', 'conversation_updated']) {
      expect(parseChatwootWebhook(config, req({ ...statusChanged, event }))[0]?.conversationNativeId).toBe('1:17');
    }
  });

  /** Conversation#webhook_data (Conversations::EventDataPresenter#push_data), as the emulator sends it. */
  const pushData = {
    ...statusChanged,
    event: 'conversation_updated',
    channel: 'Channel::Api',
    labels: ['billing'],
    messages: [{ id: 300, content: 'last chat message', message_type: 0, created_at: 1_794_999_999 }],
    meta: {
      sender: { id: 4, name: 'Ava', email: null, blocked: true },
      assignee: null,
      assignee_type: null,
      team: null,
      hmac_verified: false,
    },
    additional_attributes: {},
    unread_count: 2,
    last_activity_at: 1_794_999_999,
  };

  it('turns conversation_status_changed and conversation_updated into ConversationUpdated with the fields changed_attributes names, the conversation as push_data has it', () => {
    const [status] = parseChatwootWebhook(config, req({ ...pushData, event: 'conversation_status_changed' }));
    expect(status?.events).toEqual([
      {
        kind: 'ConversationUpdated',
        changedFields: ['STATUS'],
        at: 1_795_000_001_250,
        conversation: expect.objectContaining({
          sourceId: 'cw',
          nativeId: '1:17',
          status: 'RESOLVED',
          labels: ['billing'],
          // push_data has no `muted`: the contact's `blocked` is it (docs/vendors/chatwoot.md "Mute").
          muted: true,
          channel: 'Channel::Api',
          unreadCount: 2,
          updatedAt: new Date(1_795_000_001_250),
          // push_data's `messages` is the last chat message, not REST's last message (notes too): read it later.
          lastMessage: undefined,
        }),
      },
    ]);
    const labels = [{ label_list: { previous_value: [], current_value: ['billing'] } }];
    const [updated] = parseChatwootWebhook(config, req({ ...pushData, changed_attributes: labels }));
    expect(updated?.events?.map((e) => e.kind === 'ConversationUpdated' && e.changedFields)).toEqual([['LABELS']]);
    const both = [...labels, { status: { previous_value: 'open', current_value: 'resolved' } }];
    const [two] = parseChatwootWebhook(config, req({ ...pushData, changed_attributes: both }));
    expect(two?.events?.map((e) => e.kind === 'ConversationUpdated' && e.changedFields)).toEqual([
      ['LABELS', 'STATUS'],
    ]);
  });

  it('attaches no event to a conversation change of no ConversationField (assignee, priority), to conversation_created, or to an unreadable body', () => {
    const assignee = [{ assignee_id: { previous_value: null, current_value: 2 } }];
    const [a] = parseChatwootWebhook(config, req({ ...pushData, changed_attributes: assignee }));
    expect(a).toMatchObject({ conversationNativeId: '1:17' });
    expect(a?.events).toBeUndefined();
    expect(parseChatwootWebhook(config, req({ ...pushData, changed_attributes: null }))[0]?.events).toBeUndefined();
    expect(
      parseChatwootWebhook(config, req({ ...pushData, event: 'conversation_created' }))[0]?.events,
    ).toBeUndefined();
    // A status Chatwoot does not have: the change still announces the conversation, with no event.
    const [odd] = parseChatwootWebhook(config, req({ ...pushData, event: 'conversation_status_changed', status: 'x' }));
    expect(odd).toMatchObject({ conversationNativeId: '1:17' });
    expect(odd?.events).toBeUndefined();
  });

  it('keys message_updated (which has no update time) by a digest of the body', () => {
    const updated = { ...messageCreated, event: 'message_updated', content: 'This message was deleted' };
    const [a] = parseChatwootWebhook(config, req(updated));
    const [b] = parseChatwootWebhook(config, req(updated));
    const [c] = parseChatwootWebhook(config, req({ ...updated, content: 'other' }));
    expect(a?.eventId).toMatch(/^message_updated:301:[0-9a-f]{16}$/);
    expect(b?.eventId).toBe(a?.eventId);
    expect(c?.eventId).not.toBe(a?.eventId);
  });

  it('carries message_updated as MessageUpdated, and a soft delete (content_attributes.deleted) as MessageDeleted', () => {
    const edited = { ...messageCreated, event: 'message_updated', content: 'Hi again' };
    const deleted = { ...edited, content: 'This message was deleted', content_attributes: { deleted: true } };
    const kinds = (body: object) => parseChatwootWebhook(config, req(body))[0]?.events?.map((e) => e.kind);
    expect(kinds(edited)).toEqual(['MessageUpdated']);
    expect(kinds(deleted)).toEqual(['MessageDeleted']);
    const event = parseChatwootWebhook(config, req(deleted))[0]?.events?.[0];
    expect(event && 'message' in event ? event.message.nativeId : null).toBe('1:17/301');
  });

  it('reports contact_updated as a source-wide change (blocked is every conversation of the contact muted)', () => {
    const changes = parseChatwootWebhook(config, req({ event: 'contact_updated', id: 4, blocked: true }));
    expect(changes).toEqual([
      { sourceId: 'cw', conversationNativeId: null, eventId: expect.stringMatching(/^contact_updated:4:/) },
    ]);
  });

  it('reports contact_updated only when its changed_attributes touch what the inbox shows', () => {
    const changed = (...attrs: string[]) => attrs.map((a) => ({ [a]: { previous_value: 'x', current_value: 'y' } }));
    const upd = (changed_attributes: unknown) =>
      parseChatwootWebhook(config, req({ event: 'contact_updated', id: 4, changed_attributes }));
    // Chatwoot updates the contact's last_activity_at on every message it sends: nothing to do.
    expect(upd(changed('last_activity_at', 'updated_at'))).toEqual([]);
    expect(upd(changed('custom_attributes'))).toEqual([]);
    for (const attr of ['blocked', 'name', 'email', 'phone_number']) {
      expect(upd(changed('updated_at', attr))).toEqual([expect.objectContaining({ conversationNativeId: null })]);
    }
  });

  it('ignores events about nothing the inbox shows, and messages of another account', () => {
    expect(parseChatwootWebhook(config, req({ event: 'inbox_created', id: 9 }))).toEqual([]);
    expect(parseChatwootWebhook(config, req({ event: 'conversation_typing_on', id: 17 }))).toEqual([]);
    expect(parseChatwootWebhook(config, req({ ...messageCreated, account: { id: 2, name: 'Other' } }))).toEqual([]);
  });
});

describe('chatwoot signed webhooks (docs/vendors/chatwoot.md "Webhooks")', () => {
  const SECRET = 'whsec-a-long-signing-secret';
  const NOW = Date.parse('2026-11-30T12:00:00Z');
  const nowS = Math.floor(NOW / 1000);
  const signedCfg = { sourceId: 'cw', accountId: 1, webhookSecret: SECRET, now: () => NOW };
  const raw = JSON.stringify(statusChanged);
  const signed = (over: { at?: number; body?: string; secret?: string; headers?: Record<string, string> } = {}) => {
    const at = over.at ?? nowS;
    return {
      headers: {
        'content-type': 'application/json',
        'x-chatwoot-signature': signChatwootWebhook(over.body ?? raw, at, over.secret ?? SECRET),
        'x-chatwoot-timestamp': String(at),
        'x-chatwoot-delivery': '6f1c1a52-8d0e-4c57-9a53-0b7f0d2c1e11',
        ...over.headers,
      },
      rawBody: Buffer.from(over.body ?? raw),
      query: {},
    } satisfies WebhookRequest;
  };

  it('signs "{timestamp}.{raw body}" with HMAC-SHA256 as sha256=<hex>', () => {
    const expected = createHmac('sha256', SECRET).update(`${nowS}.${raw}`).digest('hex');
    expect(signChatwootWebhook(raw, nowS, SECRET)).toBe(`sha256=${expected}`);
  });

  it('accepts a signed delivery with a secret alone (no URL token needed)', () => {
    expect(parseChatwootWebhook(signedCfg, signed())).toEqual([
      expect.objectContaining({ conversationNativeId: '1:17' }),
    ]);
    // Up to 5 minutes old, and clock skew up to a minute ahead.
    expect(parseChatwootWebhook(signedCfg, signed({ at: nowS - 300 }))).toHaveLength(1);
    expect(parseChatwootWebhook(signedCfg, signed({ at: nowS + 60 }))).toHaveLength(1);
  });

  it('refuses unsigned, forged, altered, stale and future deliveries when a secret is set (FORBIDDEN)', () => {
    const unsigned = { ...signed(), headers: { 'content-type': 'application/json' } };
    const cases = [
      unsigned,
      signed({ headers: { 'x-chatwoot-signature': '' } }),
      signed({ headers: { 'x-chatwoot-timestamp': '' } }),
      signed({ secret: 'another-secret-123' }),
      signed({ headers: { 'x-chatwoot-signature': `sha256=${'0'.repeat(64)}` } }),
      signed({ headers: { 'x-chatwoot-signature': 'sha256=abc' } }),
      signed({ headers: { 'x-chatwoot-timestamp': String(nowS + 1) } }),
      { ...signed(), rawBody: Buffer.from(raw.replace('resolved', 'open')) },
      signed({ at: nowS - 301 }),
      signed({ at: nowS + 61 }),
      signed({ headers: { 'x-chatwoot-timestamp': 'yesterday' } }),
    ];
    expect(cases.map((c) => codeOf(() => parseChatwootWebhook(signedCfg, c)))).toEqual(Array(11).fill('FORBIDDEN'));
  });

  it('with a token and a secret, requires both; with the token alone, ignores signatures (older Chatwoot, Cloud)', () => {
    const both = { ...signedCfg, webhookToken: 'a-long-webhook-secret' };
    expect(codeOf(() => parseChatwootWebhook(both, signed()))).toBe('FORBIDDEN');
    expect(parseChatwootWebhook(both, { ...signed(), query: { token: 'a-long-webhook-secret' } })).toHaveLength(1);
    const unsignedWithToken = { ...req(statusChanged), headers: { 'content-type': 'application/json' } };
    expect(codeOf(() => parseChatwootWebhook(both, unsignedWithToken))).toBe('FORBIDDEN');
    // Token only: a signature that would not verify does not matter.
    expect(
      parseChatwootWebhook(config, {
        ...signed({ secret: 'unknown-cloud-secret' }),
        query: { token: config.webhookToken },
      }),
    ).toHaveLength(1);
  });

  it('names each delivery by its X-Chatwoot-Delivery id and, when signed, its signature (replay keys)', () => {
    const d = signed();
    expect(chatwootDeliveryKeys({ webhookSecret: SECRET }, d)).toEqual([
      'delivery:6f1c1a52-8d0e-4c57-9a53-0b7f0d2c1e11',
      `signature:${d.headers['x-chatwoot-signature']}`,
    ]);
    // A token-only source still dedupes by the delivery id of a newer Chatwoot; an old one sends none.
    expect(chatwootDeliveryKeys({}, d)).toEqual(['delivery:6f1c1a52-8d0e-4c57-9a53-0b7f0d2c1e11']);
    expect(chatwootDeliveryKeys({}, req(statusChanged))).toEqual([]);
    expect(chatwootDeliveryKeys({}, signed({ headers: { 'x-chatwoot-delivery': 'bad id\n' } }))).toEqual([]);
  });
});

describe('chatwoot error mapping (docs/vendors/chatwoot.md "Errors")', () => {
  const res = (status: number, body: unknown) => ({ status, body, headers: new Headers(), method: 'GET', path: '/x' });
  it('maps 404 to NOT_FOUND with the source', () => {
    const e = mapChatwootError('cw', res(404, { error: 'Resource could not be found' }));
    expect(e?.code).toBe('NOT_FOUND');
    expect(e?.extensions.source).toBe('cw');
  });
  it('maps 422 validation to SOURCE_REJECTED carrying the vendor message', () => {
    const e = mapChatwootError(
      'cw',
      res(422, { message: 'Content is too long (maximum is 150000 characters)', attributes: ['content'] }),
    );
    expect(e?.code).toBe('SOURCE_REJECTED');
    expect(e?.message).toContain('Content is too long');
    expect(
      mapChatwootError('cw', res(422, { error: 'param is missing or the value is empty: labels' }))?.message,
    ).toContain('param is missing');
  });
  it('maps the 401 of an authorization failure to FORBIDDEN and any other 401 to SOURCE_AUTH_FAILED', () => {
    expect(mapChatwootError('cw', res(401, { error: 'You are not authorized to do this action' }))?.code).toBe(
      'FORBIDDEN',
    );
    expect(mapChatwootError('cw', res(401, { error: 'Invalid Access Token' }))?.code).toBe('SOURCE_AUTH_FAILED');
    expect(mapChatwootError('cw', res(401, { error: 'You are not authorized to access this account' }))?.code).toBe(
      'SOURCE_AUTH_FAILED',
    );
  });
  it('leaves 429 and 5xx to the generic mapping', () => {
    expect(mapChatwootError('cw', res(429, 'Retry later\n'))).toBeUndefined();
    expect(mapChatwootError('cw', res(500, { error: 'boom' }))).toBeUndefined();
  });
});
