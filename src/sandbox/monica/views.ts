import {
  ACCOUNT_ID,
  type MoContact,
  type MoConversation,
  type MoFieldType,
  type MoMessage,
  type MonicaState,
} from './state';

/** `Y-m-d\TH:i:s\Z` (docs/vendors/monica.md "Timestamps": config/api.php timestamp_format). */
export const ts = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

const EMPTY_DATE = { is_age_based: null, is_year_unknown: null, date: null };

/** Monica's JSON of stored rows: its API resources as 4.x code serializes them (docs/vendors/monica.md "Objects"). */
export class MonicaViews {
  readonly account = { id: ACCOUNT_ID };

  constructor(
    private readonly state: MonicaState,
    /** The emulator's own URL, for the `url` fields. */
    private readonly baseUrl: () => string,
  ) {}

  private contactOf(id: number): MoContact {
    return this.state.contacts.get(id) as MoContact;
  }

  readonly fieldType = (t: MoFieldType) => ({
    id: t.id,
    uuid: t.uuid,
    object: 'contactfieldtype',
    name: t.name,
    fontawesome_icon: t.fontawesome_icon,
    protocol: t.protocol,
    delible: t.delible,
    type: t.type,
    account: this.account,
    created_at: ts(t.created_at),
    updated_at: ts(t.updated_at),
  });
  /** ContactShort as 4.x code serializes it (docs/vendors/monica.md "Objects"), with the 4.x avatar shape. */
  readonly contactShort = (c: MoContact) => ({
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
    is_active: c.is_active,
    is_dead: false,
    is_me: false,
    information: {
      birthdate: EMPTY_DATE,
      deceased_date: EMPTY_DATE,
      // Contact::getAvatarURL: '' when there is neither a photo nor a generated default avatar.
      avatar: { url: c.avatar_url ?? '', source: c.avatar_source, default_avatar_color: c.default_avatar_color },
    },
    url: `${this.baseUrl()}/api/contacts/${c.id}`,
    account: this.account,
  });
  readonly contact = (c: MoContact, withFields: boolean) => ({
    ...this.contactShort(c),
    ...(withFields
      ? {
          contactFields: c.fields.map((f) => ({
            id: f.id,
            uuid: f.uuid,
            object: 'contactfield',
            content: f.content,
            contact_field_type: this.fieldType(this.state.fieldTypes.get(f.contact_field_type_id) as MoFieldType),
            account: this.account,
            contact: { id: c.id },
            created_at: ts(f.created_at),
            updated_at: ts(f.updated_at),
          })),
        }
      : {}),
    created_at: ts(c.created_at),
    updated_at: ts(c.updated_at),
  });
  readonly message = (m: MoMessage) => ({
    id: m.id,
    uuid: m.uuid,
    object: 'message',
    content: m.content,
    written_at: ts(m.written_at),
    written_by_me: m.written_by_me,
    account: this.account,
    contact: this.contactShort(this.contactOf(m.contact_id)),
    conversation: { id: m.conversation_id },
    created_at: ts(m.created_at),
    updated_at: ts(m.updated_at),
  });
  readonly conversation = (c: MoConversation) => ({
    id: c.id,
    uuid: c.uuid,
    object: 'conversation',
    happened_at: ts(c.happened_at),
    // docs/vendors/monica.md: every message, in DB order (the relation has no orderBy).
    messages: c.messages.map(this.message),
    contact_field_type: this.fieldType(this.state.fieldTypes.get(c.contact_field_type_id) as MoFieldType),
    url: `${this.baseUrl()}/api/conversations/${c.id}`,
    account: this.account,
    contact: this.contactShort(this.contactOf(c.contact_id)),
    created_at: ts(c.created_at),
    updated_at: ts(c.updated_at),
  });
}
