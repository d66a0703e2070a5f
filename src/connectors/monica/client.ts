import type { MonicaSourceConfig } from '../../config/schema';
import { ErrorCode, GatewayError } from '../../errors';
import { decode, vendorMessages } from '../decode';
import { parseRetryAfter, type HttpClient, type HttpErrorResponse } from '../http';
import type { ConnectorDeps, RequestScope } from '../types';
import { createVendorHttp } from '../vendor';
import {
  monicaContactEnvelope,
  monicaContactFieldTypePage,
  monicaConversationEnvelope,
  monicaConversationPage,
  monicaDeleted,
  monicaError,
  monicaUserEnvelope,
  type MonicaContactDto,
  type MonicaContactFieldTypePageDto,
  type MonicaConversationDto,
  type MonicaConversationInputDto,
  type MonicaConversationPageDto,
  type MonicaConversationUpdateDto,
  type MonicaMessageInputDto,
  type MonicaUserDto,
} from './types';

/** docs/vendors/monica.md "Pagination": `limit` above 100 is a 400 with error_code 30. */
export const MONICA_MAX_LIMIT = 100;

/** Why Monica refused a write with 422/32, when the gateway can tell (see {@link classifyValidation}). */
export type MonicaRejection = 'UNKNOWN_ID' | 'CONTACT_ARCHIVED';

/**
 * The `exists:` rule's English message for an id field ("The selected conversation id is invalid."): the object does
 * not exist. Monica's services validate `exists:conversations,id` (and contacts, contact field types, messages)
 * before their `findOrFail`, so an unknown id on PUT/DELETE /conversations/{id} (and an unknown contact or type on
 * POST /conversations) is 422/32 with this text, not 404/31 (docs/vendors/monica.md "Errors").
 */
const UNKNOWN_ID = /^The selected (conversation|contact|contact field type|message) id is invalid\.$/;
/** Contact::throwInactive's English message (`people.archived_contact_readonly`), either apostrophe. */
const ARCHIVED = /^Archived contact can[’']t be edited, please unarchive it first\.?$/;

/**
 * Reads a 422/32's messages. The texts are translated into the account user's locale (Monica's CheckLocale), so
 * only English is recognised here; for anything else the session asks Monica what it has (MonicaSession.explain).
 */
export function classifyValidation(messages: readonly string[]): { reason: MonicaRejection; what: string } | null {
  for (const m of messages) {
    const id = UNKNOWN_ID.exec(m.trim());
    if (id) return { reason: 'UNKNOWN_ID', what: id[1] as string };
  }
  if (messages.some((m) => ARCHIVED.test(m.trim()))) return { reason: 'CONTACT_ARCHIVED', what: 'contact' };
  return null;
}

/**
 * The typed error for a write on an archived contact. SOURCE_REJECTED (the vendor refused the write because of the
 * object's state, and the same request works once the contact is unarchived in Monica) rather than FORBIDDEN, which
 * means the gateway key may not do this and points the caller at credentials; `reason: CONTACT_ARCHIVED` lets an
 * app tell it apart from a validation failure (docs/vendors/monica.md "Errors").
 */
export function contactArchivedError(sourceId: string, what: string, vendorMessage?: string): GatewayError {
  return new GatewayError(
    ErrorCode.SOURCE_REJECTED,
    `Source "${sourceId}" refused ${what}: the contact is archived in Monica, which makes its conversations ` +
      `read-only; unarchive the contact in Monica first.${vendorMessage ? ` (${vendorMessage})` : ''}`,
    { source: sourceId, status: 422, vendorCode: 32, reason: 'CONTACT_ARCHIVED' },
  );
}

/**
 * True when every message is one of Laravel's English validation texts (they all begin with "The "), so
 * {@link classifyValidation} has read them and found neither an unknown id nor an archived contact.
 */
export function isEnglishValidation(messages: readonly string[]): boolean {
  return messages.length > 0 && messages.every((m) => /^The /.test(m.trim()));
}

/**
 * Monica's error body → GatewayError (docs/vendors/monica.md "Errors"). Codes: 31 not found (404), 32 validation (422,
 * `message` is an array), 34 rate limited (429), 30/37/39 bad limit/JSON/sort (400). A 422/32 naming an unknown
 * id is NOT_FOUND and one saying the contact is archived is SOURCE_REJECTED with `reason: CONTACT_ARCHIVED`; other
 * 422s stay SOURCE_REJECTED, with Monica's messages in `vendorMessages`. Anything else falls back to the generic
 * mapping (401 → SOURCE_AUTH_FAILED, 5xx → SOURCE_UNAVAILABLE).
 */
export function mapMonicaError(sourceId: string, res: HttpErrorResponse): GatewayError | undefined {
  const parsed = monicaError.safeParse(res.body);
  const code = parsed.success ? parsed.data.error.error_code : null;
  const raw = parsed.success ? parsed.data.error.message : null;
  const messages = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const text = messages.join('; ');
  const what = `${res.method} ${res.path}`;
  if (res.status === 404 || code === 31) {
    return new GatewayError(ErrorCode.NOT_FOUND, `Source "${sourceId}" has no such object (${what}).`, {
      source: sourceId,
    });
  }
  if (res.status === 429 || code === 34) {
    return new GatewayError(ErrorCode.SOURCE_RATE_LIMITED, `Source "${sourceId}" is rate-limiting the gateway.`, {
      source: sourceId,
      retryAfter: parseRetryAfter(res.headers.get('retry-after')),
    });
  }
  if (res.status === 422 && code === 32) {
    const known = classifyValidation(messages);
    if (known?.reason === 'UNKNOWN_ID') {
      return new GatewayError(ErrorCode.NOT_FOUND, `Source "${sourceId}" has no such ${known.what} (${what}).`, {
        source: sourceId,
      });
    }
    if (known?.reason === 'CONTACT_ARCHIVED') return contactArchivedError(sourceId, what, text);
  }
  if (code !== null && (res.status === 422 || res.status === 400)) {
    return new GatewayError(
      ErrorCode.SOURCE_REJECTED,
      `Source "${sourceId}" rejected ${what}${text ? `: ${text}` : ''}.`,
      { source: sourceId, status: res.status, vendorCode: code, vendorMessages: vendorMessages(messages) },
    );
  }
  return undefined;
}

/**
 * The client of one Monica source: Bearer token (Passport) and JSON always (docs/vendors/monica.md "Auth"), the
 * source's limits from `deps.policy`.
 */
export function createMonicaClient(config: MonicaSourceConfig, deps: ConnectorDeps = {}): MonicaClient {
  const http = createVendorHttp(config, deps, {
    headers: {
      authorization: `Bearer ${config.credentials.token}`,
      // docs/vendors/monica.md: without it Laravel may redirect an unauthenticated call to the login page instead of 401.
      accept: 'application/json',
    },
    mapError: (res) => mapMonicaError(config.id, res),
  });
  return new MonicaClient(http);
}

/** Raw Monica 4.x REST calls (docs/vendors/monica.md "Endpoints"), each returning a decoded DTO. */
export class MonicaClient {
  readonly sourceId: string;

  constructor(readonly http: HttpClient) {
    this.sourceId = http.sourceId;
  }

  /**
   * One page of `GET /conversations`, or of `GET /contacts/{id}/conversations` when `contactId` is given; `sort`
   * (docs/vendors/monica.md "Ordering": created_at or updated_at, `-` for descending) only when given.
   */
  async listConversations(
    scope: RequestScope,
    q: { page: number; limit: number; contactId?: number; sort?: '-updated_at' | 'created_at' },
  ): Promise<MonicaConversationPageDto> {
    const path = q.contactId === undefined ? '/conversations' : `/contacts/${q.contactId}/conversations`;
    const query = q.sort ? { page: q.page, limit: q.limit, sort: q.sort } : { page: q.page, limit: q.limit };
    const body = await this.http.get(scope, path, query);
    return decode(monicaConversationPage, body, this.sourceId, 'conversation page', scope);
  }

  async getConversation(scope: RequestScope, id: number): Promise<MonicaConversationDto> {
    const body = await this.http.get(scope, `/conversations/${id}`);
    return decode(monicaConversationEnvelope, body, this.sourceId, 'conversation', scope).data;
  }

  async createConversation(scope: RequestScope, input: MonicaConversationInputDto): Promise<MonicaConversationDto> {
    const res = await this.http.request(scope, { method: 'POST', path: '/conversations', json: input });
    return decode(monicaConversationEnvelope, res.body, this.sourceId, 'conversation', scope).data;
  }

  async updateConversation(
    scope: RequestScope,
    id: number,
    input: MonicaConversationUpdateDto,
  ): Promise<MonicaConversationDto> {
    // PUT with the full state is idempotent, so a retry on a transient failure is safe.
    const res = await this.http.request(scope, {
      method: 'PUT',
      path: `/conversations/${id}`,
      json: input,
      idempotent: true,
    });
    return decode(monicaConversationEnvelope, res.body, this.sourceId, 'conversation', scope).data;
  }

  async deleteConversation(scope: RequestScope, id: number): Promise<void> {
    const res = await this.http.request(scope, { method: 'DELETE', path: `/conversations/${id}` });
    decode(monicaDeleted, res.body, this.sourceId, 'delete confirmation');
  }

  /** docs/vendors/monica.md: answers with the whole parent conversation, not the message. */
  async addMessage(
    scope: RequestScope,
    conversationId: number,
    input: MonicaMessageInputDto,
  ): Promise<MonicaConversationDto> {
    const res = await this.http.request(scope, {
      method: 'POST',
      path: `/conversations/${conversationId}/messages`,
      json: input,
    });
    return decode(monicaConversationEnvelope, res.body, this.sourceId, 'conversation', scope).data;
  }

  async updateMessage(
    scope: RequestScope,
    conversationId: number,
    messageId: number,
    input: MonicaMessageInputDto,
  ): Promise<MonicaConversationDto> {
    const res = await this.http.request(scope, {
      method: 'PUT',
      path: `/conversations/${conversationId}/messages/${messageId}`,
      json: input,
      idempotent: true,
    });
    return decode(monicaConversationEnvelope, res.body, this.sourceId, 'conversation', scope).data;
  }

  async deleteMessage(scope: RequestScope, conversationId: number, messageId: number): Promise<void> {
    const res = await this.http.request(scope, {
      method: 'DELETE',
      path: `/conversations/${conversationId}/messages/${messageId}`,
    });
    decode(monicaDeleted, res.body, this.sourceId, 'delete confirmation');
  }

  /** A full contact with its contact fields (email, phone live there: docs/vendors/monica.md "Objects"). */
  async getContact(scope: RequestScope, id: number): Promise<MonicaContactDto> {
    const body = await this.http.get(scope, `/contacts/${id}`, { with: 'contactfields' });
    return decode(monicaContactEnvelope, body, this.sourceId, 'contact', scope).data;
  }

  async getMe(scope: RequestScope): Promise<MonicaUserDto> {
    const body = await this.http.get(scope, '/me');
    return decode(monicaUserEnvelope, body, this.sourceId, 'user', scope).data;
  }

  async listContactFieldTypes(
    scope: RequestScope,
    q: { page: number; limit: number },
  ): Promise<MonicaContactFieldTypePageDto> {
    const body = await this.http.get(scope, '/contactfieldtypes', { page: q.page, limit: q.limit });
    return decode(monicaContactFieldTypePage, body, this.sourceId, 'contact field type page');
  }
}
