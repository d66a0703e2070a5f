import express, { type Express, type Request, type Response } from 'express';
import busboy from 'busboy';
import { sumUnread, type VendorControls } from '../kit/server';
import {
  PHOTOGRAPHER,
  PIXIESET_MAX_FILE_SIZE,
  PIXIESET_SANDBOX_CREDENTIALS,
  type PixiesetListOrder,
  type PixiesetState,
} from './state';
import { PixiesetViews } from './views';

const UPLOAD_TTL_MS = 15 * 60_000;

const LIST_ORDERS: readonly PixiesetListOrder[] = ['inbox', 'created_asc', 'shuffled', 'random'];

/** What mountRoutes needs beside the state. */
export interface PixiesetRouteOptions {
  /** The emulator's own URL. */
  baseUrl: () => string;
  /** The order lists are served in now, and the list requests since it was set ('random' draws per request). */
  order: { current: PixiesetListOrder; requests: number };
  /** The largest `page_size` served. */
  maxPageSize: number;
}

/**
 * Pixieset Studio's conversation endpoints under `/api/v1`, the S3-style upload target under `/storage`, and the
 * emulator's own control (the list order).
 */
export function mountRoutes(app: Express, state: PixiesetState, opts: PixiesetRouteOptions): VendorControls {
  const { baseUrl, order, maxPageSize } = opts;
  // Control API (not the vendor's): switch the list order at run time.
  app.post('/__sandbox/list-order', (req, res) => {
    const next = (req.body as { order?: unknown } | undefined)?.order;
    if (!LIST_ORDERS.includes(next as PixiesetListOrder)) {
      res.status(400).json({ error: `order must be one of ${LIST_ORDERS.join(', ')}` });
      return;
    }
    order.current = next as PixiesetListOrder;
    order.requests = 0;
    res.json({ order: order.current });
  });
  const views = new PixiesetViews(state, baseUrl);
  const { message: messageJson, list: listJson, detail: detailJson } = views;
  const bool = (v: unknown, dflt: boolean) => (v === undefined ? dflt : v === 'true' || v === '1');

  const api = express.Router();
  api.use(express.json({ limit: '1mb' }));
  // Auth: a session cookie on every call, X-CSRF-Token on writes (docs/vendors/pixieset.md, trozz auth page).
  api.use((req, res, next) => {
    const cookie = req.get('cookie') ?? '';
    if (!cookie.split(/;\s*/).includes(PIXIESET_SANDBOX_CREDENTIALS.sessionCookie)) {
      res.status(401).json({ error: 'Unauthorized', message: 'Session expired or invalid' });
      return;
    }
    if (req.method !== 'GET' && req.get('x-csrf-token') !== PIXIESET_SANDBOX_CREDENTIALS.csrfToken) {
      res.status(403).json({ error: 'Forbidden', message: 'Insufficient permissions' });
      return;
    }
    next();
  });

  const notFound = (res: Response) =>
    res.status(404).json({ error: 'Conversation not found', code: 'CONVERSATION_NOT_FOUND' });
  const denied = (res: Response) =>
    res.status(403).json({ error: 'Access denied to conversation', code: 'ACCESS_DENIED' });

  api.get('/conversations/unread/count', (_req, res) => {
    let unread = 0;
    let withUnread = 0;
    for (const c of state.visible()) {
      const n = state.unreadOf(c);
      unread += n;
      if (n > 0) withUnread++;
    }
    res.json({ data: { unread_count: unread, conversations_with_unread: withUnread } });
  });

  api.get('/conversations', (req, res) => {
    const page = Math.max(1, Number.parseInt(String(req.query.page ?? '1'), 10) || 1);
    // Undocumented maximum (docs/vendors/pixieset.md "Assumptions"); 100 as on /clients/search unless maxPageSize says.
    const perPage = Math.min(maxPageSize, Math.max(1, Number.parseInt(String(req.query.page_size ?? '25'), 10) || 25));
    let items = state.visible(order.current, order.requests++);
    if (typeof req.query.client_id === 'string') items = items.filter((c) => c.client_id === req.query.client_id);
    const status = req.query.message_status;
    // Seed 000 shows only message_status=inbox ("useful for inbox organization"). Assumptions (docs/vendors/pixieset.md
    // "Assumptions"): inbox selects the active conversations; any other value is refused like a Laravel `in:` rule.
    if (status === 'inbox') items = items.filter((c) => c.status === 'active');
    else if (status !== undefined) {
      res.status(422).json({ error: 'The selected message status is invalid.', code: 'VALIDATION_ERROR' });
      return;
    }
    const total = items.length;
    const lastPage = Math.max(1, Math.ceil(total / perPage));
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const withMessages = bool(req.query.message, false);
    res.json({
      data: slice.map((c) => listJson(c, withMessages)),
      meta: { current_page: page, per_page: perPage, total, last_page: lastPage },
    });
  });

  api.get('/conversations/:id', (req: Request<{ id: string }>, res) => {
    const c = state.conversations.get(req.params.id);
    if (!c) return notFound(res);
    if (c.foreign) return denied(res);
    res.json({ data: detailJson(c, bool(req.query.messages, true)) });
  });

  api.post('/conversation_messages', (req, res) => {
    const body = (req.body ?? {}) as { conversation_id?: unknown; content?: unknown; attachment_ids?: unknown };
    if (typeof body.conversation_id !== 'string') {
      res.status(422).json({ error: 'The conversation_id field is required.', code: 'VALIDATION_ERROR' });
      return;
    }
    const c = state.conversations.get(body.conversation_id);
    if (!c) return notFound(res);
    if (c.foreign) return denied(res);
    const ids = Array.isArray(body.attachment_ids)
      ? body.attachment_ids.filter((x): x is string => typeof x === 'string')
      : [];
    if (typeof body.content !== 'string' || (body.content.trim() === '' && ids.length === 0)) {
      res.status(422).json({ error: 'The content field is required.', code: 'VALIDATION_ERROR' });
      return;
    }
    for (const id of ids) {
      if (!state.attachments.get(id)?.data) {
        res.status(422).json({ error: `Attachment ${id} has not been uploaded.`, code: 'VALIDATION_ERROR' });
        return;
      }
    }
    const msg = state.addMessage(c, {
      content: body.content,
      sent_at: new Date(),
      read_at: null,
      sender_type: 'photographer',
      sender_id: PHOTOGRAPHER.id,
      attachment_ids: ids,
    });
    // Replying reads the thread, as in the Studio UI.
    state.markRead(c);
    res.status(201).json({ data: messageJson(msg) });
  });

  api.get('/conversation_message_attachments/upload_url', (req, res) => {
    const filename = String(req.query.filename ?? '');
    const contentType = String(req.query.content_type ?? '');
    const size = Number(req.query.file_size);
    if (!filename || !contentType || !Number.isInteger(size) || size < 0) {
      res.status(422).json({ error: 'filename, content_type and file_size are required.', code: 'VALIDATION_ERROR' });
      return;
    }
    if (size > PIXIESET_MAX_FILE_SIZE) {
      res
        .status(413)
        .json({ error: 'File size exceeds maximum allowed', code: 'FILE_TOO_LARGE', max_size: PIXIESET_MAX_FILE_SIZE });
      return;
    }
    const id = state.randomId('att_');
    state.attachments.set(id, { id, filename, file_size: size, content_type: contentType, data: null });
    const key = `attachments/${id}`;
    const expiration = new Date(Date.now() + UPLOAD_TTL_MS);
    const date = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const policy = Buffer.from(
      JSON.stringify({
        expiration: expiration.toISOString(),
        conditions: [{ key }, { 'Content-Type': contentType }, ['content-length-range', 0, size]],
      }),
    ).toString('base64');
    res.json({
      data: {
        upload_url: `${baseUrl()}/storage/upload`,
        attachment_id: id,
        upload_fields: {
          key,
          'Content-Type': contentType,
          policy,
          'x-amz-algorithm': 'AWS4-HMAC-SHA256',
          'x-amz-credential': `SANDBOXKEY/${date.slice(0, 8)}/us-east-1/s3/aws4_request`,
          'x-amz-date': date,
          'x-amz-signature': state.sign(policy),
        },
        method: 'POST',
      },
    });
  });

  // Client records: GET /clients/{client_id} (trozz "Clients & CRM" page) for phone numbers.
  api.get('/clients/:id', (req: Request<{ id: string }>, res) => {
    const c = state.clients.get(req.params.id);
    if (!c) {
      res.status(404).json({ error: 'Client not found', code: 'CLIENT_NOT_FOUND' });
      return;
    }
    res.json({ data: c });
  });

  app.use('/api/v1', api);

  // The signed-POST upload target (S3 presigned POST semantics: XML errors, 204 on success).
  const s3Error = (res: Response, status: number, code: string, message: string) =>
    res
      .status(status)
      .type('application/xml')
      .send(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
  app.post('/storage/upload', (req, res) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: PIXIESET_MAX_FILE_SIZE + 1, files: 1 } });
    } catch {
      s3Error(
        res,
        400,
        'MalformedPOSTRequest',
        'The body of your POST request is not well-formed multipart/form-data.',
      );
      return;
    }
    const fields: Record<string, string> = {};
    const chunks: Buffer[] = [];
    let truncated = false;
    let sawFile = false;
    bb.on('field', (name, value) => {
      fields[name] = value;
    });
    bb.on('file', (_name, stream) => {
      sawFile = true;
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('limit', () => {
        truncated = true;
      });
    });
    bb.on('error', () =>
      s3Error(
        res,
        400,
        'MalformedPOSTRequest',
        'The body of your POST request is not well-formed multipart/form-data.',
      ),
    );
    bb.on('close', () => {
      const policy = fields.policy ?? '';
      if (!sawFile) return s3Error(res, 400, 'InvalidArgument', 'POST requires exactly one file upload per request.');
      if (!policy || fields['x-amz-signature'] !== state.sign(policy)) {
        return s3Error(
          res,
          403,
          'SignatureDoesNotMatch',
          'The request signature we calculated does not match the signature you provided.',
        );
      }
      let doc: { expiration: string; conditions: unknown[] };
      try {
        doc = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as typeof doc;
      } catch {
        return s3Error(res, 400, 'InvalidPolicyDocument', 'Invalid Policy: Invalid JSON.');
      }
      if (Date.parse(doc.expiration) < Date.now())
        return s3Error(res, 403, 'AccessDenied', 'Invalid according to Policy: Policy expired.');
      const keyCond = doc.conditions.find(
        (c): c is { key: string } => typeof c === 'object' && c !== null && 'key' in c,
      );
      if (!keyCond || fields.key !== keyCond.key) {
        return s3Error(
          res,
          403,
          'AccessDenied',
          'Invalid according to Policy: Policy Condition failed: ["eq", "$key"]',
        );
      }
      const range = doc.conditions.find(
        (c): c is [string, number, number] => Array.isArray(c) && c[0] === 'content-length-range',
      );
      const data = Buffer.concat(chunks);
      if (truncated || (range && data.length > range[2])) {
        return s3Error(res, 400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
      }
      const id = keyCond.key.replace(/^attachments\//, '');
      const att = state.attachments.get(id);
      if (!att) return s3Error(res, 403, 'AccessDenied', 'Unknown key.');
      att.data = data;
      att.file_size = data.length;
      res.status(204).end();
    });
    req.pipe(bb);
  });
  app.get('/storage/attachments/:id/:name', (req: Request<{ id: string; name: string }>, res) => {
    const a = state.attachments.get(req.params.id);
    if (!a?.data) {
      s3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
      return;
    }
    res.type(a.content_type).send(a.data);
  });

  return {
    reset: () => {
      state.reset();
      order.requests = 0;
    },
    simulateIncoming: ({ conversationId, content }) => {
      const list = state.visible().filter((c) => c.status === 'active');
      const conv = conversationId
        ? state.conversations.get(conversationId)
        : list[Math.floor(Math.random() * list.length)];
      if (!conv || conv.foreign) return { error: 'Conversation not found' };
      const msg = state.addMessage(conv, {
        content: content ?? 'Hi! Just checking in about our session.',
        sent_at: new Date(),
        read_at: null,
        sender_type: 'client',
        sender_id: conv.client_id,
        attachment_ids: [],
      });
      return { data: messageJson(msg) };
    },
    simulateRead: ({ conversationId }) => {
      const conv = state.conversations.get(conversationId);
      if (conv) state.markRead(conv);
      return conv ? { data: detailJson(conv, false) } : null;
    },
    unreadState: () => sumUnread(state.visible(), (c) => state.unreadOf(c)),
  };
}
