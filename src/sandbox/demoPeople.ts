/**
 * # The demo people (README "People", issue 15 "Sandbox and tests")
 *
 * Each emulator's seed gives a few of its existing contacts (the most recently active ones that have conversations)
 * these identities, after its random data is drawn and without drawing from the PRNG, so every other row of the
 * demo data (counts, ids, times) stays as it was. Each vendor writes them in its own shapes:
 *
 * | Person                   | Pixieset client                    | Chatwoot contact                   | Monica contact (fields)            | Protocol contact   |
 * | ------------------------ | ---------------------------------- | ---------------------------------- | ---------------------------------- | ------------------ |
 * | Maya Lindqvist (4)       | maya.lindqvist@example.com         | same email, `+15550142201`         | same email, `+1 555-014-2201`      | `+1 555 014 2201`  |
 * | Daniel Osei (3)          | `Daniel.Osei@Example.com` (case)   | daniel.osei@example.com, `+15550173344` | —                             | `+1 555 017 3344`  |
 * | Ren Takahashi (2, phone) | —                                  | no email, `+447700900077`          | —                                  | `+44 7700 900077`  |
 * | Jordan Blake × 2         | jordan.blake@example.com           | jblake@northwind.example, `+15550199876` | —                            | —                  |
 *
 * Chatwoot stores emails lower-cased and phone numbers in E.164 only (app/models/contact.rb
 * `prepare_email_attribute`, `validates :phone_number, format: /\+[1-9]\d{1,14}\z/`), so the other letter case
 * lives in Pixieset (a client typed by the photographer) and the other ways of writing a number in Monica's free-text
 * contact fields and Protocol's spaced numbers (as its other demo contacts). The two Jordan Blakes share only a
 * name, which never merges people. Maya's Monica contact joins her through its contact fields, which only Monica's
 * full contact carries (a contact listing with `with=contactfields`), not the ContactShort of its conversations.
 *
 * The phone numbers are in ranges no random demo number uses (555-01xx in North America, 07700 900xxx, Ofcom's
 * drama range, in the UK), so no random contact merges with them.
 */
export interface DemoPerson {
  first: string;
  last: string;
  /** As this vendor writes it; null: none. */
  email: string | null;
  phone: string | null;
}

export const DEMO_NAMES = {
  maya: 'Maya Lindqvist',
  daniel: 'Daniel Osei',
  ren: 'Ren Takahashi',
  jordan: 'Jordan Blake',
} as const;

const person = (name: string, email: string | null, phone: string | null): DemoPerson => {
  const [first = '', last = ''] = name.split(' ');
  return { first, last, email, phone };
};

/** Pixieset clients, in the order they take the most recently active clients. */
export const PIXIESET_DEMO_PEOPLE: DemoPerson[] = [
  person(DEMO_NAMES.maya, 'maya.lindqvist@example.com', '+1 555 014 2201'),
  person(DEMO_NAMES.daniel, 'Daniel.Osei@Example.com', '+1 555 017 3344'),
  person(DEMO_NAMES.jordan, 'jordan.blake@example.com', '+1 555 012 5510'),
];

/** Chatwoot contacts; Ren (no email) takes a contact none of whose conversations is in the email inbox. */
export const CHATWOOT_DEMO_PEOPLE: DemoPerson[] = [
  person(DEMO_NAMES.ren, null, '+447700900077'),
  person(DEMO_NAMES.maya, 'maya.lindqvist@example.com', '+15550142201'),
  person(DEMO_NAMES.daniel, 'daniel.osei@example.com', '+15550173344'),
  person(DEMO_NAMES.jordan, 'jblake@northwind.example', '+15550199876'),
];

/** Monica contacts (email and phone become contact fields). */
export const MONICA_DEMO_PEOPLE: DemoPerson[] = [
  person(DEMO_NAMES.maya, 'maya.lindqvist@example.com', '+1 555-014-2201'),
];

/** Protocol contacts (no email: Protocol has none). */
export const PROTOCOL_DEMO_PEOPLE: DemoPerson[] = [
  person(DEMO_NAMES.maya, null, '+1 555 014 2201'),
  person(DEMO_NAMES.daniel, null, '+1 555 017 3344'),
  person(DEMO_NAMES.ren, null, '+44 7700 900077'),
];

/**
 * `items` most recently active first (by `at`; ties by `id`): the contacts that take the demo identities, so the demo
 * people come first in `people` (most recent activity first) and in GraphiQL's People example.
 */
export function byRecentActivity<T>(items: Iterable<T>, at: (x: T) => number, id: (x: T) => string | number): T[] {
  return [...items].sort((a, b) => at(b) - at(a) || (String(id(a)) < String(id(b)) ? -1 : 1));
}
