import { mapChatwootError } from '../../../../src/connectors/chatwoot/client';
import { parseChatwootWebhook } from '../../../../src/connectors/chatwoot/webhook';
import type { WebhookRequest } from '../../../../src/connectors/types';
import type { GatewayError } from '../../../../src/errors';

const config = { sourceId: 'cw', accountId: 1, webhookToken: 'a-long-webhook-secret' };
/** `token: null` sends none. */
const req = (body: unknown, token: string | null = config.webhookToken): WebhookRequest => ({
  headers: { 'content-type': 'application/json' },
  rawBody: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  query: token === null ? {} : { token },
});
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as GatewayError).code;
  }
  return 'no error';
};

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
  it('refuses a delivery without the token, with a wrong token, or when no token is configured (FORBIDDEN)', () => {
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
      { sourceId: 'cw', conversationNativeId: '1:17', eventId: 'message_created:301:2026-11-21T05:00:00.000Z' },
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
    });
    expect(b?.eventId).toBe(a?.eventId);
    expect(c?.eventId).not.toBe(a?.eventId);
    for (const event of ['conversation_created', 'conversation_updated']) {
      expect(parseChatwootWebhook(config, req({ ...statusChanged, event }))[0]?.conversationNativeId).toBe('1:17');
    }
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
