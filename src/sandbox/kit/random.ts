/** A small deterministic PRNG (mulberry32), so that demo data is the same on every start. */
export function createRandom(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
    chance: (p: number) => next() < p,
    /** Alphanumeric string of `len` characters. */
    alnum: (len: number, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789') => {
      let s = '';
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(next() * alphabet.length)];
      return s;
    },
  };
}
export type Random = ReturnType<typeof createRandom>;

export const FIRST_NAMES = [
  'Olivia',
  'Liam',
  'Emma',
  'Noah',
  'Ava',
  'Elijah',
  'Sophia',
  'Mateo',
  'Isabella',
  'Lucas',
  'Mia',
  'Amelia',
  'Hiro',
  'Aisha',
  'Chen',
  'Priya',
  'Lars',
  'Ingrid',
  'Tomás',
  'Zanele',
  'Yuki',
  'Omar',
  'Freya',
  'Kofi',
] as const;
export const LAST_NAMES = [
  'Smith',
  'Garcia',
  'Nguyen',
  'Okafor',
  'Müller',
  'Rossi',
  'Kowalski',
  'Haddad',
  'Tanaka',
  'Silva',
  'Johansson',
  'Dubois',
  'Patel',
  'Kim',
  'Brown',
  'Novak',
  'Costa',
  'Mensah',
  'Larsen',
  'Ivanova',
] as const;
