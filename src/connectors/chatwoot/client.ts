import type { ChatwootSourceConfig } from '../../config/schema';
import { ErrorCode, GatewayError } from '../../errors';
import { decode, vendorMessages } from '../decode';
import type { HttpClient, HttpErrorResponse, QueryValue } from '../http';
import type { ConnectorDeps, RequestScope, StagedFile } from '../types';
import { createVendorHttp } from '../vendor';
import {
  chatwootAgentBot,
  chatwootAgentList,
  chatwootContactShow,
  chatwootConversation,
  chatwootConversationList,
  chatwootError,
  chatwootFilterPage,
  chatwootLabels,
  chatwootMessage,
  chatwootMessageList,
  chatwootToggleStatus,
  chatwootUnreadCounts,
} from './types';

/**
 * docs/vendors/chatwoot.md "Pagination": a conversation page holds `CONVERSATION_RESULTS_PER_PAGE` rows, an instance
 * setting (25 by default) that no request can change or read, so the connector never relies on it: it reads until
 * a page shorter than the first one, or an empty one (session.ts `readAllPages`). This is only the default, for
 * cost estimates.
 */
export const CHATWOOT_DEFAULT_PAGE_SIZE = 25;
/**
 * How many display ids one `POST /conversations/filter` asks about: the filter pages by Kaminari's default 25
 * (docs/vendors/chatwoot.md "Filter"), so 25 ids are answered by one request.
 */
export const CHATWOOT_FILTER_BATCH = 25;
/** docs/vendors/chatwoot.md "Pagination": `before` returns 20 older messages, `after` up to 100 newer. */
export const CHATWOOT_MESSAGES_BEFORE = 20;
export const CHATWOOT_MESSAGES_AFTER = 100;

export interface ListQuery {
  page: number;
  /** open|resolved|pending|snoozed|all; docs/vendors/chatwoot.md: the default is open, so callers always send one. */
  status: string;
  q?: string;
  labels?: string[];
  /**
   * Only conversations whose `updated_at` is within this many seconds of the vendor's now, **not paged**
   * (docs/vendors/chatwoot.md "List", `updated_within`): the catalog's incremental refresh.
   */
  updatedWithin?: number;
}

/**
 * The client of one Chatwoot account: paths relative to `/api/v1/accounts/{account_id}`, the token in
 * `api_access_token`, the source's limits from `deps.policy`.
 */
export function createChatwootClient(config: ChatwootSourceConfig, deps: ConnectorDeps = {}): ChatwootClient {
  return new ChatwootClient(
    createVendorHttp(config, deps, {
      baseUrl: `${config.baseUrl.replace(/\/+$/, '')}/api/v1/accounts/${config.accountId}`,
      headers: { api_access_token: config.credentials.apiAccessToken },
      mapError: (res) => mapChatwootError(config.id, res),
    }),
  );
}

/**
 * Raw Chatwoot Application API calls (docs/vendors/chatwoot.md) → decoded DTOs. Paths are relative to
 * `/api/v1/accounts/{account_id}`; the token travels in `api_access_token`.
 */
export class ChatwootClient {
  private readonly source: string;

  constructor(readonly http: HttpClient) {
    this.source = http.sourceId;
  }

  private conv(displayId: number, rest = '') {
    return `/conversations/${displayId}${rest}`;
  }

  async listConversations(scope: RequestScope, q: ListQuery) {
    const query: Record<string, QueryValue> = {
      page: q.page,
      status: q.status,
      assignee_type: 'all',
      // docs/vendors/chatwoot.md "Ordering": native, and the emulator breaks ties by display id ascending.
      sort_by: 'last_activity_at_desc',
      q: q.q,
      labels: q.labels && q.labels.length > 0 ? q.labels : undefined,
      updated_within: q.updatedWithin,
    };
    const body = await this.http.get(scope, '/conversations', query);
    return decode(chatwootConversationList, body, this.source, 'conversation list', scope).data;
  }

  /**
   * One page of the conversations whose display id is one of `displayIds` (docs/vendors/chatwoot.md "Filter":
   * `display_id` `equal_to` is `display_id IN (...)`), every status, newest activity first. A read, so retried.
   */
  async filterByDisplayIds(scope: RequestScope, displayIds: number[], page: number) {
    const res = await this.http.request(scope, {
      method: 'POST',
      path: '/conversations/filter',
      query: { page },
      json: {
        payload: [
          { attribute_key: 'display_id', filter_operator: 'equal_to', values: displayIds, query_operator: null },
        ],
      },
      idempotent: true,
    });
    return decode(chatwootFilterPage, res.body, this.source, 'conversation filter', scope).payload;
  }

  /** Open conversations with unread messages, per inbox id (a Chatwoot with the feature; otherwise 404 or 403). */
  async unreadCounts(scope: RequestScope): Promise<Record<string, number>> {
    const body = await this.http.get(scope, '/conversations/unread_counts');
    return decode(chatwootUnreadCounts, body, this.source, 'unread counts').payload.inboxes;
  }

  async getConversation(scope: RequestScope, displayId: number) {
    const body = await this.http.get(scope, this.conv(displayId));
    return decode(chatwootConversation, body, this.source, 'conversation', scope);
  }

  async createConversation(
    scope: RequestScope,
    input: { inboxId: number; contactId: number; content?: string; subject?: string },
  ) {
    const res = await this.http.request(scope, {
      method: 'POST',
      path: '/conversations',
      json: {
        inbox_id: input.inboxId,
        contact_id: input.contactId,
        ...(input.subject ? { additional_attributes: { mail_subject: input.subject } } : {}),
        ...(input.content ? { message: { content: input.content } } : {}),
      },
    });
    return decode(chatwootConversation, res.body, this.source, 'created conversation', scope);
  }

  async deleteConversation(scope: RequestScope, displayId: number): Promise<void> {
    await this.http.request(scope, { method: 'DELETE', path: this.conv(displayId) });
  }

  async toggleStatus(scope: RequestScope, displayId: number, status: string) {
    const res = await this.http.request(scope, {
      method: 'POST',
      path: this.conv(displayId, '/toggle_status'),
      json: { status },
      // Setting an explicit status is idempotent.
      idempotent: true,
    });
    return decode(chatwootToggleStatus, res.body, this.source, 'status toggle').payload;
  }

  /** docs/vendors/chatwoot.md: POST labels replaces the whole list. */
  async setLabels(scope: RequestScope, displayId: number, labels: string[]) {
    const res = await this.http.request(scope, {
      method: 'POST',
      path: this.conv(displayId, '/labels'),
      json: { labels },
      idempotent: true,
    });
    return decode(chatwootLabels, res.body, this.source, 'labels').payload;
  }

  /** POST mute|unmute; 200 with an empty body. Not retried: each call also writes an activity message. */
  async setMuted(scope: RequestScope, displayId: number, muted: boolean): Promise<void> {
    await this.http.request(scope, { method: 'POST', path: this.conv(displayId, muted ? '/mute' : '/unmute') });
  }

  /** POST update_last_seen (read) or unread; both answer with the conversation (docs/vendors/chatwoot.md). */
  async setSeen(scope: RequestScope, displayId: number, read: boolean) {
    const res = await this.http.request(scope, {
      method: 'POST',
      path: this.conv(displayId, read ? '/update_last_seen' : '/unread'),
      idempotent: true,
    });
    return decode(chatwootConversation, res.body, this.source, 'conversation', scope);
  }

  /** GET messages: no cursor = the latest 20; `before` = 20 older; `after` = up to 100 newer; both = between. */
  async listMessages(scope: RequestScope, displayId: number, cursor: { before?: number; after?: number }) {
    const body = await this.http.get(scope, this.conv(displayId, '/messages'), {
      before: cursor.before,
      after: cursor.after,
    });
    return decode(chatwootMessageList, body, this.source, 'message list', scope);
  }

  /**
   * docs/vendors/chatwoot.md "Attachments on send": files go as multipart `attachments[]` with the message; without
   * files the body is JSON.
   */
  async sendMessage(
    scope: RequestScope,
    displayId: number,
    input: { content: string; private: boolean; files: StagedFile[] },
  ) {
    const path = this.conv(displayId, '/messages');
    let res;
    if (input.files.length > 0) {
      const form = new FormData();
      form.append('content', input.content);
      form.append('message_type', 'outgoing');
      form.append('private', String(input.private));
      for (const f of input.files) {
        form.append('attachments[]', new Blob([new Uint8Array(f.data)], { type: f.contentType }), f.filename);
      }
      res = await this.http.request(scope, { method: 'POST', path, form });
    } else {
      res = await this.http.request(scope, {
        method: 'POST',
        path,
        json: { content: input.content, message_type: 'outgoing', private: input.private },
      });
    }
    return decode(chatwootMessage, res.body, this.source, 'message', scope);
  }

  /** docs/vendors/chatwoot.md "Delete msg": a soft delete; answers with the message. */
  async deleteMessage(scope: RequestScope, displayId: number, messageId: number): Promise<void> {
    await this.http.request(scope, { method: 'DELETE', path: this.conv(displayId, `/messages/${messageId}`) });
  }

  async getContact(scope: RequestScope, id: number) {
    const body = await this.http.get(scope, `/contacts/${id}`);
    return decode(chatwootContactShow, body, this.source, 'contact', scope).payload;
  }

  async listAgents(scope: RequestScope) {
    const body = await this.http.get(scope, '/agents');
    return decode(chatwootAgentList, body, this.source, 'agent list');
  }

  async getAgentBot(scope: RequestScope, id: number) {
    const body = await this.http.get(scope, `/agent_bots/${id}`);
    return decode(chatwootAgentBot, body, this.source, 'agent bot', scope);
  }
}

/**
 * docs/vendors/chatwoot.md "Errors": `{error}` bodies; 401 covers a bad token *and* Pundit authorization failures
 * ("You are not authorized to do this action", where the swagger says 403); 422 is validation with
 * `{message, attributes}` (or `{error}` for a missing parameter). 429 is Rack::Attack's plain text and takes
 * the generic mapping.
 */
export function mapChatwootError(source: string, res: HttpErrorResponse): GatewayError | undefined {
  const parsed = chatwootError.safeParse(res.body);
  const body = parsed.success ? parsed.data : {};
  const text = body.message ?? body.error;
  switch (res.status) {
    case 404:
      return new GatewayError(ErrorCode.NOT_FOUND, `${text ?? 'Resource could not be found'} in source "${source}".`, {
        source,
      });
    case 422:
      return new GatewayError(
        ErrorCode.SOURCE_REJECTED,
        `Source "${source}" rejected the request: ${text ?? 'invalid input'}.`,
        {
          source,
          status: res.status,
          vendorMessages: vendorMessages(text),
          ...(body.attributes ? { attributes: body.attributes } : {}),
        },
      );
    case 401:
      if (body.error === 'You are not authorized to do this action') {
        return new GatewayError(ErrorCode.FORBIDDEN, `Source "${source}" does not allow this user to do that.`, {
          source,
        });
      }
      return new GatewayError(ErrorCode.SOURCE_AUTH_FAILED, `Source "${source}" refused the gateway's credentials.`, {
        source,
      });
    case 403:
      return new GatewayError(ErrorCode.FORBIDDEN, `Source "${source}" denied access.`, { source });
    default:
      return undefined;
  }
}
