import { createHash } from 'node:crypto';
import { createRandom, type Random } from '../kit/random';

/**
 * The emulated Monica 4.x account: one user, contacts with contact fields, the account's contact field types,
 * and conversations with their messages (docs/vendors/monica.md). Field names follow the vendor's columns;
 * `happened_at` and `written_at` are date-times with seconds (`datetime` columns in Monica's
 * `2018_07_26_104306_create-conversations.php` @32028ce3c; docs/vendors/monica.md "Timestamps"): an API client
 * stores a time of day, Monica's own web UI stores midnight.
 */

export interface MoFieldType {
  id: number;
  uuid: string;
  name: string;
  fontawesome_icon: string;
  protocol: string | null;
  delible: boolean;
  type: 'email' | 'phone' | null;
  created_at: Date;
  updated_at: Date;
}
export interface MoContactField {
  id: number;
  uuid: string;
  contact_field_type_id: number;
  content: string;
  created_at: Date;
  updated_at: Date;
}
export interface MoContact {
  id: number;
  uuid: string;
  hash_id: string;
  first_name: string;
  last_name: string | null;
  nickname: string | null;
  gender: string;
  gender_type: 'M' | 'F' | 'O';
  is_starred: boolean;
  /**
   * false once archived in Monica's web UI (`PUT /people/{contact}/archive`, ContactsController::archive @32028ce3c);
   * every conversation write on an archived contact is then refused (Contact::throwInactive).
   */
  is_active: boolean;
  /** Uploaded or gravatar photo; null shows the initials on `default_avatar_color`. */
  avatar_url: string | null;
  avatar_source: 'default' | 'adorable' | 'gravatar' | 'photo';
  default_avatar_color: string;
  fields: MoContactField[];
  created_at: Date;
  updated_at: Date;
}
export interface MoMessage {
  id: number;
  uuid: string;
  conversation_id: number;
  contact_id: number;
  content: string;
  /** A date-time, whole seconds (docs/vendors/monica.md "Timestamps"). */
  written_at: Date;
  written_by_me: boolean;
  created_at: Date;
  updated_at: Date;
}
export interface MoConversation {
  id: number;
  uuid: string;
  contact_id: number;
  contact_field_type_id: number;
  /** A date-time, whole seconds (docs/vendors/monica.md "Timestamps"). */
  happened_at: Date;
  created_at: Date;
  updated_at: Date;
  /** In insertion (= DB id) order, as Monica's un-ordered relation returns them (docs/vendors/monica.md). */
  messages: MoMessage[];
}
export interface MoUser {
  id: number;
  uuid: string;
  first_name: string;
  last_name: string;
  email: string;
  timezone: string;
  locale: string;
  created_at: Date;
  updated_at: Date;
}

/** Demo data is anchored here, so it is the same on every start (like the Pixieset emulator). */
export const SEED_BASE = Date.parse('2026-11-01T09:00:00.000Z');
export const DAY = 86_400_000;
export const ACCOUNT_ID = 1;
/** The personal access token the embedded default uses. */
export const MONICA_SANDBOX_TOKEN = 'sandbox-monica-personal-access-token';

/**
 * Monica's default contact field types, copied into each new account (PopulateContactFieldTypesTable): the rows of
 * `default_contact_field_types` from migrations 2017_11_10_174654 and 2018_12_25_001736 @32028ce3c, with the
 * protocols that 2019_03_27_103012_set_default_profile_links sets on MySQL (its `= ''` matches no row, and `Whatsapp`
 * matches `WhatsApp` only under MySQL's case-insensitive collation). `delible` defaults to true.
 */
export const DEFAULT_FIELD_TYPES: Array<
  Pick<MoFieldType, 'name' | 'fontawesome_icon' | 'protocol' | 'delible' | 'type'>
> = [
  { name: 'Email', fontawesome_icon: 'fa fa-envelope-open-o', protocol: 'mailto:', delible: false, type: 'email' },
  { name: 'Phone', fontawesome_icon: 'fa fa-volume-control-phone', protocol: 'tel:', delible: false, type: 'phone' },
  {
    name: 'Facebook',
    fontawesome_icon: 'fa fa-facebook-official',
    protocol: 'https://facebook.com/',
    delible: true,
    type: null,
  },
  { name: 'Twitter', fontawesome_icon: 'fa fa-twitter-square', protocol: null, delible: true, type: null },
  { name: 'Whatsapp', fontawesome_icon: 'fa fa-whatsapp', protocol: 'https://wa.me/', delible: true, type: null },
  { name: 'Telegram', fontawesome_icon: 'fa fa-telegram', protocol: 'telegram:', delible: true, type: null },
  { name: 'LinkedIn', fontawesome_icon: 'fa fa-linkedin-square', protocol: null, delible: true, type: null },
];

export const GENDERS = [
  { gender: 'Man', gender_type: 'M' },
  { gender: 'Woman', gender_type: 'F' },
  { gender: 'Rather not say', gender_type: 'O' },
] as const;

/** Monica's avatar palette (`Contact::setAvatarColor`). */
export const AVATAR_COLORS = [
  '#fdb660',
  '#93521e',
  '#bd5067',
  '#b3d5fe',
  '#ff9807',
  '#709512',
  '#5f479a',
  '#e5e5cd',
] as const;

const THEIR_LINES = [
  'So good to hear from you! How was the trip to Lisbon?',
  'We finally moved into the new flat, come visit soon.',
  'Happy birthday! Hope you have a wonderful day.',
  'Can you send me the name of that book you mentioned?',
  'The kids loved the present, thank you so much.',
  'I got the job! Starting in March.',
  'Are we still on for dinner on Friday?',
  'Mum is doing better, thanks for asking.',
  'Let me know when you are back in town.',
  'I tried the recipe you sent, it was delicious.',
] as const;
const MY_LINES = [
  'Congratulations, that is fantastic news!',
  'Friday works, 7 pm at the usual place?',
  'It was amazing, I will send you the photos.',
  'Thinking of you, let me know if you need anything.',
  'The book is "A Gentleman in Moscow", you will love it.',
  'Back on the 14th, let us grab a coffee.',
  'Glad to hear it, give her my best.',
  'Thanks! Talk soon.',
] as const;

const pad = (n: number) => String(n).padStart(2, '0');
export const dateOf = (d: Date) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
/** Midnight UTC of a `YYYY-MM-DD` day (the account user's time zone is UTC here). */
export const midnightOf = (day: string) => new Date(`${day}T00:00:00.000Z`);
/** A MySQL `datetime` keeps whole seconds. */
export const wholeSeconds = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);

/** What `MonicaState.dashboardEdit` takes: the fields of Monica's web form for editing a conversation. */
export interface DashboardEdit {
  /** `YYYY-MM-DD` (the form's `conversationDate`); default the conversation's own day. */
  happenedOn?: string;
  /** Default the conversation's own. */
  contactFieldTypeId?: number;
  /** The messages as the form posts them; default the current ones (content and author), in DB order. */
  messages?: Array<{ content: string; written_by_me: boolean }>;
}

/** Thrown by writes on an archived contact (Contact::throwInactive, docs/vendors/monica.md "Errors"). */
export class ContactArchivedError extends Error {
  constructor(readonly contactId: number) {
    super(`Contact ${contactId} is archived.`);
  }
}

export class MonicaState {
  user!: MoUser;
  fieldTypes = new Map<number, MoFieldType>();
  contacts = new Map<number, MoContact>();
  conversations = new Map<number, MoConversation>();
  /** The last id of each table (seed.ts allocates with them too). */
  ids = { fieldType: 0, contactField: 0, contact: 0, conversation: 0, message: 0 };
  private rnd: Random = createRandom(1);
  /** A separate stream for simulated traffic, so simulations do not shift the seeded data. */
  private sim: Random = createRandom(1);

  constructor(
    /** Fills the state after every reset (seed.ts), drawing from the seeded random stream. */
    private readonly seeder: (state: MonicaState, r: Random, scale: number) => void,
    private readonly scale = 1,
    private readonly seed = 1,
  ) {
    this.reset();
  }

  reset() {
    this.rnd = createRandom(this.seed);
    this.sim = createRandom(this.seed ^ 0x5eed);
    this.fieldTypes.clear();
    this.contacts.clear();
    this.conversations.clear();
    this.ids = { fieldType: 0, contactField: 0, contact: 0, conversation: 0, message: 0 };
    this.seeder(this, this.rnd, this.scale);
  }

  /** One seeded message, mine or theirs (seed.ts). */
  seedMessage(conv: MoConversation, writtenAt: Date, created: Date) {
    const mine = this.rnd.chance(0.5);
    this.addMessage(
      conv,
      {
        content: mine ? this.rnd.pick(MY_LINES) : this.rnd.pick(THEIR_LINES),
        written_at: writtenAt,
        written_by_me: mine,
      },
      created,
    );
  }

  uuid(): string {
    const h = createHash('sha1').update(`${this.seed}:${this.rnd.next()}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  addField(c: MoContact, typeId: number, content: string) {
    c.fields.push({
      id: ++this.ids.contactField,
      uuid: this.uuid(),
      contact_field_type_id: typeId,
      content,
      created_at: c.created_at,
      updated_at: c.created_at,
    });
  }

  addConversation(contactId: number, fieldTypeId: number, happenedAt: Date, now = new Date()): MoConversation {
    const c: MoConversation = {
      id: ++this.ids.conversation,
      uuid: this.uuid(),
      contact_id: contactId,
      contact_field_type_id: fieldTypeId,
      happened_at: wholeSeconds(happenedAt),
      created_at: now,
      updated_at: now,
      messages: [],
    };
    this.conversations.set(c.id, c);
    return c;
  }

  /** Adds a message; like Monica, it does not touch the conversation's updated_at (no `$touches`, docs/vendors/monica.md). */
  addMessage(
    conv: MoConversation,
    m: Pick<MoMessage, 'content' | 'written_at' | 'written_by_me'>,
    now = new Date(),
  ): MoMessage {
    const msg: MoMessage = {
      ...m,
      written_at: wholeSeconds(m.written_at),
      id: ++this.ids.message,
      uuid: this.uuid(),
      conversation_id: conv.id,
      contact_id: conv.contact_id,
      created_at: now,
      updated_at: now,
    };
    conv.messages.push(msg);
    return msg;
  }

  /**
   * A contact's message, logged now by another API client with its time of day (VendorControls.simulateIncoming).
   * Assumption (docs/vendors/monica.md "Timestamps"): Monica itself never writes a message on its own; the
   * emulator plays a client of the API that logs what a contact wrote, at the moment it arrived. Like any API
   * write, it is refused for an archived contact (ContactArchivedError); a random pick skips those conversations.
   */
  simulateIncoming(conversationId: number | null, content?: string): MoMessage | null {
    const active = (c: MoConversation) => this.contacts.get(c.contact_id)?.is_active !== false;
    const ids = [...this.conversations.values()].filter(active).map((c) => c.id);
    const id = conversationId ?? (ids.length > 0 ? this.sim.pick(ids) : null);
    const conv = id === null ? undefined : this.conversations.get(id);
    if (!conv) return null;
    if (!active(conv)) throw new ContactArchivedError(conv.contact_id);
    return this.addMessage(conv, {
      content: content ?? this.sim.pick(THEIR_LINES),
      written_at: new Date(),
      written_by_me: false,
    });
  }

  /**
   * Archives or unarchives a contact as Monica's web UI does (`PUT /people/{contact}/archive` toggles
   * `is_active` and saves the contact: ContactsController::archive @32028ce3c). Null when there is no such contact.
   */
  setActive(contactId: number, active: boolean, now = new Date()): MoContact | null {
    const c = this.contacts.get(contactId);
    if (!c) return null;
    if (c.is_active !== active) {
      c.is_active = active;
      c.updated_at = now;
    }
    return c;
  }

  /**
   * Somebody edits the conversation in Monica's web UI (Contacts/ConversationsController::update @32028ce3c):
   * UpdateConversation with the form's day (midnight), then DestroyMessage for every message and
   * AddMessageToConversation for each message of the form, all written at that day's midnight. Every message gets
   * a new id; `updated_at` moves only when happened_at or the type changed (Eloquent saves only dirty models).
   * Throws ContactArchivedError for an archived contact (the edit page and UpdateConversation call throwInactive).
   */
  dashboardEdit(conv: MoConversation, edit: DashboardEdit = {}, now = new Date()): MoConversation {
    const contact = this.contacts.get(conv.contact_id) as MoContact;
    if (!contact.is_active) throw new ContactArchivedError(contact.id);
    const happened = midnightOf(edit.happenedOn ?? dateOf(conv.happened_at));
    const type = edit.contactFieldTypeId ?? conv.contact_field_type_id;
    if (happened.getTime() !== conv.happened_at.getTime() || type !== conv.contact_field_type_id) {
      conv.happened_at = happened;
      conv.contact_field_type_id = type;
      conv.updated_at = now;
    }
    const form = edit.messages ?? conv.messages.map((m) => ({ content: m.content, written_by_me: m.written_by_me }));
    conv.messages = [];
    for (const m of form) this.addMessage(conv, { ...m, written_at: happened }, now);
    return conv;
  }
}
