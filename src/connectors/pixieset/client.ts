import type { PixiesetSourceConfig } from '../../config/schema';
import { decode, vendorMessages } from '../decode';
import type { HttpClient, HttpErrorResponse } from '../http';
import type { ConnectorDeps, RequestScope } from '../types';
import { checkNativeId, createVendorHttp, type NativeIdEntity } from '../vendor';
import { PIXIESET_PROFILE } from './profile';
import { ErrorCode, GatewayError } from '../../errors';
import {
  pixiesetClientResponse,
  pixiesetDetailResponse,
  pixiesetError,
  pixiesetListResponse,
  pixiesetMessageResponse,
  pixiesetUnreadResponse,
  pixiesetUploadResponse,
} from './types';

/**
 * The client of one Pixieset Studio account: the browser session cookie and X-Requested-With on every call, the
 * CSRF token on writes, the source's limits from `deps.policy`.
 */
export function createPixiesetClient(config: PixiesetSourceConfig, deps: ConnectorDeps = {}): PixiesetClient {
  return new PixiesetClient(
    createVendorHttp(config, deps, {
      // docs/vendors/pixieset.md: a browser session cookie; X-Requested-With as the docs recommend.
      headers: { cookie: config.credentials.sessionCookie, 'x-requested-with': 'XMLHttpRequest' },
      mapError: (res) => mapPixiesetError(config.id, res),
    }),
    config,
  );
}

/** Raw Pixieset Studio calls (docs/vendors/pixieset.md) → decoded DTOs. No GraphQL, no canonical types. */
export class PixiesetClient {
  constructor(
    readonly http: HttpClient,
    private readonly config: PixiesetSourceConfig,
  ) {}

  /** A native id checked against the vendor's format (profile.ts `ids`) before it goes into a path or body. */
  private id(entity: NativeIdEntity, id: string): string {
    return checkNativeId(PIXIESET_PROFILE, this.config.id, entity, id);
  }

  /** docs/vendors/pixieset.md: writes also need X-CSRF-Token. */
  private get writeHeaders() {
    return { 'x-csrf-token': this.config.credentials.csrfToken };
  }

  async list(scope: RequestScope, q: { page: number; pageSize: number; clientId?: string; withMessages: boolean }) {
    // No `message_status`: the seed shows only `inbox` and documents neither its meaning nor other values
    // (docs/vendors/pixieset.md "Assumptions"); the session filters statuses itself.
    const body = await this.http.get(scope, '/conversations/', {
      page: q.page,
      page_size: q.pageSize,
      client_id: q.clientId,
      message: q.withMessages,
    });
    return decode(pixiesetListResponse, body, this.config.id, 'conversation list', scope);
  }

  async detail(scope: RequestScope, id: string) {
    const body = await this.http.get(scope, `/conversations/${encodeURIComponent(this.id('conversation', id))}/`, {
      messages: true,
    });
    return decode(pixiesetDetailResponse, body, this.config.id, 'conversation', scope).data;
  }

  async unread(scope: RequestScope) {
    const body = await this.http.get(scope, '/conversations/unread/count');
    return decode(pixiesetUnreadResponse, body, this.config.id, 'unread count').data;
  }

  async client(scope: RequestScope, id: string) {
    const body = await this.http.get(scope, `/clients/${encodeURIComponent(this.id('contact', id))}`);
    return decode(pixiesetClientResponse, body, this.config.id, 'client', scope).data;
  }

  async send(scope: RequestScope, input: { conversationId: string; content: string; attachmentIds: string[] }) {
    this.id('conversation', input.conversationId);
    for (const a of input.attachmentIds) this.id('attachment', a);
    const res = await this.http.request(scope, {
      method: 'POST',
      path: '/conversation_messages',
      headers: this.writeHeaders,
      json: { conversation_id: input.conversationId, content: input.content, attachment_ids: input.attachmentIds },
    });
    return decode(pixiesetMessageResponse, res.body, this.config.id, 'message', scope).data;
  }

  async uploadUrl(scope: RequestScope, q: { filename: string; contentType: string; size: number }) {
    const body = await this.http.get(scope, '/conversation_message_attachments/upload_url', {
      filename: q.filename,
      content_type: q.contentType,
      file_size: q.size,
    });
    return decode(pixiesetUploadResponse, body, this.config.id, 'upload URL').data;
  }
}

/** docs/vendors/pixieset.md error bodies: CONVERSATION_NOT_FOUND → NOT_FOUND, ACCESS_DENIED → FORBIDDEN, FILE_TOO_LARGE → FILE_TOO_LARGE. */
export function mapPixiesetError(source: string, res: HttpErrorResponse): GatewayError | undefined {
  const parsed = pixiesetError.safeParse(res.body);
  const body = parsed.success ? parsed.data : {};
  switch (body.code) {
    case 'CONVERSATION_NOT_FOUND':
    case 'CLIENT_NOT_FOUND':
      return new GatewayError(ErrorCode.NOT_FOUND, `${body.error ?? 'Not found'} in source "${source}".`, { source });
    case 'ACCESS_DENIED':
      return new GatewayError(ErrorCode.FORBIDDEN, `Source "${source}" denied access to this conversation.`, {
        source,
      });
    case 'FILE_TOO_LARGE':
      return new GatewayError(ErrorCode.FILE_TOO_LARGE, `The file is larger than source "${source}" accepts.`, {
        source,
        maxSize: body.max_size,
      });
    case 'VALIDATION_ERROR':
      return new GatewayError(
        ErrorCode.SOURCE_REJECTED,
        `Source "${source}" rejected the request: ${body.error ?? 'invalid input'}`,
        { source, status: res.status, vendorCode: body.code, vendorMessages: vendorMessages(body.error) },
      );
    default:
      return undefined;
  }
}
