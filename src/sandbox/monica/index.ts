import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { serveEmulator, type EmulatorHandle, type VendorControls, type EmulatorStartOptions } from '../kit/server';
import {
  ACCOUNT_ID,
  MonicaState,
  dateOf,
  type MoContact,
  type MoConversation,
  type MoFieldType,
  type MoMessage,
} from './state';

/**
 * Emulator of the Monica 4.x REST API (seed 003, docs/vendors/monica.md) under `/api`: Passport Bearer auth, Laravel
 * pagination and validation, Monica's error envelope, and its throttle (60 requests a minute per token).
 */

/** The personal access token the embedded default uses. */
export const MONICA_SANDBOX_TOKEN = 'sandbox-monica-personal-access-token';
/** docs/vendors/monica.md "Rate limit": RATE_LIMIT_PER_MINUTE_API. */
export const MONICA_RATE_LIMIT_PER_MINUTE = 60;
/** docs/vendors/monica.md "Pagination": MAX_API_LIMIT_PER_PAGE. */
const MAX_LIMIT = 100;
/** Eloquent's default page size, used when `limit` is absent or 0 (docs/vendors/monica.md). */
const DEFAULT_LIMIT = 15;

/** `Y-m-d\TH:i:s\Z` (docs/vendors/monica.md: config/api.php timestamp_format). */
const ts = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
/** Dates (`happened_at`, `written_at`) come back as midnight UTC. */
const dayTs = (day: string) => `${day}T00:00:00Z`;

/** Monica's error messages (config/api.php `error_codes`). */
const ERRORS: Record<number, [number, string]> = {
  30: [400, 'The limit parameter is too big.'],
  31: [404, 'The resource has not been found.'],
  34: [429, 'Too many attempts, please slow down the request'],
  37: [400, 'Problems parsing JSON.'],
  39: [400, 'The sorting criteria is invalid.'],
  40: [500, 'Invalid query.'],
};

function fail(res: Response, code: number, message?: string | string[], status?: number) {
  const [dfltStatus, dfltMessage] = ERRORS[code] ?? [500, 'Error'];
  res.status(status ?? dfltStatus).json({ error: { message: message ?? dfltMessage, error_code: code } });
}
/** docs/vendors/monica.md: validation fails with 422, error_code 32 and `message` as an array of strings. */
const invalid = (res: Response, messages: string[]) => fail(res, 32, messages, 422);
const notFound = (res: Response) => fail(res, 31);

export async function startMonicaEmulator(opts: EmulatorStartOptions = {}): Promise<EmulatorHandle> {
  const state = new MonicaState(opts.scale ?? 1, opts.seed ?? 1);
  const limit = opts.rateLimitPerMinute ?? MONICA_RATE_LIMIT_PER_MINUTE;
  return serveEmulator('monica', (app, self) => mount(app, state, limit, () => self().url), opts);
}

/**
 * Laravel's `throttle` as Monica configures it: a fixed one-minute window per user (per IP when
 * unauthenticated), `X-RateLimit-Limit`/`-Remaining` on every answer, 429 with `Retry-After` when spent.
 */
function throttle(limit: number) {
  const windows = new Map<string, { start: number; hits: number }>();
  const middleware = (req: Request, res: Response, next: NextFunction) => {
    const now = Date.now();
    const key = req.get('authorization') || `ip:${req.ip}`;
    let w = windows.get(key);
    if (!w || now - w.start >= 60_000) {
      if (windows.size > 10_000) for (const [k, v] of windows) if (now - v.start >= 60_000) windows.delete(k);
      w = { start: now, hits: 0 };
      windows.set(key, w);
    }
    res.set('X-RateLimit-Limit', String(limit));
    if (w.hits >= limit) {
      const retryAfter = Math.max(1, Math.ceil((w.start + 60_000 - now) / 1000));
      res.set('X-RateLimit-Remaining', '0');
      res.set('Retry-After', String(retryAfter));
      res.set('X-RateLimit-Reset', String(Math.ceil((w.start + 60_000) / 1000)));
      fail(res, 34);
      return;
    }
    w.hits++;
    res.set('X-RateLimit-Remaining', String(limit - w.hits));
    next();
  };
  return { middleware, clear: () => windows.clear() };
}

// ---- Laravel validation, the few rules Monica's services use here ----

type Rule = 'date' | 'integer' | 'boolean' | 'string';
const label = (field: string) => field.replace(/_/g, ' ');

function validate(body: Record<string, unknown>, rules: Record<string, Rule>): string[] {
  const errors: string[] = [];
  for (const [field, rule] of Object.entries(rules)) {
    const v = body[field];
    if (v === undefined || v === null || v === '') {
      errors.push(`The ${label(field)} field is required.`);
      continue;
    }
    if (rule === 'date' && !(typeof v === 'string' && !Number.isNaN(Date.parse(v)))) {
      errors.push(`The ${label(field)} is not a valid date.`);
    } else if (rule === 'integer' && !(Number.isInteger(v) || (typeof v === 'string' && /^-?\d+$/.test(v)))) {
      errors.push(`The ${label(field)} must be an integer.`);
    } else if (rule === 'boolean' && ![true, false, 0, 1, '0', '1'].includes(v as never)) {
      errors.push(`The ${label(field)} field must be true or false.`);
    } else if (rule === 'string' && typeof v !== 'string') {
      errors.push(`The ${label(field)} must be a string.`);
    }
  }
  return errors;
}
/** The day of a validated date input (`YYYY-MM-DD` or anything Date.parse reads). */
const dayOf = (v: unknown) => {
  const s = String(v);
  return /^\d{4}-\d{2}-\d{2}/.test(s) ? s.slice(0, 10) : dateOf(new Date(Date.parse(s)));
};
const bool = (v: unknown) => v === true || v === 1 || v === '1';
const int = (v: unknown) => Number(v);
/** A route id: anything but a positive integer cannot exist (findOrFail answers 404). */
const idParam = (v: string) => (/^\d{1,15}$/.test(v) ? Number(v) : -1);

function mount(app: Express, state: MonicaState, rateLimit: number, baseUrl: () => string): VendorControls {
  const account = { id: ACCOUNT_ID };

  const fieldTypeJson = (t: MoFieldType) => ({
    id: t.id,
    uuid: t.uuid,
    object: 'contactfieldtype',
    name: t.name,
    fontawesome_icon: t.fontawesome_icon,
    protocol: t.protocol,
    delible: t.delible,
    type: t.type,
    account,
    created_at: ts(t.created_at),
    updated_at: ts(t.updated_at),
  });
  const emptyDate = { is_age_based: null, is_year_unknown: null, date: null };
  /** ContactShort as 4.x code serializes it (docs/vendors/monica.md "Objects"), with the 4.x avatar shape. */
  const contactShortJson = (c: MoContact) => ({
    id: c.id,
    uuid: c.uuid,
    object: 'contact',
    hash_id: c.hash_id,
    first_name: c.first_name,
    last_name: c.last_name,
    nickname: c.nickname,
    complete_name: [c.first_name, c.last_name].filter(Boolean).join(' '),
    initials: [c.first_name, c.last_name].map((p) => (p ? p[0] : '')).join(''),
    gender: c.gender,
    gender_type: c.gender_type,
    is_starred: c.is_starred,
    is_partial: false,
    is_active: true,
    is_dead: false,
    is_me: false,
    information: {
      birthdate: emptyDate,
      deceased_date: emptyDate,
      avatar: { url: c.avatar_url, source: c.avatar_source, default_avatar_color: c.default_avatar_color },
    },
    url: `${baseUrl()}/api/contacts/${c.id}`,
    account,
  });
  const contactJson = (c: MoContact, withFields: boolean) => ({
    ...contactShortJson(c),
    ...(withFields
      ? {
          contactFields: c.fields.map((f) => ({
            id: f.id,
            uuid: f.uuid,
            object: 'contactfield',
            content: f.content,
            contact_field_type: fieldTypeJson(state.fieldTypes.get(f.contact_field_type_id) as MoFieldType),
            account,
            contact: { id: c.id },
            created_at: ts(f.created_at),
            updated_at: ts(f.updated_at),
          })),
        }
      : {}),
    created_at: ts(c.created_at),
    updated_at: ts(c.updated_at),
  });
  const contactOf = (id: number) => state.contacts.get(id) as MoContact;
  const messageJson = (m: MoMessage) => ({
    id: m.id,
    uuid: m.uuid,
    object: 'message',
    content: m.content,
    written_at: dayTs(m.written_at),
    written_by_me: m.written_by_me,
    account,
    contact: contactShortJson(contactOf(m.contact_id)),
    conversation: { id: m.conversation_id },
    created_at: ts(m.created_at),
    updated_at: ts(m.updated_at),
  });
  const conversationJson = (c: MoConversation) => ({
    id: c.id,
    uuid: c.uuid,
    object: 'conversation',
    happened_at: dayTs(c.happened_at),
    // docs/vendors/monica.md: every message, in DB order (the relation has no orderBy).
    messages: c.messages.map(messageJson),
    contact_field_type: fieldTypeJson(state.fieldTypes.get(c.contact_field_type_id) as MoFieldType),
    url: `${baseUrl()}/api/conversations/${c.id}`,
    account,
    contact: contactShortJson(contactOf(c.contact_id)),
    created_at: ts(c.created_at),
    updated_at: ts(c.updated_at),
  });

  /**
   * Laravel's paginator behind Monica's ApiController: `limit` (max 100, else error 30; 0 or absent → 15),
   * `page`, and for sortable lists `sort` (created_at/updated_at, `-` for desc, else error 39).
   * Links carry only `page`, as Laravel builds them without `appends()` (seed 003).
   */
  function paginate<T>(
    req: Request,
    res: Response,
    path: string,
    items: T[],
    json: (t: T) => unknown,
    sortable?: (t: T) => { created_at: Date; updated_at: Date; id: number },
  ) {
    const rawLimit = req.query.limit;
    const limitNum = typeof rawLimit === 'string' && /^\d+$/.test(rawLimit) ? Number(rawLimit) : 0;
    if (limitNum > MAX_LIMIT) return fail(res, 30);
    const perPage = limitNum > 0 ? limitNum : DEFAULT_LIMIT;
    const rawPage = typeof req.query.page === 'string' && /^\d+$/.test(req.query.page) ? Number(req.query.page) : 1;
    const page = Math.max(1, rawPage);
    let list = items;
    if (sortable) {
      const sort = typeof req.query.sort === 'string' ? req.query.sort : 'created_at';
      const m = /^(-?)(created_at|updated_at)$/.exec(sort);
      if (!m) {
        // docs/vendors/monica.md: these pass ApiController's check but are no columns of conversations.
        if (/^-?(completed_at|called_at|favorited_at)$/.test(sort)) return fail(res, 40);
        return fail(res, 39);
      }
      const dir = m[1] === '-' ? -1 : 1;
      const col = m[2] as 'created_at' | 'updated_at';
      list = [...items].sort((a, b) => {
        const x = sortable(a);
        const y = sortable(b);
        return dir * (x[col].getTime() - y[col].getTime()) || x.id - y.id;
      });
    }
    const total = list.length;
    const lastPage = Math.max(1, Math.ceil(total / perPage));
    const slice = list.slice((page - 1) * perPage, page * perPage);
    const from = slice.length > 0 ? (page - 1) * perPage + 1 : null;
    const url = `${baseUrl()}/api${path}`;
    const link = (p: number) => `${url}?page=${p}`;
    res.json({
      data: slice.map(json),
      links: {
        first: link(1),
        last: link(lastPage),
        prev: page > 1 ? link(page - 1) : null,
        next: page < lastPage ? link(page + 1) : null,
      },
      meta: {
        current_page: page,
        from,
        last_page: lastPage,
        path: url,
        per_page: perPage,
        to: from === null ? null : from + slice.length - 1,
        total,
      },
    });
  }

  const limiter = throttle(rateLimit);
  const api = express.Router();
  api.use(limiter.middleware);
  // Passport (`auth:api`): Bearer token; Laravel's own 401 body, or a redirect to the login page when the
  // client does not ask for JSON (docs/vendors/monica.md "Auth").
  api.use((req, res, next) => {
    if (req.get('authorization') === `Bearer ${MONICA_SANDBOX_TOKEN}`) return next();
    if (/[/+]json/.test(req.get('accept') ?? '')) {
      res.status(401).json({ message: 'Unauthenticated.' });
      return;
    }
    res.redirect(302, `${baseUrl()}/login`);
  });
  api.use(express.json({ limit: '1mb', strict: false }));
  // docs/vendors/monica.md: a body that is not valid JSON is 400 with error_code 37.
  api.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (err && typeof err === 'object' && (err as { type?: string }).type === 'entity.parse.failed')
      return fail(res, 37);
    next(err);
  });
  const body = (req: Request): Record<string, unknown> =>
    req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};

  api.get('/me', (_req, res) => {
    const u = state.user;
    res.json({
      data: {
        id: u.id,
        uuid: u.uuid,
        object: 'user',
        first_name: u.first_name,
        last_name: u.last_name,
        name: `${u.first_name} ${u.last_name}`,
        email: u.email,
        me_contact: null,
        timezone: u.timezone,
        currency: null,
        locale: u.locale,
        is_policy_compliant: true,
        account,
        created_at: ts(u.created_at),
        updated_at: ts(u.updated_at),
      },
    });
  });

  api.get('/contactfieldtypes', (req, res) => {
    paginate(req, res, '/contactfieldtypes', [...state.fieldTypes.values()], fieldTypeJson);
  });

  api.get('/contacts/:id', (req: Request<{ id: string }>, res) => {
    const c = state.contacts.get(idParam(req.params.id));
    if (!c) return notFound(res);
    res.json({ data: contactJson(c, req.query.with === 'contactfields') });
  });

  const convSortKey = (c: MoConversation) => c;
  api.get('/contacts/:id/conversations', (req: Request<{ id: string }>, res) => {
    const contact = state.contacts.get(idParam(req.params.id));
    if (!contact) return notFound(res);
    const items = [...state.conversations.values()].filter((c) => c.contact_id === contact.id);
    paginate(req, res, `/contacts/${contact.id}/conversations`, items, conversationJson, convSortKey);
  });

  api.get('/conversations', (req, res) => {
    paginate(req, res, '/conversations', [...state.conversations.values()], conversationJson, convSortKey);
  });

  api.get('/conversations/:id', (req: Request<{ id: string }>, res) => {
    const c = state.conversations.get(idParam(req.params.id));
    if (!c) return notFound(res);
    res.json({ data: conversationJson(c) });
  });

  api.post('/conversations', (req, res) => {
    const b = body(req);
    const errors = validate(b, { happened_at: 'date', contact_id: 'integer', contact_field_type_id: 'integer' });
    if (errors.length > 0) return invalid(res, errors);
    const contact = state.contacts.get(int(b.contact_id));
    const type = state.fieldTypes.get(int(b.contact_field_type_id));
    if (!contact || !type) return notFound(res);
    const c = state.addConversation(contact.id, type.id, dayOf(b.happened_at));
    // Laravel answers 201 for a resource that was just created.
    res.status(201).json({ data: conversationJson(c) });
  });

  // docs/vendors/monica.md: happened_at AND contact_field_type_id are both required in code (UpdateConversation).
  api.put('/conversations/:id', (req: Request<{ id: string }>, res) => {
    const b = body(req);
    const errors = validate(b, { happened_at: 'date', contact_field_type_id: 'integer' });
    if (errors.length > 0) return invalid(res, errors);
    const c = state.conversations.get(idParam(req.params.id));
    const type = state.fieldTypes.get(int(b.contact_field_type_id));
    if (!c || !type) return notFound(res);
    c.happened_at = dayOf(b.happened_at);
    c.contact_field_type_id = type.id;
    c.updated_at = new Date();
    res.json({ data: conversationJson(c) });
  });

  api.delete('/conversations/:id', (req: Request<{ id: string }>, res) => {
    const c = state.conversations.get(idParam(req.params.id));
    if (!c) return notFound(res);
    state.conversations.delete(c.id);
    res.json({ deleted: true, id: c.id });
  });

  const messageRules: Record<string, Rule> = { written_at: 'date', written_by_me: 'boolean', content: 'string' };

  // docs/vendors/monica.md: contact_id is ignored and taken from the conversation; the answer is the conversation.
  api.post('/conversations/:id/messages', (req: Request<{ id: string }>, res) => {
    const b = body(req);
    const errors = validate(b, messageRules);
    if (errors.length > 0) return invalid(res, errors);
    const c = state.conversations.get(idParam(req.params.id));
    if (!c) return notFound(res);
    state.addMessage(c, {
      content: String(b.content),
      written_at: dayOf(b.written_at),
      written_by_me: bool(b.written_by_me),
    });
    res.json({ data: conversationJson(c) });
  });

  api.put('/conversations/:id/messages/:messageId', (req: Request<{ id: string; messageId: string }>, res) => {
    const b = body(req);
    const errors = validate(b, messageRules);
    if (errors.length > 0) return invalid(res, errors);
    const c = state.conversations.get(idParam(req.params.id));
    const m = c?.messages.find((x) => x.id === idParam(req.params.messageId));
    if (!c || !m) return notFound(res);
    m.content = String(b.content);
    m.written_at = dayOf(b.written_at);
    m.written_by_me = bool(b.written_by_me);
    m.updated_at = new Date();
    res.json({ data: conversationJson(c) });
  });

  api.delete('/conversations/:id/messages/:messageId', (req: Request<{ id: string; messageId: string }>, res) => {
    const c = state.conversations.get(idParam(req.params.id));
    const i = c ? c.messages.findIndex((x) => x.id === idParam(req.params.messageId)) : -1;
    if (!c || i < 0) return notFound(res);
    const [m] = c.messages.splice(i, 1);
    res.json({ deleted: true, id: (m as MoMessage).id });
  });

  api.use((_req, res) => notFound(res));
  app.use('/api', api);

  return {
    // Back to the seeded data with a fresh rate-limit window, so one test's traffic does not throttle the next.
    reset: () => {
      state.reset();
      limiter.clear();
    },
    simulateIncoming: ({ conversationId, content }) => {
      const m = state.simulateIncoming(conversationId === undefined ? null : idParam(String(conversationId)), content);
      return m ? { data: messageJson(m) } : { error: 'Conversation not found' };
    },
    // docs/vendors/monica.md: Monica has no read state.
    simulateRead: () => null,
    unreadState: () => null,
  };
}
