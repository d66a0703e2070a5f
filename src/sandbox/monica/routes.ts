import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { VendorControls } from '../kit/server';
import {
  ContactArchivedError,
  type MonicaState,
  dateOf,
  midnightOf,
  wholeSeconds,
  type MoContact,
  type MoConversation,
  type MoFieldType,
} from './state';

import { MONICA_SANDBOX_TOKEN } from './state';
import { MonicaViews, ts } from './views';

/** docs/vendors/monica.md "Pagination": MAX_API_LIMIT_PER_PAGE. */
const MAX_LIMIT = 100;
/** Eloquent's default page size, used when `limit` is absent or 0 (docs/vendors/monica.md). */
const DEFAULT_LIMIT = 15;
/** ApiController::setSortCriteria's accepted list @32028ce3c. */
const SORTS = /^-?(created_at|updated_at|completed_at|called_at|favorited_at)$/;

/** Monica's error messages (config/api.php `error_codes` @32028ce3c, without a final period). */
const ERRORS: Record<number, [number, string]> = {
  30: [400, 'The limit parameter is too big'],
  31: [404, 'The resource has not been found'],
  34: [429, 'Too many attempts, please slow down the request'],
  37: [400, 'Problems parsing JSON'],
  39: [400, 'The sorting criteria is invalid'],
  40: [500, 'Invalid query'],
};

function fail(res: Response, code: number, message?: string | string[], status?: number) {
  const [dfltStatus, dfltMessage] = ERRORS[code] ?? [500, 'Error'];
  res.status(status ?? dfltStatus).json({ error: { message: message ?? dfltMessage, error_code: code } });
}
/**
 * docs/vendors/monica.md "Errors": a ValidationException (a failed rule, or Contact::throwInactive) is 422 with
 * error_code 32 and `message` an array of strings (JsonRespondController::respondValidatorFailed).
 */
const invalid = (res: Response, messages: string[]) => fail(res, 32, messages, 422);
const notFound = (res: Response) => fail(res, 31);

/**
 * A route whose controller types the id `int` (e.g. `destroy(Request $request, int $conversationId)`) throws a PHP
 * TypeError for a non-numeric id, which Monica's Handler turns into a 500. Assumption (docs/vendors/monica.md
 * "Errors"): the body is Laravel's JSON rendering of that HttpException, `{"message": <the TypeError text>}`.
 */
function typeError(res: Response, param: string) {
  res.status(500).json({ message: `Argument ($${param}) must be of type int, string given` });
}

/**
 * Laravel's `throttle` as Monica configures it (RouteServiceProvider::configureRateLimiting): a one-minute window
 * per user, `X-RateLimit-Limit`/`-Remaining` on every answer it lets through, 429 with `Retry-After` when spent.
 * Assumption: the window is fixed from its first hit (docs/vendors/monica.md "Rate limit").
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

type Locale = 'en' | 'fr';
type Table = 'conversations' | 'contacts' | 'contact_field_types' | 'messages';
type Rule = 'required' | 'date' | 'integer' | 'boolean' | 'string' | { exists: Table };

/** resources/lang/{en,fr}/validation.php and people.php `archived_contact_readonly` @32028ce3c. */
const TEXTS: Record<Locale, Record<'required' | 'date' | 'integer' | 'boolean' | 'string' | 'exists', string>> = {
  en: {
    required: 'The :attribute field is required.',
    date: 'The :attribute is not a valid date.',
    integer: 'The :attribute must be an integer.',
    boolean: 'The :attribute field must be true or false.',
    string: 'The :attribute must be a string.',
    exists: 'The selected :attribute is invalid.',
  },
  fr: {
    required: 'Le champ :attribute est obligatoire.',
    date: 'Le champ :attribute n’est pas une date valide.',
    integer: 'Le champ :attribute doit être un entier.',
    boolean: 'Le champ :attribute doit être vrai ou faux.',
    string: 'Le champ :attribute doit être une chaîne de caractères.',
    exists: 'Le champ :attribute sélectionné est invalide.',
  },
};
/** Contact::throwInactive's message (`people.archived_contact_readonly`), with Monica's typographic apostrophe. */
export const MONICA_ARCHIVED_MESSAGE: Record<Locale, string> = {
  en: 'Archived contact can’t be edited, please unarchive it first.',
  fr: 'Un contact archivé ne peut pas être modifié, veuillez d’abord le désarchiver.',
};

/** PHP `filter_var(FILTER_VALIDATE_INT)`, which Laravel's `integer` rule uses. */
const isInt = (v: unknown) =>
  (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^\s*[+-]?(0|[1-9]\d*)\s*$/.test(v));

/**
 * A date or date-time input as Eloquent stores it in a `datetime` column (docs/vendors/monica.md "Timestamps"):
 * `YYYY-MM-DD` is midnight; a date-time keeps its wall-clock time to the second. Assumption: an explicit UTC
 * offset is dropped, not converted (Eloquent formats the parsed Carbon with `Y-m-d H:i:s` in its own zone), and
 * other forms are read as JavaScript's Date.parse reads them (PHP's strtotime reads more). Null when unreadable.
 */
export function laravelDateTime(v: unknown): Date | null {
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) {
    const d = midnightOf(s);
    return Number.isNaN(d.getTime()) || dateOf(d) !== s ? null : d;
  }
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?$/i.exec(s);
  if (m) {
    const d = new Date(`${m[1]}T${m[2]}:${m[3]}:${m[4] ?? '00'}.000Z`);
    return Number.isNaN(d.getTime()) || dateOf(d) !== m[1] ? null : d;
  }
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : wholeSeconds(new Date(t));
}

const bool = (v: unknown) => v === true || v === 1 || v === '1';
const int = (v: unknown) => Number(String(v).trim());
/** A route id for an untyped controller parameter: anything but a positive integer finds nothing. */
const idParam = (v: string) => (/^\d{1,15}$/.test(v) ? Number(v) : -1);
/** A route id for an `int`-typed controller parameter: PHP coerces numeric strings, else a TypeError. */
const intParam = (v: string): number | null => (/^\d{1,15}$/.test(v) ? Number(v) : null);

/** What mountRoutes needs beside the state. */
export interface MonicaRouteOptions {
  /** The throttle's requests a minute per token. */
  rateLimitPerMinute: number;
  /** The emulator's own URL. */
  baseUrl: () => string;
  /** The account user's locale for validation texts (`?lang=` overrides it). */
  locale: 'en' | 'fr';
}

/**
 * Monica's API under `/api` in the order of its middleware (auth, then throttle), and the emulator's own controls
 * (archive a contact, edit a conversation in the web UI).
 */
export function mountRoutes(app: Express, state: MonicaState, opts: MonicaRouteOptions): VendorControls {
  const { baseUrl } = opts;
  const rateLimit = opts.rateLimitPerMinute;
  const defaultLocale: Locale = opts.locale;
  const views = new MonicaViews(state, baseUrl);
  const {
    fieldType: fieldTypeJson,
    contact: contactJson,
    message: messageJson,
    conversation: conversationJson,
  } = views;

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
  // Passport (`auth:api`): Bearer token; Laravel's own 401 body, or a redirect to the login page when the
  // client does not ask for JSON (docs/vendors/monica.md "Auth"). It runs before the throttle: Monica's
  // `$middlewarePriority` puts Authenticate ahead of ThrottleRequests (app/Http/Kernel.php @32028ce3c), so a refused
  // token is neither counted nor given X-RateLimit headers, and the limit is per user (one user, one token here).
  api.use((req, res, next) => {
    if (req.get('authorization') === `Bearer ${MONICA_SANDBOX_TOKEN}`) return next();
    if (/[/+]json/.test(req.get('accept') ?? '')) {
      res.status(401).json({ message: 'Unauthenticated.' });
      return;
    }
    res.redirect(302, `${baseUrl()}/login`);
  });
  api.use(limiter.middleware);
  // The raw body, recorded in the request log so tests see exactly what a client sent.
  api.use(express.text({ type: () => true, limit: '1mb' }));
  /**
   * ApiController's constructor middleware, on every API route (docs/vendors/monica.md "Errors"), in its order: a
   * `sort` outside its accepted list is 400/39; a `limit` above 100 is 400/30; then the JSON check, which calls
   * Safe\json_decode: that throws on a body that is not JSON, and the catch lets the request through with no input
   * (Laravel reads it as empty), so only a body that decodes to null (`null`) is 400/37. GET and DELETE skip it.
   */
  api.use((req, res, next) => {
    const raw = typeof req.body === 'string' ? req.body : '';
    const entry = res.locals.requestLog as { body?: string } | undefined;
    if (entry && raw) entry.body = raw;
    if (req.query.sort !== undefined && !(typeof req.query.sort === 'string' && SORTS.test(req.query.sort)))
      return fail(res, 39);
    if (typeof req.query.limit === 'string' && Number(req.query.limit) > MAX_LIMIT) return fail(res, 30);
    let parsed: unknown;
    try {
      parsed = raw ? JSON.parse(raw) : undefined;
    } catch {
      parsed = undefined;
    }
    if (req.method !== 'GET' && req.method !== 'DELETE' && raw.trim() === 'null') return fail(res, 37);
    res.locals.input = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {};
    next();
  });
  const body = (res: Response): Record<string, unknown> => res.locals.input as Record<string, unknown>;
  /** CheckLocale: `?lang=` first, else the user's locale. */
  const localeOf = (req: Request): Locale =>
    req.query.lang === 'fr' || req.query.lang === 'en' ? req.query.lang : defaultLocale;

  const exists = (table: Table, v: unknown): boolean => {
    if (!isInt(v)) return false;
    const id = int(v);
    if (table === 'conversations') return state.conversations.has(id);
    if (table === 'contacts') return state.contacts.has(id);
    if (table === 'contact_field_types') return state.fieldTypes.has(id);
    for (const c of state.conversations.values()) if (c.messages.some((m) => m.id === id)) return true;
    return false;
  };

  /**
   * Laravel's Validator over Monica's service rules, in their order, every rule of a field (no `bail`): an absent
   * or blank value fails only `required`; a null fails every rule; attributes read with spaces for underscores.
   */
  function validate(req: Request, data: Record<string, unknown>, rules: Record<string, Rule[]>): string[] {
    const texts = TEXTS[localeOf(req)];
    const errors: string[] = [];
    for (const [field, fieldRules] of Object.entries(rules)) {
      const v = data[field];
      const say = (key: keyof typeof texts) => errors.push(texts[key].replace(':attribute', field.replace(/_/g, ' ')));
      if (v === undefined || (typeof v === 'string' && v.trim() === '')) {
        if (fieldRules.includes('required')) say('required');
        continue;
      }
      for (const rule of fieldRules) {
        if (rule === 'required') {
          if (v === null) say('required');
        } else if (rule === 'date') {
          if (laravelDateTime(v) === null) say('date');
        } else if (rule === 'integer') {
          if (!isInt(v)) say('integer');
        } else if (rule === 'boolean') {
          if (![true, false, 0, 1, '0', '1'].includes(v as never)) say('boolean');
        } else if (rule === 'string') {
          if (typeof v !== 'string') say('string');
        } else if (!exists(rule.exists, v)) say('exists');
      }
    }
    return errors;
  }
  /** Contact::throwInactive: a ValidationException with `people.archived_contact_readonly`. */
  const archived = (req: Request, res: Response) => invalid(res, [MONICA_ARCHIVED_MESSAGE[localeOf(req)]]);

  const messageRules: Record<string, Rule[]> = {
    written_at: ['required', 'date'],
    written_by_me: ['required', 'boolean'],
    content: ['required', 'string'],
  };

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
        account: views.account,
        created_at: ts(u.created_at),
        updated_at: ts(u.updated_at),
      },
    });
  });

  api.get('/contactfieldtypes', (req, res) => {
    paginate(req, res, '/contactfieldtypes', [...state.fieldTypes.values()], fieldTypeJson);
  });

  /**
   * ApiContactController::index without `query` (ApiContactController.php lines 43-78 @4.x): the account's contacts
   * that are `real()` (not partial; the sandbox has no partial contacts) and `active()` (archived ones are left
   * out, Contact.php scopeReal/scopeActive), `orderBy($this->sort, $this->sortDirection)` (ApiController: created_at
   * ascending by default), Laravel's paginator; each row the Contact resource, with `contactFields` when
   * `with=contactfields` (Resources/Contact/Contact.php). Ties of the sort key keep the id order (an assumption,
   * docs/vendors/monica.md "Contacts"). The `query` search is not emulated.
   */
  api.get('/contacts', (req, res) => {
    const items = [...state.contacts.values()].filter((c) => c.is_active);
    paginate(
      req,
      res,
      '/contacts',
      items,
      (c) => contactJson(c, req.query.with === 'contactfields'),
      (c) => c,
    );
  });

  // ApiContactController::show(Request $request, int $id).
  api.get('/contacts/:id', (req: Request<{ id: string }>, res) => {
    const id = intParam(req.params.id);
    if (id === null) return typeError(res, 'id');
    const c = state.contacts.get(id);
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

  // ApiConversationController::store → CreateConversation: rules (contact and type `exists:`), then the
  // contact's findOrFail and throwInactive, then the type's findOrFail.
  api.post('/conversations', (req, res) => {
    const b = body(res);
    const errors = validate(req, b, {
      happened_at: ['required', 'date'],
      contact_id: ['required', 'integer', { exists: 'contacts' }],
      contact_field_type_id: ['required', 'integer', { exists: 'contact_field_types' }],
    });
    if (errors.length > 0) return invalid(res, errors);
    const contact = state.contacts.get(int(b.contact_id)) as MoContact;
    if (!contact.is_active) return archived(req, res);
    const type = state.fieldTypes.get(int(b.contact_field_type_id)) as MoFieldType;
    const c = state.addConversation(contact.id, type.id, laravelDateTime(b.happened_at) as Date);
    // A resource answer for a model created in this request is 201 (Laravel's ResourceResponse).
    res.status(201).json({ data: conversationJson(c) });
  });

  // ApiConversationController::update → UpdateConversation: `conversation_id` is validated with `exists:` before
  // any findOrFail, so an unknown id is 422/32 "The selected conversation id is invalid.", not 404
  // (docs/vendors/monica.md "Errors"); the type is only `integer` there and its findOrFail comes last (404).
  api.put('/conversations/:id', (req: Request<{ id: string }>, res) => {
    const b = body(res);
    const errors = validate(
      req,
      { ...b, conversation_id: req.params.id },
      {
        happened_at: ['required', 'date'],
        contact_field_type_id: ['required', 'integer'],
        conversation_id: ['required', 'integer', { exists: 'conversations' }],
      },
    );
    if (errors.length > 0) return invalid(res, errors);
    const c = state.conversations.get(int(req.params.id)) as MoConversation;
    if (!state.contacts.get(c.contact_id)?.is_active) return archived(req, res);
    const type = state.fieldTypes.get(int(b.contact_field_type_id));
    if (!type) return notFound(res);
    const happened = laravelDateTime(b.happened_at) as Date;
    // Eloquent saves, and moves updated_at, only when an attribute changed.
    if (happened.getTime() !== c.happened_at.getTime() || type.id !== c.contact_field_type_id) {
      c.happened_at = happened;
      c.contact_field_type_id = type.id;
      c.updated_at = new Date();
    }
    res.json({ data: conversationJson(c) });
  });

  // ApiConversationController::destroy(…, int $conversationId) → DestroyConversation: `exists:` first (422/32),
  // then throwInactive. Messages go with it (ON DELETE CASCADE in the migration).
  api.delete('/conversations/:id', (req: Request<{ id: string }>, res) => {
    const id = intParam(req.params.id);
    if (id === null) return typeError(res, 'conversationId');
    const errors = validate(
      req,
      { conversation_id: id },
      { conversation_id: ['required', 'integer', { exists: 'conversations' }] },
    );
    if (errors.length > 0) return invalid(res, errors);
    const c = state.conversations.get(id) as MoConversation;
    if (!state.contacts.get(c.contact_id)?.is_active) return archived(req, res);
    state.conversations.delete(c.id);
    res.json({ deleted: true, id: c.id });
  });

  // ApiMessageController::store: Conversation::findOrFail first (404/31), then AddMessageToConversation (rules,
  // throwInactive). contact_id is ignored and taken from the conversation; the answer is the conversation.
  api.post('/conversations/:id/messages', (req: Request<{ id: string }>, res) => {
    const id = intParam(req.params.id);
    if (id === null) return typeError(res, 'conversationId');
    const c = state.conversations.get(id);
    if (!c) return notFound(res);
    const b = body(res);
    const errors = validate(req, b, messageRules);
    if (errors.length > 0) return invalid(res, errors);
    if (!state.contacts.get(c.contact_id)?.is_active) return archived(req, res);
    state.addMessage(c, {
      content: String(b.content),
      written_at: laravelDateTime(b.written_at) as Date,
      written_by_me: bool(b.written_by_me),
    });
    res.json({ data: conversationJson(c) });
  });

  // ApiMessageController::update: Conversation::findOrFail and Message::findOrFail first (404/31), then
  // UpdateMessage (rules, throwInactive, the message's findOrFail within the conversation: 404).
  api.put('/conversations/:id/messages/:messageId', (req: Request<{ id: string; messageId: string }>, res) => {
    const id = intParam(req.params.id);
    const mid = intParam(req.params.messageId);
    if (id === null) return typeError(res, 'conversationId');
    if (mid === null) return typeError(res, 'messageId');
    const c = state.conversations.get(id);
    if (!c || !exists('messages', mid)) return notFound(res);
    const b = body(res);
    const errors = validate(req, b, messageRules);
    if (errors.length > 0) return invalid(res, errors);
    if (!state.contacts.get(c.contact_id)?.is_active) return archived(req, res);
    const m = c.messages.find((x) => x.id === mid);
    if (!m) return notFound(res);
    const next = {
      content: String(b.content),
      written_at: laravelDateTime(b.written_at) as Date,
      written_by_me: bool(b.written_by_me),
    };
    if (
      next.content !== m.content ||
      next.written_at.getTime() !== m.written_at.getTime() ||
      next.written_by_me !== m.written_by_me
    ) {
      Object.assign(m, next);
      m.updated_at = new Date();
    }
    res.json({ data: conversationJson(c) });
  });

  // ApiMessageController::destroy: both findOrFail first (404/31), then DestroyMessage (the message within the
  // conversation: 404; then the message's contact throwInactive).
  api.delete('/conversations/:id/messages/:messageId', (req: Request<{ id: string; messageId: string }>, res) => {
    const id = intParam(req.params.id);
    const mid = intParam(req.params.messageId);
    if (id === null) return typeError(res, 'conversationId');
    if (mid === null) return typeError(res, 'messageId');
    const c = state.conversations.get(id);
    if (!c || !exists('messages', mid)) return notFound(res);
    const i = c.messages.findIndex((x) => x.id === mid);
    if (i < 0) return notFound(res);
    if (!state.contacts.get(c.contact_id)?.is_active) return archived(req, res);
    c.messages.splice(i, 1);
    res.json({ deleted: true, id: mid });
  });

  // Laravel's NotFoundHttpException for a path no route matches, rendered as JSON (docs/vendors/monica.md
  // "Errors"; assumption: here after authentication, where Laravel answers before it).
  api.use((req, res) => {
    res.status(404).json({ message: `The route api${req.path} could not be found.` });
  });
  app.use('/api', api);

  // ---- control routes (not Monica's; what its web UI does) ----

  app.post('/__sandbox/contacts/:id/archive', (req: Request<{ id: string }>, res) => {
    const c = state.contacts.get(idParam(req.params.id));
    if (!c) return res.status(404).json({ error: 'Contact not found' });
    const want = (req.body as { archived?: unknown } | undefined)?.archived;
    const active = typeof want === 'boolean' ? !want : !c.is_active;
    state.setActive(c.id, active);
    // ContactsController::archive answers {is_active}.
    res.json({ is_active: c.is_active });
  });

  app.post('/__sandbox/conversations/:id/dashboard-edit', (req: Request<{ id: string }>, res) => {
    const c = state.conversations.get(idParam(req.params.id));
    if (!c) return res.status(404).json({ error: 'Conversation not found' });
    const b = (req.body ?? {}) as {
      happenedOn?: unknown;
      contactFieldTypeId?: unknown;
      messages?: Array<{ content?: unknown; writtenByMe?: unknown }>;
    };
    if (b.happenedOn !== undefined && (typeof b.happenedOn !== 'string' || laravelDateTime(b.happenedOn) === null))
      return res.status(400).json({ error: 'happenedOn must be YYYY-MM-DD' });
    if (b.contactFieldTypeId !== undefined && !state.fieldTypes.has(Number(b.contactFieldTypeId)))
      return res.status(400).json({ error: 'Unknown contactFieldTypeId' });
    try {
      state.dashboardEdit(c, {
        happenedOn: typeof b.happenedOn === 'string' ? b.happenedOn.slice(0, 10) : undefined,
        contactFieldTypeId: b.contactFieldTypeId === undefined ? undefined : Number(b.contactFieldTypeId),
        messages: Array.isArray(b.messages)
          ? b.messages.map((m) => ({ content: String(m.content ?? ''), written_by_me: m.writtenByMe === true }))
          : undefined,
      });
    } catch (e) {
      if (e instanceof ContactArchivedError) return res.status(422).json({ error: MONICA_ARCHIVED_MESSAGE.en });
      throw e;
    }
    res.json({ data: conversationJson(c) });
  });

  return {
    // Back to the seeded data with a fresh rate-limit window, so one test's traffic does not throttle the next.
    reset: () => {
      state.reset();
      if (defaultLocale !== 'en') state.user.locale = defaultLocale;
      limiter.clear();
    },
    simulateIncoming: ({ conversationId, content }) => {
      try {
        const id = conversationId === undefined ? null : idParam(String(conversationId));
        const m = state.simulateIncoming(id, content);
        return m ? { data: messageJson(m) } : { error: 'Conversation not found' };
      } catch (e) {
        if (e instanceof ContactArchivedError) return { error: MONICA_ARCHIVED_MESSAGE.en };
        throw e;
      }
    },
    // docs/vendors/monica.md: Monica has no read state.
    simulateRead: () => null,
    unreadState: () => null,
  };
}
