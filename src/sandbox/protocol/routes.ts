import { createHmac } from 'node:crypto';
import busboy from 'busboy';
import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';
import { deliverWebhook, type VendorControls, sumUnread } from '../kit/server';
import {
  newestFirst,
  nowEpoch,
  type Listed,
  type PrAttachment,
  type PrContact,
  type PrConversation,
  type PrGroup,
  type PrMessage,
  type ProtocolState,
} from './state';
import { ProtocolViews } from './views';

/** What the routes need from the emulator around them. */
export interface RouteDeps {
  state: ProtocolState;
  token: string;
  /** Base URL of the emulator, for `file_url`s (known once it listens). */
  baseUrl: () => string;
  /** Requests a minute per token (docs/vendors/protocol.md: undocumented; our choice). */
  rateLimitPerMinute: number;
  maxAttachmentSize: number;
  /** Posts one signed event (`{id,type,payload}`) to the configured webhook, if any. */
  emit: (type: string, payload: unknown) => void;
  /**
   * Also take JSON bodies. No document shows one (every example is `curl -d`), so by default they are refused
   * with 415 (docs/vendors/protocol.md "Assumptions"). @default false
   */
  acceptJson?: boolean;
  /**
   * How a form-encoded body clears a field (`archived_at`, `pinned_message_id`), which no document shows:
   * `empty` takes `archived_at=`, `null` takes `archived_at=null`; the other spelling is a 400; `never` takes
   * neither (a vendor without un-archiving) (docs/vendors/protocol.md "Assumptions"). @default 'empty'
   */
  clearWith?: 'empty' | 'null' | 'never';
  /**
   * The order every list serves, which no document states (docs/vendors/protocol.md "Assumptions"): newest first by
   * `created_at` (as Stripe-style cursor APIs do), or oldest first. @default 'newest_first'
   */
  listOrder?: 'newest_first' | 'oldest_first';
  /**
   * How a message names its attachments, which the reference leaves open ("an array of attachment objects", no
   * example): `ids` takes `attachments[]=<id>`, `objects` takes `attachments[0][id]=<id>` and refuses ids with a 400,
   * `objects_ignoring_ids` takes objects and silently drops plain ids (docs/vendors/protocol.md "Assumptions").
   * @default 'ids'
   */
  attachmentsAs?: 'ids' | 'objects' | 'objects_ignoring_ids';
}

type ErrorType = 'api_error' | 'invalid_request';

/** The errors page: `{"type","message","documentation_url"}`. */
export function sendError(res: Response, status: number, type: ErrorType, message: string) {
  res.status(status).json({ type, message, documentation_url: `https://protocol.chat/docs/errors/${type}` });
}

/** A request parameter that is not what the API accepts: answered as 400 (or `status`) `invalid_request`. */
class ParamError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

// Parameters come form-encoded, as every example of the reference sends them (`curl -d key=value`, brackets for
// arrays and objects: docs/vendors/protocol.md "Request bodies"); with `acceptJson` also as JSON, so every parser
// takes both the string form and the typed JSON value.

function str(body: Record<string, unknown>, name: string, required = false): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (required) throw new ParamError(`Missing required parameter: ${name}.`);
    return undefined;
  }
  if (typeof v !== 'string') throw new ParamError(`Invalid ${name}: expected a string.`);
  return v;
}
function bool(v: unknown, name: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === true || v === 'true' || v === '1') return true;
  if (v === false || v === 'false' || v === '0') return false;
  throw new ParamError(`Invalid ${name}: expected true or false.`);
}
/** Whether a value clears its field: JSON null, or the form spelling the emulator was started with. */
type Clears = (v: unknown) => boolean;
/** A timestamp parameter: epoch seconds, or a clearing value. */
function epochOrNull(v: unknown, name: string, clears: Clears): number | null | undefined {
  if (v === undefined) return undefined;
  if (clears(v)) return null;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new ParamError(`Invalid ${name}: expected a Unix timestamp in seconds.`);
  return n;
}
/**
 * An array of ids: form `key[]=a&key[]=b` (or JSON `["a","b"]`, or a single `key=a`) with `shape` `ids`; form
 * `key[0][id]=a` (JSON `[{"id":"a"}]`) with `objects`; either with `either`.
 */
function idList(v: unknown, name: string, shape: 'ids' | 'objects' | 'either' = 'either'): string[] | undefined {
  if (v === undefined) return undefined;
  if (v === '' || v === null) return [];
  const items = Array.isArray(v) ? v : [v];
  return items.map((x) => {
    if (shape !== 'objects' && typeof x === 'string' && x.length > 0) return x;
    if (shape !== 'ids' && typeof x === 'object' && x !== null && typeof (x as { id?: unknown }).id === 'string')
      return (x as { id: string }).id;
    throw new ParamError(
      `Invalid ${name}: expected an array of ${shape === 'objects' ? 'objects with an id' : 'ids'}.`,
    );
  });
}
function onlyKnown(body: Record<string, unknown>, allowed: readonly string[]) {
  for (const k of Object.keys(body))
    if (!allowed.includes(k)) throw new ParamError(`Received unknown parameter: ${k}.`);
}

/**
 * Cursor pagination (pagination page): newest first ([inferred]; oldest first with `oldestFirst`); `starting_after=<id>` continues after that object,
 * `ending_before=<id>` returns the page just before it; `limit` 1..100, default 10; `has_more` says whether more
 * lie in the direction of travel. The cursor object is placed by its sort key, so a cursor from another filter
 * still works; a cursor that names nothing is a 400.
 */
function paginate<T extends Listed>(
  newestFirstItems: T[],
  query: Request['query'],
  lookup: (id: string) => Listed | undefined,
  oldestFirst = false,
) {
  // The order is not documented (docs/vendors/protocol.md "Assumptions"); `listOrder: 'oldest_first'` flips it.
  const items = oldestFirst ? [...newestFirstItems].reverse() : newestFirstItems;
  const cmp = oldestFirst ? (x: Listed, y: Listed) => newestFirst(y, x) : newestFirst;
  const rawLimit = query.limit;
  let limit = 10;
  if (rawLimit !== undefined) {
    if (typeof rawLimit !== 'string' || !/^\d+$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > 100) {
      throw new ParamError('Invalid limit: must be an integer between 1 and 100.');
    }
    limit = Number(rawLimit);
  }
  const after = query.starting_after;
  const before = query.ending_before;
  if (after !== undefined && before !== undefined) {
    throw new ParamError('Pass starting_after or ending_before, not both.');
  }
  const anchor = (v: unknown, name: string): Listed => {
    const found = typeof v === 'string' ? lookup(v) : undefined;
    if (!found) throw new ParamError(`Invalid ${name}: no such object: ${String(v)}.`);
    return found;
  };
  if (after !== undefined) {
    const a = anchor(after, 'starting_after');
    let i = items.findIndex((x) => cmp(x, a) > 0);
    if (i < 0) i = items.length;
    return { has_more: i + limit < items.length, data: items.slice(i, i + limit) };
  }
  if (before !== undefined) {
    const b = anchor(before, 'ending_before');
    let end = items.findIndex((x) => cmp(x, b) >= 0);
    if (end < 0) end = items.length;
    const start = Math.max(0, end - limit);
    return { has_more: start > 0, data: items.slice(start, end) };
  }
  return { has_more: limit < items.length, data: items.slice(0, limit) };
}

/** "Only show … when set to `true`" (conversations and groups list filters). */
const onlyWhenTrue = (v: unknown, name: string) => bool(v, name) === true;

export interface ProtocolRoutes {
  router: Router;
  resetLimiter: () => void;
  /** The wire shapes, for the control API's answers and webhooks. */
  messageJson: (m: PrMessage) => unknown;
  conversationJson: (c: PrConversation) => unknown;
}

function createRoutes(deps: RouteDeps): ProtocolRoutes {
  const { state, emit } = deps;
  const oldest = deps.listOrder === 'oldest_first';
  const attachmentsAs = deps.attachmentsAs === undefined || deps.attachmentsAs === 'ids' ? 'ids' : 'objects';
  /** `objects_ignoring_ids`: plain ids are dropped before parsing, as a lenient server would. */
  const attachmentsOf = (v: unknown): unknown =>
    deps.attachmentsAs === 'objects_ignoring_ids' && Array.isArray(v) ? v.filter((x) => typeof x !== 'string') : v;
  const clearWith = deps.clearWith ?? 'empty';
  const clears: Clears = (v) =>
    v === null || (clearWith === 'empty' && v === '') || (clearWith === 'null' && v === 'null');

  const views = new ProtocolViews(state, deps.baseUrl);
  const {
    conversation: conversationJson,
    message: messageJson,
    contact: contactJson,
    group: groupJson,
    attachment: attachmentJson,
  } = views;

  const router = express.Router();

  // Auth (authentication page): `Authorization: Bearer {token}`, or HTTP Basic with the token as username.
  router.use((req, res, next) => {
    const h = req.get('authorization') ?? '';
    let ok = h === `Bearer ${deps.token}`;
    if (!ok && h.startsWith('Basic ')) {
      const user = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':')[0];
      ok = user === deps.token;
    }
    if (!ok) {
      sendError(res, 401, 'invalid_request', 'Invalid or missing API token. Send "Authorization: Bearer {token}".');
      return;
    }
    next();
  });

  // Rate limit per token, a sliding minute (docs/vendors/protocol.md: undocumented; the limit is an option).
  let hits: number[] = [];
  let head = 0;
  router.use((_req, res, next) => {
    const now = Date.now();
    while (head < hits.length && (hits[head] as number) <= now - 60_000) head++;
    if (head > 4096) {
      hits = hits.slice(head);
      head = 0;
    }
    if (hits.length - head >= deps.rateLimitPerMinute) {
      const retryAfter = Math.max(1, Math.ceil(((hits[head] as number) + 60_000 - now) / 1000));
      res.set('retry-after', String(retryAfter));
      sendError(
        res,
        429,
        'invalid_request',
        `Too many requests: the limit is ${deps.rateLimitPerMinute} a minute. Retry in ${retryAfter} s.`,
      );
      return;
    }
    hits.push(now);
    next();
  });

  // JSON is undocumented (docs/vendors/protocol.md "Assumptions"): refused unless the emulator was told to take it.
  router.use((req, res, next) => {
    if (!deps.acceptJson && req.is('application/json')) {
      sendError(
        res,
        415,
        'invalid_request',
        'Send parameters form-encoded (application/x-www-form-urlencoded) as the API reference shows; JSON bodies are not accepted.',
      );
      return;
    }
    next();
  });
  if (deps.acceptJson) router.use(express.json({ limit: '1mb' }));
  // `extended` parses the reference's bracket forms: `reactions[red_angry_face][]=x`, `attachments[]=id`. The raw
  // body goes into the request log, so that tests can see exactly what a client sent.
  router.use(
    express.urlencoded({
      extended: true,
      limit: '1mb',
      verify: (_req, res, buf) => {
        const entry = (res as Response).locals.requestLog as { body?: string } | undefined;
        if (entry) entry.body = buf.toString('utf8');
      },
    }),
  );

  const body = (req: Request): Record<string, unknown> =>
    typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body)
      ? (req.body as Record<string, unknown>)
      : {};
  const notFound = (what: string, id: string) => new ParamError(`No such ${what}: ${id}.`, 404);
  const need = <T>(map: Map<string, T>, id: string, what: string): T => {
    const v = map.get(id);
    if (!v) throw notFound(what, id);
    return v;
  };

  // Conversations

  router.get('/conversations', (req, res) => {
    let items = state.conversationList();
    const q = req.query;
    if (onlyWhenTrue(q.muted, 'muted')) items = items.filter((c) => c.is_muted);
    if (onlyWhenTrue(q.archived, 'archived')) items = items.filter((c) => c.archived_at !== null);
    if (onlyWhenTrue(q.pinned, 'pinned')) items = items.filter((c) => c.is_pinned);
    if (typeof q.group_id === 'string') items = items.filter((c) => c.group_id === q.group_id);
    const page = paginate(items, q, (id) => state.conversations.get(id), oldest);
    res.json({ has_more: page.has_more, data: page.data.map(conversationJson) });
  });

  router.post('/conversations', (req, res) => {
    const b = body(req);
    onlyKnown(b, ['contact_id', 'group_id']);
    const contactId = str(b, 'contact_id');
    const groupId = str(b, 'group_id');
    if ((contactId === undefined) === (groupId === undefined)) {
      throw new ParamError('A contact_id or a group_id is required (exactly one).');
    }
    const owner =
      contactId !== undefined
        ? need(state.contacts, contactId, 'contact')
        : need(state.groups, groupId as string, 'group');
    if (contactId === state.selfContactId) throw new ParamError('You cannot start a conversation with yourself.');
    // [inferred] one conversation per contact or group (both carry a single `conversation_id`): return it.
    const existing = owner.conversation_id ? state.conversations.get(owner.conversation_id) : undefined;
    if (existing) {
      res.status(200).json(conversationJson(existing));
      return;
    }
    const conv: PrConversation = {
      id: state.newId(),
      contact_id: contactId ?? null,
      group_id: groupId ?? null,
      pinned_message_id: null,
      is_pinned: false,
      is_muted: false,
      last_active_at: null,
      last_opened_at: null,
      created_at: nowEpoch(),
      archived_at: null,
    };
    state.addConversation(conv);
    owner.conversation_id = conv.id;
    emit('conversation.created', conversationJson(conv));
    res.status(201).json(conversationJson(conv));
  });

  router.get('/conversations/:id', (req: Request<{ id: string }>, res) => {
    res.json(conversationJson(need(state.conversations, req.params.id, 'conversation')));
  });

  router.put('/conversations/:id', (req: Request<{ id: string }>, res) => {
    const c = need(state.conversations, req.params.id, 'conversation');
    const b = body(req);
    onlyKnown(b, ['pinned_message_id', 'is_pinned', 'is_muted', 'archived_at']);
    const pinnedMessage = clears(b.pinned_message_id) ? null : str(b, 'pinned_message_id');
    if (typeof pinnedMessage === 'string' && state.messages.get(pinnedMessage)?.conversation_id !== c.id) {
      throw new ParamError(`Invalid pinned_message_id: no message ${pinnedMessage} in this conversation.`);
    }
    const isPinned = bool(b.is_pinned, 'is_pinned');
    const isMuted = bool(b.is_muted, 'is_muted');
    const archivedAt = epochOrNull(b.archived_at, 'archived_at', clears);
    if (pinnedMessage !== undefined) c.pinned_message_id = pinnedMessage;
    if (isPinned !== undefined) c.is_pinned = isPinned;
    if (isMuted !== undefined) c.is_muted = isMuted;
    if (archivedAt !== undefined) c.archived_at = archivedAt;
    emit('conversation.updated', conversationJson(c));
    res.json(conversationJson(c));
  });

  router.delete('/conversations/:id', (req: Request<{ id: string }>, res) => {
    const c = need(state.conversations, req.params.id, 'conversation');
    const payload = conversationJson(c);
    state.deleteConversation(c.id);
    emit('conversation.deleted', payload);
    res.status(204).end();
  });

  // Messages

  const allMessages = () => [...state.messages.values()].sort(newestFirst);
  router.get('/messages', (req, res) => {
    const convId = req.query.conversation_id;
    let items: PrMessage[];
    if (convId !== undefined) {
      if (typeof convId !== 'string') throw new ParamError('Invalid conversation_id.');
      need(state.conversations, convId, 'conversation');
      items = [...state.messagesOf(convId)].reverse();
    } else {
      items = allMessages();
    }
    const page = paginate(items, req.query, (id) => state.messages.get(id), oldest);
    res.json({ has_more: page.has_more, data: page.data.map(messageJson) });
  });

  /** Attachment ids for a message: uploaded, and not yet part of another message. */
  const claimable = (ids: string[], messageId: string | null) => {
    for (const id of ids) {
      const a = need(state.attachments, id, 'attachment');
      if (a.message_id !== null && a.message_id !== messageId) {
        throw new ParamError(`Invalid attachments: ${id} already belongs to message ${a.message_id}.`);
      }
    }
    return ids;
  };

  router.post('/messages', (req, res) => {
    const b = body(req);
    onlyKnown(b, ['conversation_id', 'message', 'attachments']);
    const conv = need(state.conversations, str(b, 'conversation_id', true) as string, 'conversation');
    const text = str(b, 'message', true) as string;
    const attachments = claimable(idList(attachmentsOf(b.attachments), 'attachments', attachmentsAs) ?? [], null);
    if (text.trim() === '' && attachments.length === 0) throw new ParamError('Invalid message: it cannot be empty.');
    const now = nowEpoch();
    const m: PrMessage = {
      id: state.newId(),
      conversation_id: conv.id,
      // The API user writes as its own contact (config selfContactId).
      contact_id: state.selfContactId,
      message: text,
      reactions: [],
      attachment_ids: attachments,
      read_at: null,
      created_at: Math.max(now, conv.last_active_at ?? 0),
      updated_at: null,
    };
    state.addMessage(m);
    emit('message.created', messageJson(m));
    res.status(201).json(messageJson(m));
  });

  router.get('/messages/:id', (req: Request<{ id: string }>, res) => {
    res.json(messageJson(need(state.messages, req.params.id, 'message')));
  });

  router.put('/messages/:id', (req: Request<{ id: string }>, res) => {
    const m = need(state.messages, req.params.id, 'message');
    const b = body(req);
    onlyKnown(b, ['message', 'reactions', 'attachments']);
    const text = str(b, 'message');
    if (text !== undefined && text.trim() === '' && m.attachment_ids.length === 0) {
      throw new ParamError('Invalid message: it cannot be empty.');
    }
    let reactions: PrMessage['reactions'] | undefined;
    if (b.reactions !== undefined) {
      // Form: reactions[red_angry_face][]=KateMcCallister → {red_angry_face: [..]}; JSON: that object or the array form.
      const raw = b.reactions;
      const asArray = Array.isArray(raw) ? raw : typeof raw === 'object' && raw !== null ? [raw] : null;
      if (!asArray) throw new ParamError('Invalid reactions: expected {emoji_name: [usernames]}.');
      reactions = asArray.map((r) => {
        if (typeof r !== 'object' || r === null)
          throw new ParamError('Invalid reactions: expected {emoji_name: [usernames]}.');
        const out: Record<string, string[]> = {};
        for (const [k, v] of Object.entries(r as Record<string, unknown>)) {
          const names = Array.isArray(v) ? v : [v];
          if (!names.every((x) => typeof x === 'string'))
            throw new ParamError('Invalid reactions: usernames must be strings.');
          out[k] = names as string[];
        }
        return out;
      });
    }
    const attachments =
      b.attachments !== undefined
        ? claimable(idList(attachmentsOf(b.attachments), 'attachments', attachmentsAs) ?? [], m.id)
        : undefined;
    if (text !== undefined) m.message = text;
    if (reactions !== undefined) m.reactions = reactions;
    if (attachments !== undefined) {
      for (const id of m.attachment_ids) if (!attachments.includes(id)) state.attachments.delete(id);
      m.attachment_ids = attachments;
      for (const id of attachments) (state.attachments.get(id) as PrAttachment).message_id = m.id;
    }
    m.updated_at = nowEpoch();
    emit('message.updated', messageJson(m));
    res.json(messageJson(m));
  });

  router.delete('/messages/:id', (req: Request<{ id: string }>, res) => {
    const m = need(state.messages, req.params.id, 'message');
    const payload = messageJson(m);
    state.deleteMessage(m.id);
    emit('message.deleted', payload);
    res.status(204).end();
  });

  // Contacts

  router.get('/contacts', (req, res) => {
    const page = paginate(
      [...state.contacts.values()].sort(newestFirst),
      req.query,
      (id) => state.contacts.get(id),
      oldest,
    );
    res.json({ has_more: page.has_more, data: page.data.map(contactJson) });
  });
  router.post('/contacts', (req, res) => {
    const b = body(req);
    onlyKnown(b, ['username', 'phone_number', 'avatar_url', 'display_name']);
    const c: PrContact = {
      id: state.newId(),
      username: str(b, 'username', true) as string,
      phone_number: str(b, 'phone_number', true) as string,
      avatar_url: str(b, 'avatar_url') ?? null,
      display_name: str(b, 'display_name') ?? null,
      conversation_id: null,
      last_active_at: null,
      created_at: nowEpoch(),
    };
    state.contacts.set(c.id, c);
    emit('contact.created', contactJson(c));
    res.status(201).json(contactJson(c));
  });
  router.get('/contacts/:id', (req: Request<{ id: string }>, res) => {
    res.json(contactJson(need(state.contacts, req.params.id, 'contact')));
  });
  router.put('/contacts/:id', (req: Request<{ id: string }>, res) => {
    const c = need(state.contacts, req.params.id, 'contact');
    const b = body(req);
    // Contacts page: "the only attribute that can be updated on contacts is the display_name".
    onlyKnown(b, ['display_name']);
    if (b.display_name !== undefined) c.display_name = clears(b.display_name) ? null : (str(b, 'display_name') ?? null);
    emit('contact.updated', contactJson(c));
    res.json(contactJson(c));
  });
  router.delete('/contacts/:id', (req: Request<{ id: string }>, res) => {
    const c = need(state.contacts, req.params.id, 'contact');
    // Contacts page: "This will also delete your conversation with the given contact."
    const conv = c.conversation_id ? state.conversations.get(c.conversation_id) : undefined;
    if (conv) {
      const payload = conversationJson(conv);
      state.deleteConversation(conv.id);
      emit('conversation.deleted', payload);
    }
    state.contacts.delete(c.id);
    for (const g of state.groups.values()) g.contact_ids = g.contact_ids.filter((id) => id !== c.id);
    emit('contact.deleted', contactJson(c));
    res.status(204).end();
  });

  // Groups

  router.get('/groups', (req, res) => {
    let items = [...state.groups.values()].sort(newestFirst);
    if (onlyWhenTrue(req.query.archived, 'archived')) items = items.filter((g) => g.archived_at !== null);
    const page = paginate(items, req.query, (id) => state.groups.get(id), oldest);
    res.json({ has_more: page.has_more, data: page.data.map(groupJson) });
  });
  const memberIds = (v: unknown) => {
    const ids = idList(v, 'contacts');
    if (ids) for (const id of ids) need(state.contacts, id, 'contact');
    return ids;
  };
  router.post('/groups', (req, res) => {
    const b = body(req);
    onlyKnown(b, ['name', 'description', 'avatar_url', 'contacts']);
    const g: PrGroup = {
      id: state.newId(),
      name: str(b, 'name', true) as string,
      description: str(b, 'description') ?? null,
      avatar_url: str(b, 'avatar_url') ?? null,
      conversation_id: null,
      contact_ids: memberIds(b.contacts) ?? [],
      created_at: nowEpoch(),
      archived_at: null,
    };
    state.groups.set(g.id, g);
    // Groups page: "create a new group conversation"; the created group already carries its conversation_id.
    const conv: PrConversation = {
      id: state.newId(),
      contact_id: null,
      group_id: g.id,
      pinned_message_id: null,
      is_pinned: false,
      is_muted: false,
      last_active_at: null,
      last_opened_at: null,
      created_at: g.created_at,
      archived_at: null,
    };
    state.addConversation(conv);
    g.conversation_id = conv.id;
    emit('group.created', groupJson(g));
    emit('conversation.created', conversationJson(conv));
    res.status(201).json(groupJson(g));
  });
  router.get('/groups/:id', (req: Request<{ id: string }>, res) => {
    res.json(groupJson(need(state.groups, req.params.id, 'group')));
  });
  router.put('/groups/:id', (req: Request<{ id: string }>, res) => {
    const g = need(state.groups, req.params.id, 'group');
    const b = body(req);
    onlyKnown(b, ['name', 'description', 'avatar_url', 'contacts', 'archived_at']);
    const name = str(b, 'name');
    if (name !== undefined && name.trim() === '') throw new ParamError('Invalid name: it cannot be empty.');
    const description = str(b, 'description');
    const avatar = str(b, 'avatar_url');
    const contacts = memberIds(b.contacts);
    const archivedAt = epochOrNull(b.archived_at, 'archived_at', clears);
    if (name !== undefined) g.name = name;
    if (description !== undefined) g.description = description;
    if (avatar !== undefined) g.avatar_url = avatar;
    if (contacts !== undefined) g.contact_ids = contacts;
    if (archivedAt !== undefined) g.archived_at = archivedAt;
    emit('group.updated', groupJson(g));
    res.json(groupJson(g));
  });
  router.delete('/groups/:id', (req: Request<{ id: string }>, res) => {
    const g = need(state.groups, req.params.id, 'group');
    // Groups page: "permanently delete the group, including the messages".
    const conv = g.conversation_id ? state.conversations.get(g.conversation_id) : undefined;
    if (conv) {
      const payload = conversationJson(conv);
      state.deleteConversation(conv.id);
      emit('conversation.deleted', payload);
    }
    state.groups.delete(g.id);
    emit('group.deleted', groupJson(g));
    res.status(204).end();
  });

  // Attachments

  router.get('/attachments', (req, res) => {
    const convId = req.query.conversation_id;
    let items = [...state.attachments.values()];
    if (convId !== undefined) {
      if (typeof convId !== 'string') throw new ParamError('Invalid conversation_id.');
      need(state.conversations, convId, 'conversation');
      const ids = new Set(state.messagesOf(convId).flatMap((m) => m.attachment_ids));
      items = items.filter((a) => ids.has(a.id));
    }
    const page = paginate(items.sort(newestFirst), req.query, (id) => state.attachments.get(id), oldest);
    res.json({ has_more: page.has_more, data: page.data.map(attachmentJson) });
  });

  // Attachments page: multipart `file`; the attachment exists unattached until a message names it.
  router.post('/attachments', (req, res, next) => {
    if (!(req.get('content-type') ?? '').startsWith('multipart/form-data')) {
      sendError(res, 400, 'invalid_request', 'Missing required parameter: file (send multipart/form-data).');
      return;
    }
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: deps.maxAttachmentSize + 1, files: 1 } });
    } catch (e) {
      next(e);
      return;
    }
    const chunks: Buffer[] = [];
    let file: { filename: string; mimeType: string } | null = null;
    let tooLarge = false;
    let failed = false;
    bb.on('file', (name, stream, info) => {
      if (name !== 'file') {
        stream.resume();
        return;
      }
      file = { filename: info.filename || 'file', mimeType: info.mimeType || 'application/octet-stream' };
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('limit', () => {
        tooLarge = true;
      });
    });
    bb.on('error', () => {
      failed = true;
      sendError(res, 400, 'invalid_request', 'The multipart body is malformed.');
    });
    bb.on('close', () => {
      if (failed) return;
      if (tooLarge) {
        sendError(
          res,
          413,
          'invalid_request',
          `The file is too large: attachments may be at most ${deps.maxAttachmentSize} bytes.`,
        );
        return;
      }
      const f = file as { filename: string; mimeType: string } | null;
      if (!f) {
        sendError(res, 400, 'invalid_request', 'Missing required parameter: file.');
        return;
      }
      const data = Buffer.concat(chunks);
      const a: PrAttachment = {
        id: state.newId(),
        message_id: null,
        filename: f.filename,
        file_type: f.mimeType,
        file_size: data.length,
        created_at: nowEpoch(),
        data,
      };
      state.attachments.set(a.id, a);
      emit('attachment.created', attachmentJson(a));
      res.status(201).json(attachmentJson(a));
    });
    req.pipe(bb);
  });
  router.get('/attachments/:id', (req: Request<{ id: string }>, res) => {
    res.json(attachmentJson(need(state.attachments, req.params.id, 'attachment')));
  });
  router.put('/attachments/:id', (req: Request<{ id: string }>, res) => {
    const a = need(state.attachments, req.params.id, 'attachment');
    const b = body(req);
    // Attachments page: "the only supported type of update is changing the filename".
    onlyKnown(b, ['filename']);
    const filename = str(b, 'filename');
    if (filename !== undefined) {
      if (filename.trim() === '') throw new ParamError('Invalid filename: it cannot be empty.');
      a.filename = filename;
    }
    emit('attachment.updated', attachmentJson(a));
    res.json(attachmentJson(a));
  });
  router.delete('/attachments/:id', (req: Request<{ id: string }>, res) => {
    const a = need(state.attachments, req.params.id, 'attachment');
    const payload = attachmentJson(a);
    state.attachments.delete(a.id);
    const m = a.message_id ? state.messages.get(a.message_id) : undefined;
    if (m) m.attachment_ids = m.attachment_ids.filter((id) => id !== a.id);
    emit('attachment.deleted', payload);
    res.status(204).end();
  });

  router.use((req, res) => {
    sendError(res, 404, 'invalid_request', `Unrecognized request URL (${req.method} ${req.baseUrl}${req.path}).`);
  });
  // Express 5 forwards thrown errors (sync and async) here.
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof ParamError) {
      sendError(res, err.status, 'invalid_request', err.message);
      return;
    }
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.parse.failed') {
      sendError(res, 400, 'invalid_request', 'The request body is not valid JSON.');
      return;
    }
    if (e.type === 'entity.too.large') {
      sendError(res, 413, 'invalid_request', 'The request body is too large.');
      return;
    }
    sendError(res, 500, 'api_error', 'Something went wrong on our end.');
  });

  return {
    router,
    messageJson,
    conversationJson,
    resetLimiter: () => {
      hits = [];
      head = 0;
    },
  };
}

/** What mountRoutes needs beside the state: the API's settings (RouteDeps) and where webhooks go. */
export interface ProtocolRouteOptions extends Omit<RouteDeps, 'state' | 'emit'> {
  /** Where and how to deliver webhooks now; null: none. */
  webhook?: () => { url: string; secret?: string } | null;
  /** Signs deliveries whose target gives no secret of its own. */
  webhookSecret: string;
}

const SIMULATED_LINES = [
  'Hey, are you around?',
  'Quick question about tomorrow.',
  'Look at this! 👀',
  'Call me when you can.',
];

/**
 * The Protocol API under `/v1`, the asset host's files at `/files/:id/:name` (the vendor serves them from its asset
 * host), and the sandbox controls (simulated messages and reads, which webhook as the vendor would).
 */
export function mountRoutes(app: Express, state: ProtocolState, opts: ProtocolRouteOptions): VendorControls {
  const emit = (type: string, payload: unknown) => {
    const target = opts.webhook?.();
    if (!target) return;
    postWebhook(target.url, target.secret ?? opts.webhookSecret, state.newId(), type, payload);
  };
  const { router, resetLimiter, messageJson, conversationJson } = createRoutes({ ...opts, state, emit });
  app.use('/v1', router);
  // The asset host's files: public, as `file_url`s are handed to apps.
  app.get('/files/:id/:name', (req: Request<{ id: string; name: string }>, res: Response) => {
    const a = state.attachments.get(req.params.id);
    if (!a) {
      sendError(res, 404, 'invalid_request', `No such file: ${req.params.id}.`);
      return;
    }
    res.type(a.file_type).send(a.data);
  });

  const noSuch = (id: string) => ({ type: 'invalid_request', message: `No such conversation: ${id}.` });

  return {
    reset: () => {
      state.reset();
      resetLimiter();
    },
    simulateIncoming: ({ conversationId, content }) => {
      let conv: PrConversation | undefined;
      if (conversationId) conv = state.conversations.get(conversationId);
      else {
        const open = state.conversationList().filter((c) => c.archived_at === null);
        conv = open.length > 0 ? state.rnd.pick(open) : undefined;
      }
      if (!conv) return noSuch(conversationId ?? '(any)');
      const group = conv.group_id ? state.groups.get(conv.group_id) : undefined;
      const candidates = group ? group.contact_ids : conv.contact_id ? [conv.contact_id] : [];
      const senderId = candidates.length > 0 ? state.rnd.pick(candidates) : null;
      if (!senderId) return { type: 'invalid_request', message: 'The conversation has no other contact.' };
      // Epoch seconds: a message in the same second as the last open would not count as unread (created_at >
      // last_opened_at), so the emulator stamps it one second later, as if it arrived just after.
      const at = Math.max(nowEpoch(), (conv.last_opened_at ?? 0) + 1, conv.last_active_at ?? 0);
      const m: PrMessage = {
        id: state.newId(),
        conversation_id: conv.id,
        contact_id: senderId,
        message: content ?? state.rnd.pick(SIMULATED_LINES),
        reactions: [],
        attachment_ids: [],
        read_at: null,
        created_at: at,
        updated_at: null,
      };
      state.addMessage(m);
      const json = messageJson(m);
      emit('message.created', json);
      return json;
    },
    simulateRead: ({ conversationId }) => {
      const conv = state.conversations.get(conversationId);
      if (!conv) return noSuch(conversationId);
      state.markRead(conv, Math.max(nowEpoch(), conv.last_active_at ?? 0));
      const json = conversationJson(conv);
      emit('conversation.updated', json);
      return json;
    },
    unreadState: () => sumUnread(state.conversations.values(), (c) => state.unreadOf(c)),
  };
}

/** Hex HMAC-SHA256 of the raw body (webhooks page, "Security"). */
export function signBody(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** Fire-and-forget signed delivery, as the vendor does. */
export function postWebhook(url: string, secret: string, id: string, type: string, payload: unknown) {
  const body = JSON.stringify({ id, type, payload });
  deliverWebhook(url, body, { 'x-protocol-signature': signBody(body, secret) });
}
