import type { z } from 'zod';
import { ErrorCode, GatewayError } from '../../errors';
import { decode, vendorMessages } from '../decode';
import type { HttpClient, HttpErrorResponse, QueryValue } from '../http';
import type { ProtocolSourceConfig } from '../../config/schema';
import type { ConnectorDeps, RequestScope, StagedFile } from '../types';
import { checkNativeId, createVendorHttp, type NativeIdEntity } from '../vendor';
import { PROTOCOL_PROFILE } from './profile';
import { hasNull, NULL_ENCODINGS, toForm, type FormValue, type NullEncoding } from './form';
import {
  protocolAttachment,
  protocolContact,
  protocolConversation,
  protocolError,
  protocolGroup,
  protocolList,
  protocolMessage,
  type ProtocolAttachmentDto,
  type ProtocolContactDto,
  type ProtocolConversationDto,
  type ProtocolGroupDto,
  type ProtocolListDto,
  type ProtocolMessageDto,
} from './types';

type AttachmentShape = 'ids' | 'objects';

/** The largest page the API serves (pagination page: "you can go as high as 100"). */
export const PAGE_MAX = 100;

/** Cursor and page size of one list request (pagination page). */
export type ListParams = {
  limit?: number;
  starting_after?: string;
  ending_before?: string;
};

/** List filters of `GET /v1/conversations` ("Only show … when set to `true`"). */
export type ConversationListFilter = {
  archived?: boolean;
  muted?: boolean;
  pinned?: boolean;
  group_id?: string;
};

export type ConversationUpdate = {
  is_pinned?: boolean;
  is_muted?: boolean;
  /** Epoch seconds; null un-archives (docs/vendors/protocol.md "Assumptions": how null is written is not documented). */
  archived_at?: number | null;
};

/**
 * The client of one Protocol account: Bearer token, the vendor's errors mapped (mapProtocolError, with the profile's
 * attachment limit), the source's limits from `deps.policy`.
 */
export function createProtocolClient(config: ProtocolSourceConfig, deps: ConnectorDeps = {}): ProtocolClient {
  return new ProtocolClient(
    createVendorHttp(config, deps, {
      headers: { authorization: `Bearer ${config.credentials.token}` },
      mapError: mapProtocolError(config.id, PROTOCOL_PROFILE.capabilities.maxAttachmentSize ?? 0),
    }),
  );
}

/**
 * Raw Protocol REST calls (docs/vendors/protocol.md) through the shared HttpClient, decoded into wire DTOs. No canonical
 * types here. Bodies go out form-encoded (application/x-www-form-urlencoded, brackets for arrays and objects) and
 * files as multipart, as every example of the vendor's documents does (docs/vendors/protocol.md "Request bodies");
 * never JSON, which no document shows.
 */
export class ProtocolClient {
  /**
   * How this vendor took a null the last time one went out (docs/vendors/protocol.md "Assumptions"): tried first next
   * time, so the fallback costs its extra request once per connector.
   */
  private nullEncoding: NullEncoding | null = null;
  /**
   * Whether message lists still look newest first, as assumed (docs/vendors/protocol.md "Assumptions": the order is not
   * documented). Every list of two or more messages is checked; once one is not, the session stops relying on
   * the order (full reads, sorted by `created_at`) for the life of the connector.
   */
  private newestFirst = true;
  /** The shape of `attachments` the vendor took last (see createMessage). */
  private attachmentShape: AttachmentShape | null = null;

  constructor(readonly http: HttpClient) {}

  /** A native id checked against the vendor's format (profile.ts `ids`) before it goes into a path or body. */
  private id(entity: NativeIdEntity, id: string): string {
    return checkNativeId(PROTOCOL_PROFILE, this.sourceId, entity, id);
  }

  /** False once a message list arrived in another order than newest first. */
  get messagesNewestFirst(): boolean {
    return this.newestFirst;
  }

  private checkOrder(list: ProtocolListDto<ProtocolMessageDto>): ProtocolListDto<ProtocolMessageDto> {
    if (!this.newestFirst) return list;
    for (let i = 1; i < list.data.length; i++) {
      if (
        ((list.data[i] as ProtocolMessageDto).created_at ?? 0) >
        ((list.data[i - 1] as ProtocolMessageDto).created_at ?? 0)
      ) {
        this.newestFirst = false;
        break;
      }
    }
    return list;
  }

  get sourceId(): string {
    return this.http.sourceId;
  }

  // Conversations

  listConversations(
    scope: RequestScope,
    params: ListParams & ConversationListFilter,
  ): Promise<ProtocolListDto<ProtocolConversationDto>> {
    return this.list(scope, '/conversations', params, protocolConversation, 'conversation list');
  }
  /** Every page, 100 at a time: the API cannot sort by activity, so the gateway sorts (docs/vendors/protocol.md). */
  listAllConversations(scope: RequestScope, filter: ConversationListFilter = {}): Promise<ProtocolConversationDto[]> {
    return this.all((p) => this.listConversations(scope, { ...filter, ...p }));
  }
  async getConversation(scope: RequestScope, id: string): Promise<ProtocolConversationDto> {
    return this.one(
      scope,
      'GET',
      `/conversations/${enc(this.id('conversation', id))}`,
      undefined,
      protocolConversation,
      'conversation',
    );
  }
  /** docs/vendors/protocol.md: "Create needs `contact_id` **or** `group_id`". */
  createConversation(
    scope: RequestScope,
    body: { contact_id: string } | { group_id: string },
  ): Promise<ProtocolConversationDto> {
    return this.one(scope, 'POST', '/conversations', body, protocolConversation, 'conversation');
  }
  /**
   * `archived_at: null` un-archives. No document shows how a null is form-encoded, so this tries `archived_at=`
   * and then `archived_at=null` until the vendor answers with the field cleared (docs/vendors/protocol.md
   * "Assumptions").
   */
  updateConversation(scope: RequestScope, id: string, body: ConversationUpdate): Promise<ProtocolConversationDto> {
    return this.one(
      scope,
      'PUT',
      `/conversations/${enc(this.id('conversation', id))}`,
      body,
      protocolConversation,
      'conversation',
    );
  }
  async deleteConversation(scope: RequestScope, id: string): Promise<void> {
    // Not retried: a repeat after a lost answer would turn a done delete into NOT_FOUND.
    await this.http.request(scope, { method: 'DELETE', path: `/conversations/${enc(this.id('conversation', id))}` });
  }

  // Messages

  async listMessages(
    scope: RequestScope,
    conversationId: string,
    params: ListParams,
  ): Promise<ProtocolListDto<ProtocolMessageDto>> {
    return this.checkOrder(
      await this.list(
        scope,
        '/messages',
        { ...params, conversation_id: this.id('conversation', conversationId) },
        protocolMessage,
        'message list',
      ),
    );
  }
  /** One conversation's messages in the API's order (newest first, unless {@link messagesNewestFirst} is false), every page. */
  listAllMessages(scope: RequestScope, conversationId: string): Promise<ProtocolMessageDto[]> {
    return this.all((p) => this.listMessages(scope, conversationId, p));
  }
  /** One page of the account's messages (no `conversation_id`), newest first: the catalog's incremental refresh. */
  async listAccountMessages(scope: RequestScope, params: ListParams): Promise<ProtocolListDto<ProtocolMessageDto>> {
    return this.checkOrder(await this.list(scope, '/messages', { ...params }, protocolMessage, 'message list'));
  }
  /** Every message of the account (no `conversation_id`), newest first, 100 a request: the catalog's full sync. */
  listEveryMessage(scope: RequestScope): Promise<ProtocolMessageDto[]> {
    return this.all(async (p) =>
      this.checkOrder(await this.list(scope, '/messages', p, protocolMessage, 'message list')),
    );
  }
  getMessage(scope: RequestScope, id: string): Promise<ProtocolMessageDto> {
    return this.one(scope, 'GET', `/messages/${enc(this.id('message', id))}`, undefined, protocolMessage, 'message');
  }
  /**
   * `attachments` is "an array of attachment objects" on the messages page, with no example: ids go out as
   * `attachments[]=<id>` and, when the vendor refuses that (a 4xx creates nothing), as `attachments[0][id]=<id>`;
   * the shape that worked is tried first next time (docs/vendors/protocol.md "Assumptions"). A vendor that creates the
   * message but leaves the files out gets them with a PUT in the other shape ("adding an attachment" is a documented
   * update).
   */
  async createMessage(
    scope: RequestScope,
    body: { conversation_id: string; message: string; attachments?: string[] },
  ): Promise<ProtocolMessageDto> {
    this.id('conversation', body.conversation_id);
    const ids = (body.attachments ?? []).map((a) => this.id('attachment', a));
    if (ids.length === 0) return this.one(scope, 'POST', '/messages', body, protocolMessage, 'message');
    const shaped = (shape: AttachmentShape): FormValue => (shape === 'ids' ? ids : ids.map((id) => ({ id })));
    const order: AttachmentShape[] = this.attachmentShape === 'objects' ? ['objects', 'ids'] : ['ids', 'objects'];
    let sent: { dto: ProtocolMessageDto; shape: AttachmentShape } | null = null;
    let rejected: unknown = null;
    for (const shape of order) {
      try {
        const dto = await this.one(
          scope,
          'POST',
          '/messages',
          { ...body, attachments: shaped(shape) },
          protocolMessage,
          'message',
        );
        sent = { dto, shape };
        break;
      } catch (e) {
        if (!(e instanceof GatewayError && e.code === ErrorCode.SOURCE_REJECTED)) throw e;
        rejected ??= e;
      }
    }
    if (!sent) throw rejected;
    const attached = (m: ProtocolMessageDto) => ids.every((id) => (m.attachments ?? []).some((a) => a.id === id));
    if (attached(sent.dto)) {
      this.attachmentShape = sent.shape;
      return sent.dto;
    }
    const other: AttachmentShape = sent.shape === 'ids' ? 'objects' : 'ids';
    const fixed = await this.one(
      scope,
      'PUT',
      `/messages/${enc(sent.dto.id)}`,
      { attachments: shaped(other) },
      protocolMessage,
      'message',
    );
    if (!attached(fixed)) {
      throw new GatewayError(
        ErrorCode.SOURCE_REJECTED,
        `Source "${this.sourceId}" created message ${sent.dto.id} without its attachments, in either shape.`,
        { source: this.sourceId },
      );
    }
    this.attachmentShape = other;
    return fixed;
  }
  updateMessage(scope: RequestScope, id: string, body: { message: string }): Promise<ProtocolMessageDto> {
    return this.one(scope, 'PUT', `/messages/${enc(this.id('message', id))}`, body, protocolMessage, 'message');
  }
  async deleteMessage(scope: RequestScope, id: string): Promise<void> {
    await this.http.request(scope, { method: 'DELETE', path: `/messages/${enc(this.id('message', id))}` });
  }

  // Contacts and groups

  getContact(scope: RequestScope, id: string): Promise<ProtocolContactDto> {
    return this.one(scope, 'GET', `/contacts/${enc(this.id('contact', id))}`, undefined, protocolContact, 'contact');
  }
  listAllContacts(scope: RequestScope): Promise<ProtocolContactDto[]> {
    return this.all((p) => this.list(scope, '/contacts', p, protocolContact, 'contact list'));
  }
  getGroup(scope: RequestScope, id: string): Promise<ProtocolGroupDto> {
    return this.one(scope, 'GET', `/groups/${enc(this.id('group', id))}`, undefined, protocolGroup, 'group');
  }
  listAllGroups(scope: RequestScope): Promise<ProtocolGroupDto[]> {
    return this.all((p) => this.list(scope, '/groups', p, protocolGroup, 'group list'));
  }

  // Attachments

  /** Attachments page: `POST /v1/attachments` with multipart `file`; the id then goes into the message. */
  async uploadAttachment(scope: RequestScope, file: StagedFile): Promise<ProtocolAttachmentDto> {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(file.data)], { type: file.contentType }), file.filename);
    const res = await this.http.request(scope, { method: 'POST', path: '/attachments', form });
    return decode(protocolAttachment, res.body, this.sourceId, 'attachment', scope);
  }

  // Helpers

  private async list<S extends z.ZodType>(
    scope: RequestScope,
    path: string,
    query: Record<string, QueryValue>,
    item: S,
    what: string,
  ): Promise<ProtocolListDto<z.output<S>>> {
    const body = await this.http.get(scope, path, query);
    return decode(protocolList(item), body, this.sourceId, what, scope) as ProtocolListDto<z.output<S>>;
  }

  private async one<S extends z.ZodType>(
    scope: RequestScope,
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body: Record<string, FormValue> | undefined,
    schema: S,
    what: string,
  ): Promise<z.output<S>> {
    if (!body || !hasNull(body)) return this.send(scope, method, path, body, schema, what, 'empty');
    // A null clears a field: try the encoding the vendor took before, then the others; an answer that still
    // carries a value in a cleared field means the vendor did not read it as null.
    const cleared = Object.keys(body).filter((k) => body[k] === null);
    const known = this.nullEncoding;
    const order = known ? [known, ...NULL_ENCODINGS.filter((e) => e !== known)] : NULL_ENCODINGS;
    let rejected: GatewayError | null = null;
    for (const encoding of order) {
      try {
        const dto = await this.send(scope, method, path, body, schema, what, encoding);
        const answer = dto as Record<string, unknown>;
        if (cleared.every((k) => answer[k] === null || answer[k] === undefined)) {
          this.nullEncoding = encoding;
          return dto;
        }
      } catch (e) {
        if (!(e instanceof GatewayError && e.code === ErrorCode.SOURCE_REJECTED)) throw e;
        rejected ??= e;
      }
    }
    throw new GatewayError(
      ErrorCode.SOURCE_REJECTED,
      `Source "${this.sourceId}" did not clear ${cleared.join(', ')} on ${method} ${path}: it took neither "${cleared[0]}=" nor "${cleared[0]}=null".`,
      { source: this.sourceId, ...(rejected ? { status: rejected.extensions.status } : {}) },
      rejected ?? undefined,
    );
  }

  private async send<S extends z.ZodType>(
    scope: RequestScope,
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body: Record<string, FormValue> | undefined,
    schema: S,
    what: string,
    nulls: NullEncoding,
  ): Promise<z.output<S>> {
    // PUT sets fields to given values, so repeating it is safe; POST creates and is never retried.
    const form = body ? toForm(body, nulls) : undefined;
    const res = await this.http.request(scope, { method, path, form, idempotent: method !== 'POST' });
    return decode(schema, res.body, this.sourceId, what, scope);
  }

  /** Follows `has_more` with `starting_after=<last id>` (pagination page), 100 per request. */
  private async all<T extends { id: string }>(page: (p: ListParams) => Promise<ProtocolListDto<T>>): Promise<T[]> {
    const out: T[] = [];
    let after: string | undefined;
    for (;;) {
      const res = await page({ limit: PAGE_MAX, starting_after: after });
      out.push(...res.data);
      const last = res.data[res.data.length - 1];
      if (!res.has_more || !last) return out;
      after = last.id;
    }
  }
}

const enc = encodeURIComponent;

/**
 * Protocol's error bodies (errors page) → coded GatewayErrors. 404 becomes NOT_FOUND naming the source, 413 the
 * gateway's FILE_TOO_LARGE, and the vendor's own validation errors SOURCE_REJECTED with its message; auth, rate
 * limits and 5xx fall through to the generic mapping in http.ts.
 */
export function mapProtocolError(sourceId: string, maxAttachmentSize: number) {
  return (res: HttpErrorResponse): GatewayError | undefined => {
    const parsed = protocolError.safeParse(res.body);
    const detail = parsed.success ? `: ${parsed.data.message}` : '';
    if (res.status === 404) {
      return new GatewayError(ErrorCode.NOT_FOUND, `Source "${sourceId}" has no such object${detail}`, {
        source: sourceId,
      });
    }
    if (res.status === 413) {
      return new GatewayError(
        ErrorCode.FILE_TOO_LARGE,
        `Source "${sourceId}" refused the file as too large; it accepts at most ${maxAttachmentSize} bytes.`,
        { source: sourceId, maxSize: maxAttachmentSize },
      );
    }
    if (res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 403 && res.status !== 429) {
      return new GatewayError(
        ErrorCode.SOURCE_REJECTED,
        `Source "${sourceId}" rejected ${res.method} ${res.path} (HTTP ${res.status})${detail}`,
        {
          source: sourceId,
          status: res.status,
          ...(parsed.success
            ? { vendorType: parsed.data.type, vendorMessages: vendorMessages(parsed.data.message) }
            : {}),
        },
      );
    }
    return undefined;
  };
}
