import { byRecentActivity, MONICA_DEMO_PEOPLE } from '../demoPeople';
import { FIRST_NAMES, LAST_NAMES, type Random } from '../kit/random';
import {
  AVATAR_COLORS,
  DAY,
  DEFAULT_FIELD_TYPES,
  GENDERS,
  SEED_BASE,
  dateOf,
  midnightOf,
  type MonicaState,
  type MoContact,
  type MoConversation,
} from './state';

/**
 * The demo account (seed 003, docs/vendors/monica.md): the user, Monica's default contact field types, about 8 contacts
 * and 20 conversations per unit of scale, some logged in the web UI (midnight times) and some through the API (times of
 * day, a few out of order). Deterministic for a seed and scale; run by MonicaState after every reset.
 */
export function seedMonica(state: MonicaState, r: Random, scale: number) {
  const accountCreated = new Date(SEED_BASE - 400 * DAY);
  state.user = {
    id: 1,
    uuid: state.uuid(),
    first_name: 'Robin',
    last_name: 'Keller',
    email: 'robin@example.com',
    timezone: 'UTC',
    locale: 'en',
    created_at: accountCreated,
    updated_at: accountCreated,
  };
  for (const t of DEFAULT_FIELD_TYPES) {
    const id = ++state.ids.fieldType;
    state.fieldTypes.set(id, { ...t, id, uuid: state.uuid(), created_at: accountCreated, updated_at: accountCreated });
  }

  const nContacts = Math.max(2, Math.round(8 * scale));
  for (let i = 0; i < nContacts; i++) {
    const first: string = r.pick(FIRST_NAMES);
    const last: string | null = r.chance(0.9) ? r.pick(LAST_NAMES) : null;
    const created = new Date(SEED_BASE - r.int(150, 390) * DAY + r.int(0, 86_399) * 1000);
    const c: MoContact = {
      id: ++state.ids.contact,
      uuid: state.uuid(),
      hash_id: `h:${r.alnum(18, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}`,
      first_name: first,
      last_name: last,
      nickname: r.chance(0.2) ? first.slice(0, 3) : null,
      ...r.pick(GENDERS),
      is_starred: r.chance(0.15),
      is_active: true,
      avatar_url: r.chance(0.4)
        ? `https://randomuser.me/api/portraits/${r.chance(0.5) ? 'women' : 'men'}/${r.int(1, 99)}.jpg`
        : null,
      avatar_source: 'default',
      default_avatar_color: r.pick(AVATAR_COLORS),
      fields: [],
      created_at: created,
      updated_at: created,
    };
    if (c.avatar_url) c.avatar_source = 'photo';
    const slug = [first, last]
      .filter((p): p is string => !!p)
      .join('.')
      .toLowerCase()
      .normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '');
    state.addField(c, 1, `${slug}${c.id}@example.com`);
    if (r.chance(0.7)) state.addField(c, 2, `+44 7700 ${r.int(100, 999)} ${r.int(100, 999)}`);
    state.contacts.set(c.id, c);
  }

  const contactIds = [...state.contacts.keys()];
  const nConv = scale === 0 ? 0 : Math.max(1, Math.round(20 * scale));
  for (let i = 0; i < nConv; i++) {
    const contact = state.contacts.get(r.pick(contactIds)) as MoContact;
    // Spread over the last four months.
    const day = new Date(SEED_BASE - r.int(0, 120) * DAY);
    const created = new Date(day.getTime() + r.int(0, 3) * DAY + r.int(0, 43_199) * 1000);
    const type = r.pick([1, 1, 2, 3, 4, 5, 5, 6]);
    const n = r.int(1, 8);
    if (r.chance(0.4)) {
      // Logged in Monica's web UI: the day only, and every message carries that day at midnight
      // (Contacts/ConversationsController::updateMessages @32028ce3c writes `$date` into each written_at).
      const midnight = midnightOf(dateOf(day));
      const conv = state.addConversation(contact.id, type, midnight, created);
      for (let k = 0; k < n; k++) state.seedMessage(conv, midnight, created);
    } else {
      // Logged through the API by another client, with times of day (docs/vendors/monica.md "Timestamps").
      const happened = new Date(midnightOf(dateOf(day)).getTime() + r.int(7 * 3600, 22 * 3600) * 1000);
      const conv = state.addConversation(contact.id, type, happened, created);
      const times = Array.from({ length: n }, () => new Date(happened.getTime() + r.int(0, 2 * 86_399) * 1000));
      times.sort((a, b) => a.getTime() - b.getTime());
      // Some conversations are logged out of order, so the DB order is not the written order (docs/vendors/monica.md).
      if (n > 2 && r.chance(0.25)) times.reverse();
      for (const t of times) state.seedMessage(conv, t, created);
    }
    // A few were edited later, which is what moves updated_at in Monica (messages do not: docs/vendors/monica.md).
    if (r.chance(0.2)) {
      const conv = state.conversations.get(state.ids.conversation) as MoConversation;
      conv.updated_at = new Date(created.getTime() + r.int(1, 5) * DAY);
    }
  }
  giveDemoIdentities(state);
}

/**
 * src/sandbox/demoPeople.ts: the contacts of the most recent conversations become the demo people (no PRNG draw, so
 * the rest of the data stays as it was); their email and phone are contact fields (types 1 and 2 of the defaults).
 */
function giveDemoIdentities(state: MonicaState) {
  const lastActivity = new Map<number, number>();
  for (const c of state.conversations.values()) {
    const t = c.happened_at.getTime();
    if ((lastActivity.get(c.contact_id) ?? -Infinity) < t) lastActivity.set(c.contact_id, t);
  }
  const contacts = byRecentActivity(
    [...lastActivity.keys()].map((id) => state.contacts.get(id) as MoContact),
    (c) => lastActivity.get(c.id) as number,
    (c) => c.id,
  );
  MONICA_DEMO_PEOPLE.forEach((p, i) => {
    const contact = contacts[i];
    if (!contact) return;
    contact.first_name = p.first;
    contact.last_name = p.last;
    contact.nickname = null;
    for (const [type, content] of [
      [1, p.email],
      [2, p.phone],
    ] as const) {
      if (content === null) continue;
      const field = contact.fields.find((f) => f.contact_field_type_id === type);
      if (field) field.content = content;
      else state.addField(contact, type, content);
    }
  });
}
