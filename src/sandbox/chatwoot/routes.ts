import { createHmac, randomUUID } from 'node:crypto';
import busboy from 'busboy';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { deliverWebhook, type VendorControls, sumUnread } from '../kit/server';
import {
  ACCOUNT_ID,
  API_INBOX_ID,
  DELETED_TEXT,
  MESSAGE_TYPE,
  type ChatwootState,
  type CwContact,
  type CwConversation,
  type CwMessage,
  type CwStatus,
  type CwUser,
} from './state';
import { rackAttack } from './rateLimit';
import { ChatwootViews } from './views';

/**
 * Chatwoot's Application API routes the connector uses (docs/vendors/chatwoot.md "Endpoints"), under
 * `/api/v1/accounts/{account_id}`, plus ActiveStorage blob URLs for attachment bytes.
 */

export interface ChatwootRouteOptions {
  baseUrl: () => string;
  /**
   * Where webhooks go (read at delivery time). With a `secret`, each delivery is signed as Chatwoot v4.11.2+ signs
   * it; without one it is unsigned, as older Chatwoot (docs/vendors/chatwoot.md "Webhooks").
   */
  webhook?: () => { url: string; secret?: string } | null;
  /** Rack::Attack `req/ip` throttle (docs/vendors/chatwoot.md "Rate limits"). @default 3000 */
  rateLimitPerMinute?: number;
  /** The clock of that throttle's minutes (rateLimit.ts). @default Date.now */
  rateLimitClock?: () => number;
  /** `CONVERSATION_RESULTS_PER_PAGE` (docs/vendors/chatwoot.md "Pagination"). @default 25 */
  pageSize?: number;
  /** `GET /conversations/unread_counts`: answered, 403 (feature off) or 404 (no such route). @default 'disabled' */
  unreadCounts?: UnreadCountsMode | (() => UnreadCountsMode);
  /**
   * `GET /conversations?updated_within=`: honoured as conversation_finder.rb does, or ignored (an assumption:
   * a Chatwoot from before the parameter answers the usual page; docs/vendors/chatwoot.md "Incremental refresh").
   * @default 'honoured'
   */
  updatedWithin?: 'honoured' | 'ignored';
  /**
   * How long after its save each conversation_status_changed / conversation_updated job runs (the
   * EventDispatcherJob latency; an assumption, docs/vendors/chatwoot.md "Assumptions"). @default 1000
   */
  webhookJobDelayMs?: number;
}

type UnreadCountsMode = 'enabled' | 'disabled' | 'absent';

/**
 * Kaminari's `default_per_page`: `POST /conversations/filter` pages with `.page(current_page)` and no `.per`
 * (app/services/conversations/filter_service.rb), and Chatwoot configures no other default.
 */
const FILTER_PAGE_SIZE = 25;
/** contacts_controller.rb line 12: `RESULTS_PER_PAGE = 15`, a constant (no setting, no parameter changes it). */
const CONTACTS_PER_PAGE = 15;
/** lib/filters/filter_keys.yml: the conversation attributes (and their operators) the emulator's filter implements. */
const FILTER_KEYS: Record<string, string[]> = {
  status: ['equal_to', 'not_equal_to'],
  assignee_id: ['equal_to', 'not_equal_to', 'is_present', 'is_not_present'],
  inbox_id: ['equal_to', 'not_equal_to', 'is_present', 'is_not_present'],
  display_id: ['equal_to', 'not_equal_to', 'contains', 'does_not_contain'],
};
/** Every conversation filter key of lib/filters/filter_keys.yml, for the InvalidAttribute message. */
const ALL_FILTER_KEYS = [
  'status',
  'assignee_id',
  'inbox_id',
  'team_id',
  'priority',
  'display_id',
  'campaign_id',
  'labels',
  'browser_language',
  'conversation_language',
  'country_code',
  'referer',
  'created_at',
  'last_activity_at',
  'mail_subject',
];

/** docs/vendors/chatwoot.md "Attachments on send". */
export const MAX_FILE_SIZE = 40 * 1024 * 1024;
export const MAX_FILES = 15;
const MAX_CONTENT = 150_000;
/** docs/vendors/chatwoot.md: `CONVERSATION_MESSAGE_PER_MINUTE_LIMIT`. */
const MESSAGES_PER_MINUTE = 200;
const STATUSES: readonly CwStatus[] = ['open', 'resolved', 'pending', 'snoozed'];
/** docs/vendors/chatwoot.md: image/*, video/*, audio/* and a list of document types. */
const DOCUMENT_TYPES = new Set([
  'application/pdf',
  'application/msword',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.ms-excel',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.ms-powerpoint',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.oasis.opendocument.text',
  'application/zip',
  'application/x-zip-compressed',
  'application/x-7z-compressed',
  'application/vnd.rar',
  'application/x-rar-compressed',
  'application/x-tar',
  'text/csv',
  'text/plain',
  'application/rtf',
  'text/rtf',
  'application/json',
]);
const allowedType = (t: string) =>
  /^(image|video|audio)\//.test(t) || DOCUMENT_TYPES.has(t.split(';')[0]?.trim() ?? '');

type Locals = { user: CwUser; accountId: number };
type Body = Record<string, unknown>;
interface UploadedFile {
  filename: string;
  contentType: string;
  data: Buffer;
  truncated: boolean;
}

// ----- error bodies (docs/vendors/chatwoot.md "Errors", request_exception_handler.rb) ---------------------------------------
const notFound = (res: Response) => res.status(404).json({ error: 'Resource could not be found' });
const unauthorized = (res: Response, error: string) => res.status(401).json({ error });
const notAllowed = (res: Response) => unauthorized(res, 'You are not authorized to do this action');
/** RecordInvalid: `{message, attributes}`. */
const invalid = (res: Response, message: string, attributes: string[]) => res.status(422).json({ message, attributes });
/** ParameterMissing / could-not-create: `{error}`. */
const couldNotCreate = (res: Response, error: string) => res.status(422).json({ error });

const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined;
const int = (v: unknown): number | null => {
  const s = typeof v === 'number' ? String(v) : str(v);
  return s !== undefined && /^-?\d+$/.test(s) ? Number(s) : null;
};
const truthy = (v: unknown) => v === true || v === 'true' || v === '1' || v === 1;
/** Rails reads `labels[]=a&labels[]=b` (and `labels=a`) as an array. */
const list = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];

export function mountRoutes(app: Express, state: ChatwootState, opts: ChatwootRouteOptions): VendorControls {
  const views = new ChatwootViews(state, opts.baseUrl);
  const limiter = rackAttack(opts.rateLimitPerMinute ?? 3000, opts.rateLimitClock);
  const fire = (payload: Record<string, unknown>) => {
    const target = opts.webhook?.();
    if (!target) return;
    const body = JSON.stringify(payload);
    deliverWebhook(target.url, body, target.secret ? signedHeaders(body, target.secret) : {});
  };
  const conversationEvent = (event: string, c: CwConversation, changed?: Array<Record<string, unknown>>) =>
    fire({ ...views.conversationPush(c), event, ...(changed ? { changed_attributes: changed } : {}) });
  /**
   * conversation_status_changed and conversation_updated as Chatwoot delivers them: WebhookListener is one of the
   * AsyncDispatcher's listeners, so each runs in an EventDispatcherJob (`perform_later`), which loads the conversation
   * again (ActiveJob serializes the record as its GlobalID) and builds `webhook_data` then, while `changed_attributes`
   * is the hash captured at the save (app/dispatchers/async_dispatcher.rb, app/jobs/event_dispatcher_job.rb,
   * app/listeners/webhook_listener.rb). So the saves of one request (a mute's resolve, block and activity message;
   * a reopen's self-assignment; status then labels) all show the conversation as it is once the job runs. The job
   * latency is an assumption (`webhookJobDelayMs`, docs/vendors/chatwoot.md "Assumptions"): each job runs that
   * long after its save, in the order of the saves; a conversation deleted by then sends nothing (the job cannot
   * load it).
   */
  const jobs = new Set<NodeJS.Timeout>();
  const jobDelay = opts.webhookJobDelayMs ?? 1000;
  const conversationJob = (event: string, c: CwConversation, changed: Array<Record<string, unknown>>) => {
    const timer = setTimeout(() => {
      jobs.delete(timer);
      if (state.conversations.get(c.display_id) === c) conversationEvent(event, c, changed);
    }, jobDelay).unref();
    jobs.add(timer);
  };
  const dropJobs = () => {
    for (const timer of jobs) clearTimeout(timer);
    jobs.clear();
  };
  /** message_created/updated fire for incoming, outgoing and template messages only (`webhook_sendable?`). */
  const messageEvent = (event: 'message_created' | 'message_updated', m: CwMessage, c: CwConversation) => {
    if (m.message_type !== MESSAGE_TYPE.activity) fire(views.messageWebhook(m, c, ACCOUNT_ID, event));
  };
  const contactUpdated = (c: CwConversation, previousBlocked: boolean) => {
    const contact = state.contactOf(c);
    fire({
      ...views.contactWebhook(contact, ACCOUNT_ID),
      event: 'contact_updated',
      changed_attributes: ChatwootViews.changed('blocked', previousBlocked, contact.blocked),
    });
  };
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  /**
   * One status save dispatches both `conversation_status_changed` and `conversation_updated` (status is one of
   * Conversation#list_of_keys): Conversation#execute_after_update_commit_callbacks runs notify_status_change, then
   * notify_conversation_updation (app/models/conversation.rb; docs/vendors/chatwoot.md "Webhooks").
   */
  const statusEvents = (c: CwConversation, previous: CwStatus) => {
    const changed = ChatwootViews.changed('status', previous, c.status);
    conversationJob('conversation_status_changed', c, changed);
    conversationJob('conversation_updated', c, changed);
  };

  /** Incoming messages reopen resolved and snoozed conversations unless muted (Message#reopen_conversation). */
  const reopenOnIncoming = (c: CwConversation) => {
    if ((c.status === 'resolved' || c.status === 'snoozed') && !state.contactOf(c).blocked) {
      const previous = c.status;
      c.status = 'open';
      c.snoozed_until = null;
      state.touch(c);
      statusEvents(c, previous);
    }
  };
  /**
   * A read (update_last_seen) or an "unread": conversations_controller.rb `update_last_seen_on_conversation` writes
   * agent_last_seen_at (and assignee_last_seen_at) with `update_column`, which runs no callback, so no webhook
   * is dispatched and `updated_at` does not move (docs/vendors/chatwoot.md "Unread semantics").
   */
  const markSeen = (c: CwConversation, at: number | null, assigneeToo: boolean) => {
    c.agent_last_seen_at = at;
    if (assigneeToo) c.assignee_last_seen_at = at;
  };
  const pageSize = Math.max(1, opts.pageSize ?? 25);

  // Rack::Attack runs before routing, for every path of the app.
  app.use((req, res, next) => (req.path.startsWith('/__sandbox') ? next() : limiter(req, res, next)));

  // ActiveStorage: `data_url` serves the bytes (upstream redirects to the storage service; no API token).
  const blob = (req: Request<{ key: string; filename: string }>, res: Response) => {
    const a = state.blobs.get(req.params.key);
    if (!a) {
      res.status(404).type('text/plain').send('Not Found');
      return;
    }
    res
      .type(a.content_type)
      .set('content-disposition', `inline; filename="${a.filename.replace(/"/g, '')}"`)
      .send(a.data);
  };
  app.get('/rails/active_storage/blobs/redirect/:key/:filename', blob);
  app.get('/rails/active_storage/representations/redirect/:key/:filename', blob);

  const api = express.Router({ mergeParams: true });
  api.use(express.json({ limit: '2mb' }), express.urlencoded({ extended: true, limit: '2mb' }));

  // AccessTokenAuthHelper, then EnsureCurrentAccountHelper (docs/vendors/chatwoot.md "Auth", "Errors").
  api.use((req: Request<{ account_id: string }>, res: Response<unknown, Locals>, next: NextFunction) => {
    const token = req.get('api_access_token');
    const user = token ? state.userByToken(token) : null;
    if (!user) {
      unauthorized(res, 'Invalid Access Token');
      return;
    }
    const accountId = int(req.params.account_id);
    const account = accountId === null ? null : state.account(accountId);
    if (!account) {
      notFound(res);
      return;
    }
    if (!user.account_ids.includes(account.id)) {
      unauthorized(res, 'You are not authorized to access this account');
      return;
    }
    res.locals.user = user;
    res.locals.accountId = account.id;
    next();
  });

  /** `find_by!(display_id:)` then Pundit's inbox policy. Answers the error itself and returns null. */
  const conversationOr = (req: Request, res: Response<unknown, Locals>): CwConversation | null => {
    const id = int(req.params.id);
    const c = id === null ? undefined : state.conversations.get(id);
    if (!c || res.locals.accountId !== ACCOUNT_ID) {
      notFound(res);
      return null;
    }
    if (!state.canSeeInbox(res.locals.user, c.inbox_id)) {
      notAllowed(res);
      return null;
    }
    return c;
  };

  /** ConversationFinder (docs/vendors/chatwoot.md "List", "Ordering", "Pagination"). */
  const find = (req: Request, user: CwUser) => {
    const query = req.query as Record<string, unknown>;
    let set = [...state.conversations.values()].filter((c) => state.canSeeInbox(user, c.inbox_id));
    const inboxId = int(query.inbox_id);
    if (inboxId !== null) set = set.filter((c) => c.inbox_id === inboxId);
    const q = str(query.q);
    // docs/vendors/chatwoot.md: with `q` the status filter is skipped; the default status is open.
    if (!q) {
      const status = str(query.status) ?? 'open';
      if (status !== 'all') set = set.filter((c) => c.status === status);
    }
    const labels = [...list(query.labels), ...list(query['labels[]'])];
    if (labels.length > 0) set = set.filter((c) => c.labels.some((l) => labels.includes(l)));
    if (q) {
      const needle = q.toLowerCase();
      set = set.filter((c) =>
        c.messages.some(
          (m) =>
            (m.message_type === MESSAGE_TYPE.incoming || m.message_type === MESSAGE_TYPE.outgoing) &&
            (m.content ?? '').toLowerCase().includes(needle),
        ),
      );
    }
    set.sort(sorter(str(query.sort_by)));
    const page = Math.max(1, int(query.page) ?? 1);
    // With `q`, filter_by_query calls `conversations`, which pages the relation (`.page(page).per(size)`) before
    // set_count_for_all_conversations counts it: each count is then the rows of the asked page only, at most one
    // page (conversation_finder.rb; docs/vendors/chatwoot.md "Pagination").
    const counted = (n: number) => (q ? Math.min(pageSize, Math.max(0, n - (page - 1) * pageSize)) : n);
    const unassigned = counted(set.filter((c) => c.assignee_id === null).length);
    const all = counted(set.length);
    const counts = {
      mine_count: counted(set.filter((c) => c.assignee_id === user.id).length),
      assigned_count: all - unassigned,
      unassigned_count: unassigned,
      all_count: all,
    };
    const assigneeType = str(query.assignee_type) ?? 'all';
    if (assigneeType === 'me') set = set.filter((c) => c.assignee_id === user.id);
    else if (assigneeType === 'unassigned') set = set.filter((c) => c.assignee_id === null);
    else if (assigneeType === 'assigned') set = set.filter((c) => c.assignee_id !== null);
    return { set, counts, page, teamGiven: query.team_id !== undefined };
  };

  api.get('/conversations', (req, res: Response<unknown, Locals>) => {
    const { set, counts, page, teamGiven } = find(req, res.locals.user);
    // The sandbox account has no teams: `teams.find(team_id)` raises RecordNotFound.
    if (teamGiven) return notFound(res);
    // conversation_finder.rb `conversations` (@36e471ae4, lines 187-197): with `updated_within` (seconds) the
    // sorted relation is cut to `conversations.updated_at > now - updated_within` and is NOT paged; the counts
    // were taken before, on the whole filtered list (`perform`, lines 39-56).
    const within = opts.updatedWithin === 'ignored' ? null : int((req.query as Record<string, unknown>).updated_within);
    const rows =
      within !== null
        ? set.filter((c) => c.updated_at > Date.now() - within * 1000)
        : set.slice((page - 1) * pageSize, page * pageSize);
    res.json({
      data: {
        meta: counts,
        payload: rows.map((c) => views.conversation(c, res.locals.accountId)),
      },
    });
  });

  /**
   * Conversations::FilterService (app/services/filter_service.rb, conversations/filter_service.rb): conditions
   * `{attribute_key, filter_operator, values, query_operator}` joined in order with AND/OR into one SQL
   * condition, every status, the inboxes the user may see, `sort_on_last_activity_at` (desc), Kaminari's
   * default 25 a page; counts before paging; the body is `{meta, payload}` without `data`
   * (filter.json.jbuilder). The emulator implements the keys of {@link FILTER_KEYS}.
   */
  api.post('/conversations/filter', (req, res: Response<unknown, Locals>) => {
    const body = (req.body ?? {}) as Body;
    // The request log keeps the conditions, so tests can tell which conversations were asked about.
    const entry = (res.locals as { requestLog?: { body?: string } }).requestLog;
    if (entry) entry.body = JSON.stringify(body);
    const conditions = Array.isArray(body.payload) ? (body.payload as unknown[]).filter(isObject) : [];
    const tests: Array<{ test: (c: CwConversation) => boolean; op: string }> = [];
    for (const cond of conditions) {
      const key = str(cond.attribute_key) ?? '';
      const operator = str(cond.filter_operator) ?? '';
      const queryOp =
        cond.query_operator === null || cond.query_operator === undefined ? '' : String(cond.query_operator);
      if (queryOp !== '' && !['AND', 'OR'].includes(queryOp.toUpperCase()))
        return couldNotCreate(res, 'Query operator must be either "AND" or "OR".');
      const allowed = FILTER_KEYS[key];
      if (!allowed) {
        return couldNotCreate(
          res,
          `Invalid attribute key - [${key}]. The key should be one of [${ALL_FILTER_KEYS.join(',')}] or a custom attribute defined in the account.`,
        );
      }
      if (!allowed.includes(operator))
        return couldNotCreate(res, `Invalid operator. The allowed operators for ${key} are [${allowed.join(',')}].`);
      const values = (Array.isArray(cond.values) ? cond.values : cond.values === undefined ? [] : [cond.values]).map(
        (v) => String(v),
      );
      if (!['is_present', 'is_not_present'].includes(operator) && values.length === 0)
        return couldNotCreate(res, `Invalid value. The values provided for ${key} are invalid`);
      const column = (c: CwConversation): string | null =>
        key === 'status'
          ? c.status
          : key === 'display_id'
            ? String(c.display_id)
            : key === 'inbox_id'
              ? String(c.inbox_id)
              : c.assignee_id === null
                ? null
                : String(c.assignee_id);
      const test = (c: CwConversation): boolean => {
        const v = column(c);
        switch (operator) {
          case 'equal_to':
            return v !== null && values.includes(v);
          case 'not_equal_to':
            return v !== null && !values.includes(v);
          case 'contains':
            return v !== null && values.some((x) => v.includes(x.trim()));
          case 'does_not_contain':
            return v !== null && values.every((x) => !v.includes(x.trim()));
          case 'is_present':
            return v !== null;
          default:
            return v === null;
        }
      };
      tests.push({ test, op: queryOp.toUpperCase() });
    }
    // SQL precedence: AND binds tighter than OR.
    const matches = (c: CwConversation) => {
      let any = false;
      let chain = true;
      tests.forEach(({ test }, i) => {
        chain = chain && test(c);
        const op = tests[i]?.op;
        if (op !== 'AND' || i === tests.length - 1) {
          any = any || chain;
          chain = true;
        }
      });
      return tests.length === 0 || any;
    };
    const user = res.locals.user;
    const set = [...state.conversations.values()]
      .filter((c) => state.canSeeInbox(user, c.inbox_id) && matches(c))
      .sort(sorter('last_activity_at_desc'));
    const page = Math.max(1, int(req.query.page) ?? int(body.page) ?? 1);
    const unassigned = set.filter((c) => c.assignee_id === null).length;
    res.json({
      meta: {
        mine_count: set.filter((c) => c.assignee_id === user.id).length,
        unassigned_count: unassigned,
        all_count: set.length,
      },
      payload: set
        .slice((page - 1) * FILTER_PAGE_SIZE, page * FILTER_PAGE_SIZE)
        .map((c) => views.conversation(c, res.locals.accountId)),
    });
  });

  /**
   * Chatwoot's sidebar unread counts (Api::V1::Accounts::Conversations::UnreadCountsController, upstream
   * chatwoot/chatwoot, not in the v4.8 mirror; docs/vendors/chatwoot.md "Unread semantics"): `{payload: {inboxes,
   * labels, teams}}`, each a map of id → number of *open* conversations with an incoming message after
   * agent_last_seen_at (Conversations::UnreadCounts::Refresher#unread?), positive counts only, over the inboxes the
   * user may see. Without the `conversation_unread_counts` feature: 403 `{error}`; on a Chatwoot without the route
   * the path falls through to `GET /conversations/:id` (404).
   */
  api.get('/conversations/unread_counts', (_req, res: Response<unknown, Locals>, next: NextFunction) => {
    const mode = (typeof opts.unreadCounts === 'function' ? opts.unreadCounts() : opts.unreadCounts) ?? 'disabled';
    if (mode === 'absent') return next();
    if (mode === 'disabled') {
      res.status(403).json({ error: 'Conversation unread counts feature not enabled for this account' });
      return;
    }
    const inboxes: Record<string, number> = {};
    for (const c of state.conversations.values()) {
      if (c.status !== 'open' || !state.canSeeInbox(res.locals.user, c.inbox_id) || state.unreadOf(c) === 0) continue;
      inboxes[String(c.inbox_id)] = (inboxes[String(c.inbox_id)] ?? 0) + 1;
    }
    // The sandbox has no label records (ids, show_on_sidebar) and no teams: both maps stay empty.
    res.json({ payload: { inboxes, labels: {}, teams: {} } });
  });

  api.get('/conversations/meta', (req, res: Response<unknown, Locals>) => {
    const { counts, teamGiven } = find(req, res.locals.user);
    if (teamGiven) return notFound(res);
    res.json({ meta: counts });
  });

  api.post('/conversations', (req, res: Response<unknown, Locals>) => {
    const body = (req.body ?? {}) as Body;
    const user = res.locals.user;
    const inboxId = int(body.inbox_id);
    const contactId = int(body.contact_id);
    const sourceId = str(body.source_id);
    let contactInbox;
    if (inboxId !== null && contactId !== null) {
      // ContactInboxBuilder: with both ids the contact_inbox is found or built, source_id optional.
      const inbox = state.inbox(inboxId);
      const contact = state.contacts.get(contactId);
      if (!inbox || !contact) return notFound(res);
      if (!state.canSeeInbox(user, inbox.id)) return notAllowed(res);
      let sid = sourceId;
      if (!sid && inbox.channel_type === 'Channel::Email') {
        if (!contact.email) return couldNotCreate(res, 'param is missing or the value is empty: contact email');
        sid = contact.email;
      }
      contactInbox = state.findOrCreateContactInbox(contact, inbox, sid ?? randomUUID());
    } else {
      // The older lookup by source_id alone (`ContactInbox.find_by!(source_id:)`).
      contactInbox = sourceId ? [...state.contactInboxes.values()].find((ci) => ci.source_id === sourceId) : undefined;
      if (!contactInbox) return notFound(res);
      if (!state.canSeeInbox(user, contactInbox.inbox_id)) return notAllowed(res);
    }
    const status = str(body.status) ?? 'open';
    if (!['open', 'resolved', 'pending'].includes(status))
      return couldNotCreate(res, `'${status}' is not a valid status`);
    const assigneeId = int(body.assignee_id);
    const now = Date.now();
    const c: CwConversation = {
      db_id: state.nextIds.conversationDb++,
      display_id: state.nextIds.conversation++,
      uuid: randomUUID(),
      inbox_id: contactInbox.inbox_id,
      contact_id: contactInbox.contact_id,
      contact_inbox_id: contactInbox.id,
      assignee_id: assigneeId !== null && state.user(assigneeId) ? assigneeId : null,
      assignee_agent_bot_id: null,
      status: status as CwStatus,
      snoozed_until: null,
      priority: null,
      labels: [],
      additional_attributes: isObject(body.additional_attributes) ? body.additional_attributes : {},
      custom_attributes: isObject(body.custom_attributes) ? body.custom_attributes : {},
      agent_last_seen_at: null,
      assignee_last_seen_at: null,
      contact_last_seen_at: null,
      created_at: now,
      updated_at: now,
      last_activity_at: now,
      first_reply_created_at: null,
      waiting_since: now,
      messages: [],
    };
    state.conversations.set(c.display_id, c);
    conversationEvent('conversation_created', c);
    const message = isObject(body.message) ? body.message : null;
    const content = message ? str(message.content) : undefined;
    if (content) {
      const m = state.addMessage(c, {
        content,
        message_type: MESSAGE_TYPE.outgoing,
        content_type: 'text',
        content_attributes: {},
        private: false,
        status: 'sent',
        source_id: null,
        sender_type: 'User',
        sender_id: user.id,
      });
      messageEvent('message_created', m, c);
    }
    res.json(views.conversation(c, res.locals.accountId));
  });

  api.get('/conversations/:id', (req, res: Response<unknown, Locals>) => {
    const c = conversationOr(req, res);
    if (c) res.json(views.conversation(c, res.locals.accountId));
  });

  api.delete('/conversations/:id', (req, res: Response<unknown, Locals>) => {
    const c = conversationOr(req, res);
    if (!c) return;
    // ConversationPolicy#destroy?: administrators only.
    if (res.locals.user.role !== 'administrator') return notAllowed(res);
    // Upstream deletes in a background job after answering; the sandbox deletes at once.
    for (const m of c.messages) state.removeAttachments(m);
    state.conversations.delete(c.display_id);
    res.status(200).end();
  });

  api.post('/conversations/:id/toggle_status', (req, res: Response<unknown, Locals>) => {
    const c = conversationOr(req, res);
    if (!c) return;
    const body = (req.body ?? {}) as Body;
    const wanted = str(body.status);
    // Without a status it toggles open ↔ resolved.
    const status = wanted ?? (c.status === 'open' ? 'resolved' : 'open');
    if (!STATUSES.includes(status as CwStatus)) return couldNotCreate(res, `'${status}' is not a valid status`);
    const until = int(body.snoozed_until);
    const previous = state.setStatus(c, status as CwStatus, res.locals.user, until !== null ? until * 1000 : null);
    if (previous) statusEvents(c, previous);
    // conversations_controller.rb#toggle_status: `assign_conversation if should_assign_conversation?`, i.e. when the
    // conversation ends up open and the caller is a plain agent (not an administrator), it is assigned to the
    // caller, whoever had it (docs/vendors/chatwoot.md "Reopen assigns").
    if (c.status === 'open' && res.locals.user.role === 'agent') {
      const before = c.assignee_id;
      if (state.assign(c, res.locals.user) !== undefined) {
        conversationJob('conversation_updated', c, ChatwootViews.changed('assignee_id', before, c.assignee_id));
      }
    }
    res.json({
      meta: {},
      payload: {
        success: true,
        conversation_id: c.display_id,
        current_status: c.status,
        snoozed_until: iso(c.snoozed_until),
      },
    });
  });

  api.get('/conversations/:id/labels', (req, res: Response<unknown, Locals>) => {
    const c = conversationOr(req, res);
    if (c) res.json({ payload: [...c.labels] });
  });

  api.post('/conversations/:id/labels', (req, res: Response<unknown, Locals>) => {
    const c = conversationOr(req, res);
    if (!c) return;
    // docs/vendors/chatwoot.md: replaces the whole list (`update!(label_list: params[:labels])`; none clears it).
    const body = (req.body ?? {}) as Body;
    const next = [
      ...new Set(
        list(body.labels)
          .map((l) => l.trim().toLowerCase())
          .filter(Boolean),
      ),
    ];
    const previous = c.labels;
    if (previous.join(',') !== next.join(',')) {
      c.labels = next;
      state.touch(c);
      conversationJob('conversation_updated', c, ChatwootViews.changed('label_list', previous, next));
    }
    res.json({ payload: [...c.labels] });
  });

  api.post('/conversations/:id/update_last_seen', (req, res: Response<unknown, Locals>) => {
    const c = conversationOr(req, res);
    if (!c) return;
    markSeen(c, Date.now(), c.assignee_id === res.locals.user.id);
    res.json(views.conversation(c, res.locals.accountId));
  });

  api.post('/conversations/:id/unread', (req, res: Response<unknown, Locals>) => {
    const c = conversationOr(req, res);
    if (!c) return;
    // docs/vendors/chatwoot.md: last-seen goes to 1 s before the last incoming message.
    const lastIncoming = [...c.messages].reverse().find((m) => m.message_type === MESSAGE_TYPE.incoming);
    markSeen(c, lastIncoming ? lastIncoming.created_at - 1000 : null, true);
    res.json(views.conversation(c, res.locals.accountId));
  });

  api.post('/conversations/:id/mute', (req, res: Response<unknown, Locals>) => {
    const c = conversationOr(req, res);
    if (!c) return;
    // docs/vendors/chatwoot.md "Mute": resolve + block the contact (conversation_mute_helpers.rb), then an activity message.
    const previous = state.setStatus(c, 'resolved', res.locals.user);
    if (previous) statusEvents(c, previous);
    const contact = state.contactOf(c);
    const wasBlocked = contact.blocked;
    contact.blocked = true;
    state.addActivity(c, `${res.locals.user.name} has muted the conversation`);
    if (!wasBlocked) contactUpdated(c, wasBlocked);
    res.status(200).end();
  });

  api.post('/conversations/:id/unmute', (req, res: Response<unknown, Locals>) => {
    const c = conversationOr(req, res);
    if (!c) return;
    const contact = state.contactOf(c);
    const wasBlocked = contact.blocked;
    contact.blocked = false;
    state.addActivity(c, `${res.locals.user.name} has unmuted the conversation`);
    if (wasBlocked) contactUpdated(c, wasBlocked);
    res.status(200).end();
  });

  /** MessageFinder (docs/vendors/chatwoot.md "Pagination"): always ascending by created_at. */
  api.get('/conversations/:id/messages', (req, res: Response<unknown, Locals>) => {
    const c = conversationOr(req, res);
    if (!c) return;
    let all = c.messages;
    if (truthy(req.query.filter_internal_messages))
      all = all.filter((m) => !m.private && m.message_type !== MESSAGE_TYPE.activity);
    const before = int(req.query.before);
    const after = int(req.query.after);
    let page: CwMessage[];
    if (after !== null && before !== null) page = all.filter((m) => m.id >= after && m.id < before).slice(0, 1000);
    else if (before !== null) page = all.filter((m) => m.id < before).slice(-20);
    else if (after !== null) page = all.filter((m) => m.id > after).slice(0, 100);
    else page = all.slice(-20);
    const contact = state.contactOf(c);
    const assignee = state.user(c.assignee_id);
    res.json({
      meta: {
        labels: [...c.labels],
        additional_attributes: c.additional_attributes,
        contact: views.contactPush(contact),
        ...(assignee ? { assignee: views.userPush(assignee) } : {}),
        agent_last_seen_at: iso(c.agent_last_seen_at),
        assignee_last_seen_at: iso(c.assignee_last_seen_at),
      },
      payload: page.map((m) => views.message(m, res.locals.accountId)),
    });
  });

  api.post('/conversations/:id/messages', (req, res: Response<unknown, Locals>, next: NextFunction) => {
    const c = conversationOr(req, res);
    if (!c) return;
    readMessageBody(req)
      .then(({ body, files }) => createMessage(c, body, files, res))
      .catch(next);
  });

  const createMessage = (c: CwConversation, body: Body, files: UploadedFile[], res: Response<unknown, Locals>) => {
    const user = res.locals.user;
    const type = str(body.message_type) ?? 'outgoing';
    if (type !== 'outgoing' && type !== 'incoming')
      return invalid(res, 'Message type is not included in the list', ['message_type']);
    // docs/vendors/chatwoot.md: `incoming` is for API inboxes only.
    if (type === 'incoming' && c.inbox_id !== API_INBOX_ID) {
      return invalid(res, 'Message type Incoming messages are only allowed in Api inboxes', ['message_type']);
    }
    const content = str(body.content) ?? null;
    if (content !== null && content.length > MAX_CONTENT) {
      return invalid(res, `Content is too long (maximum is ${MAX_CONTENT} characters)`, ['content']);
    }
    if (files.length > MAX_FILES) return invalid(res, 'Attachments exceeded maximum allowed', ['attachments']);
    if (files.some((f) => f.truncated || f.data.length > MAX_FILE_SIZE))
      return invalid(res, 'File size is too big', ['file']);
    if (files.some((f) => !allowedType(f.contentType))) return invalid(res, 'File type not supported', ['file']);
    const since = Date.now() - 60_000;
    if (c.messages.filter((m) => m.created_at > since).length >= MESSAGES_PER_MINUTE) {
      return invalid(res, 'Too many messages', ['base']);
    }
    const incoming = type === 'incoming';
    const attributes = isObject(body.content_attributes)
      ? body.content_attributes
      : typeof body.content_attributes === 'string'
        ? parseObject(body.content_attributes)
        : {};
    const m = state.addMessage(c, {
      content,
      message_type: incoming ? MESSAGE_TYPE.incoming : MESSAGE_TYPE.outgoing,
      content_type: str(body.content_type) ?? 'text',
      content_attributes: attributes,
      private: !incoming && truthy(body.private),
      status: 'sent',
      source_id: str(body.source_id) ?? null,
      sender_type: incoming ? 'Contact' : 'User',
      sender_id: incoming ? c.contact_id : user.id,
      files: files.map((f) => ({ filename: f.filename, contentType: f.contentType, data: f.data })),
    });
    if (incoming) reopenOnIncoming(c);
    messageEvent('message_created', m, c);
    res.json(views.message(m, res.locals.accountId));
  };

  api.delete('/conversations/:id/messages/:message_id', (req, res: Response<unknown, Locals>) => {
    const c = conversationOr(req, res);
    if (!c) return;
    const id = int(req.params.message_id);
    const m = c.messages.find((x) => x.id === id);
    if (!m) return notFound(res);
    // docs/vendors/chatwoot.md "Delete msg": a soft delete.
    m.content = DELETED_TEXT;
    m.content_type = 'text';
    m.content_attributes = { deleted: true };
    m.updated_at = Date.now();
    state.removeAttachments(m);
    messageEvent('message_updated', m, c);
    res.json(views.message(m, res.locals.accountId));
  });

  /**
   * The contact list (issue 15), as `Api::V1::Accounts::ContactsController#index` (contacts_controller.rb lines
   * 12, 19-22, 122-145, 178-184 @bdcb1934c): `resolved_contacts` only (contact.rb lines 183-189: an email, a phone
   * number or an identifier; widget visitors with none are left out), sorted by Sift's `sort` (`created_at`,
   * `last_activity_at`, `name`, `email`, `phone_number`, `-` for descending, NULLS LAST; others are not emulated and
   * leave the id order), `RESULTS_PER_PAGE = 15` a page (`page`, Kaminari: below 1 is 1), each row the contact
   * partial with `contact_inboxes` unless `include_contact_inboxes` is not `true` (lines 178-184); index.json.jbuilder:
   * `{meta: {count, current_page}, payload}`, `count` the total (`total_count`), `current_page` the `page`
   * parameter as given (a string) or 1. Assumption (docs/vendors/chatwoot.md "Contacts"): ties of the sort key keep
   * the id order (Postgres leaves them unordered).
   */
  api.get('/contacts', (req, res: Response<unknown, Locals>) => {
    if (res.locals.accountId !== ACCOUNT_ID) return notFound(res);
    const query = req.query as Record<string, unknown>;
    const rows = [...state.contacts.values()]
      .filter((c) => !!c.email || !!c.phone_number || !!c.identifier)
      .sort((a, b) => a.id - b.id);
    const sort = str(query.sort);
    const m = sort ? /^(-?)(created_at|last_activity_at|name|email|phone_number)$/.exec(sort) : null;
    if (m) {
      const dir = m[1] === '-' ? -1 : 1;
      const key = m[2] as 'created_at' | 'last_activity_at' | 'name' | 'email' | 'phone_number';
      const value = (c: CwContact): string | number | null =>
        key === 'name' ? c.name.toLowerCase() : key === 'created_at' ? Math.floor(c.created_at / 1000) : c[key];
      rows.sort((a, b) => {
        const x = value(a);
        const y = value(b);
        if (x === y) return 0;
        if (x === null) return 1;
        if (y === null) return -1;
        return dir * (x < y ? -1 : 1);
      });
    }
    const page = Math.max(1, int(query.page) ?? 1);
    const per = CONTACTS_PER_PAGE;
    const withInboxes = query.include_contact_inboxes === undefined || query.include_contact_inboxes === 'true';
    res.json({
      meta: { count: rows.length, current_page: str(query.page) ?? 1 },
      payload: rows.slice((page - 1) * per, page * per).map((c) => views.contact(c, withInboxes)),
    });
  });

  api.get('/contacts/:id', (req, res: Response<unknown, Locals>) => {
    const id = int(req.params.id);
    const contact = id === null ? undefined : state.contacts.get(id);
    if (!contact || res.locals.accountId !== ACCOUNT_ID) return notFound(res);
    res.json({ payload: views.contact(contact, true) });
  });

  api.get('/agents', (_req, res: Response<unknown, Locals>) => {
    res.json(
      state.users
        .filter((u) => u.account_ids.includes(res.locals.accountId))
        .map((u) => views.agent(u, res.locals.accountId)),
    );
  });

  api.get('/agent_bots/:id', (req, res: Response<unknown, Locals>) => {
    const id = int(req.params.id);
    const b = id === null ? null : state.bot(id);
    if (!b || res.locals.accountId !== ACCOUNT_ID) return notFound(res);
    res.json(views.bot(b, res.locals.accountId));
  });

  api.use((_req, res) => {
    res.status(404).json({ error: 'Not Found' });
  });
  // Bad JSON: ActionDispatch's ParseError is a 400.
  api.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const status =
      typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number' ? err.status : 500;
    res.status(status).json({ error: status === 400 ? 'Bad Request' : 'Internal Server Error' });
  });

  app.use('/api/v1/accounts/:account_id', api);

  const conversationFromControl = (id: string | undefined): CwConversation | undefined => {
    if (id === undefined) return undefined;
    const m = /^(?:\d+:)?(\d+)$/.exec(String(id));
    return m ? state.conversations.get(Number(m[1])) : undefined;
  };

  return {
    reset: () => {
      dropJobs();
      state.reset();
      limiter.reset();
    },
    simulateIncoming: ({ conversationId, content }) => {
      const open = [...state.conversations.values()].filter((c) => c.status === 'open');
      const c =
        conversationId !== undefined
          ? conversationFromControl(conversationId)
          : open[Math.floor(Math.random() * open.length)];
      if (!c) return { error: 'Resource could not be found' };
      const m = state.addMessage(c, {
        content: content ?? 'Hello? Is anybody there?',
        message_type: MESSAGE_TYPE.incoming,
        content_type: 'text',
        content_attributes: {},
        private: false,
        status: 'sent',
        source_id: null,
        sender_type: 'Contact',
        sender_id: c.contact_id,
      });
      reopenOnIncoming(c);
      messageEvent('message_created', m, c);
      return views.message(m, ACCOUNT_ID);
    },
    simulateRead: ({ conversationId }) => {
      const c = conversationFromControl(conversationId);
      if (!c) return null;
      markSeen(c, Date.now(), c.assignee_id !== null);
      return views.conversation(c, ACCOUNT_ID);
    },
    unreadState: () => sumUnread(state.conversations.values(), (c) => state.unreadOf(c)),
  };
}

/**
 * The headers of a signed delivery (Chatwoot PR #13573, v4.11.2; docs/vendors/chatwoot.md "Webhooks"):
 * `X-Chatwoot-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{raw body}">`, `X-Chatwoot-Timestamp` (unix
 * seconds) and `X-Chatwoot-Delivery` (a uuid per delivery).
 */
function signedHeaders(body: string, secret: string): Record<string, string> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return {
    'x-chatwoot-signature': `sha256=${mac}`,
    'x-chatwoot-timestamp': timestamp,
    'x-chatwoot-delivery': randomUUID(),
  };
}

/**
 * `sort_by` (docs/vendors/chatwoot.md "Ordering"); ties go to the lower display id, the same as the gateway's
 * compareConversations for one account.
 */
function sorter(sortBy: string | undefined): (a: CwConversation, b: CwConversation) => number {
  const secs = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));
  const PRIORITY = { urgent: 4, high: 3, medium: 2, low: 1 } as const;
  const pri = (c: CwConversation) => (c.priority ? PRIORITY[c.priority] : 0);
  const byId = (a: CwConversation, b: CwConversation) => a.display_id - b.display_id;
  /** Descending with nulls (0 upstream) last. */
  const desc = (x: number | null, y: number | null) =>
    x === y ? 0 : x === null || x === 0 ? 1 : y === null || y === 0 ? -1 : y - x;
  switch (sortBy) {
    case 'last_activity_at_asc':
      return (a, b) => (secs(a.last_activity_at) ?? 0) - (secs(b.last_activity_at) ?? 0) || byId(a, b);
    case 'created_at_desc':
      return (a, b) => desc(secs(a.created_at), secs(b.created_at)) || byId(a, b);
    case 'created_at_asc':
    case 'sort_on_created_at':
      return (a, b) => (secs(a.created_at) ?? 0) - (secs(b.created_at) ?? 0) || byId(a, b);
    case 'priority_desc':
      return (a, b) => pri(b) - pri(a) || desc(secs(a.last_activity_at), secs(b.last_activity_at)) || byId(a, b);
    case 'priority_asc':
      return (a, b) => pri(a) - pri(b) || desc(secs(a.last_activity_at), secs(b.last_activity_at)) || byId(a, b);
    case 'waiting_since_asc':
      return (a, b) => (secs(a.waiting_since) ?? Infinity) - (secs(b.waiting_since) ?? Infinity) || byId(a, b);
    case 'waiting_since_desc':
      return (a, b) => desc(secs(a.waiting_since), secs(b.waiting_since)) || byId(a, b);
    default:
      // last_activity_at_desc, the default (alias `latest`): compared in whole seconds, as the API shows them.
      return (a, b) => desc(secs(a.last_activity_at), secs(b.last_activity_at)) || byId(a, b);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function parseObject(s: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(s);
    return isObject(v) ? v : {};
  } catch {
    return {};
  }
}

/** JSON / form bodies come parsed; multipart (`attachments[]`) is read here with busboy. */
function readMessageBody(req: Request): Promise<{ body: Body; files: UploadedFile[] }> {
  if (!req.is('multipart/form-data')) return Promise.resolve({ body: (req.body ?? {}) as Body, files: [] });
  return new Promise((resolve, reject) => {
    const body: Body = {};
    const files: UploadedFile[] = [];
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: MAX_FILE_SIZE + 1, files: MAX_FILES + 1 } });
    } catch (e) {
      reject(Object.assign(new Error('malformed multipart body'), { status: 400, cause: e }));
      return;
    }
    bb.on('field', (name, value) => {
      const key = name.replace(/\[\]$/, '');
      const prev = body[key];
      body[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    });
    const chunks = new Map<UploadedFile, Buffer[]>();
    bb.on('file', (_name, stream, info) => {
      const f: UploadedFile = {
        filename: info.filename || 'file',
        contentType: info.mimeType || 'application/octet-stream',
        data: Buffer.alloc(0),
        truncated: false,
      };
      const parts: Buffer[] = [];
      chunks.set(f, parts);
      stream.on('data', (d: Buffer) => parts.push(d));
      stream.on('limit', () => {
        f.truncated = true;
      });
      files.push(f);
    });
    bb.on('filesLimit', () => {
      // One more than allowed was seen; count it so the validation answers "exceeded".
      files.push({
        filename: 'extra',
        contentType: 'application/octet-stream',
        data: Buffer.alloc(0),
        truncated: false,
      });
    });
    bb.on('error', (e) => reject(Object.assign(new Error('malformed multipart body'), { status: 400, cause: e })));
    bb.on('close', () => {
      for (const [f, parts] of chunks) f.data = Buffer.concat(parts);
      resolve({ body, files });
    });
    req.pipe(bb);
  });
}
