import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

/**
 * # Keys that make two participants one person
 *
 * - Email: trimmed and lower-cased, nothing more. Plus-addressing (`ann+shop@x.com`) and dots (`a.nn@gmail.com`)
 *   are kept: at most providers they are different mailboxes, and a wrong merge is worse than a missed one.
 * - Phone: E.164 as libphonenumber-js parses it, with `defaultCountry` for numbers written without a country code.
 *   A number it cannot parse or that is not a possible number gives no key (never a merge on raw digits).
 *
 * Names never give a key.
 */
export function normalizeEmail(raw: string | null | undefined): string | null {
  if (raw == null) return null;
  const e = raw.trim().toLowerCase();
  // Something@something: anything else is not an address and must not merge people.
  return /^[^\s@]+@[^\s@]+$/.test(e) ? e : null;
}

export function normalizePhone(raw: string | null | undefined, defaultCountry?: string | null): string | null {
  if (raw == null) return null;
  const s = raw.trim();
  if (!s) return null;
  try {
    const p = parsePhoneNumberFromString(s, (defaultCountry ?? undefined) as CountryCode | undefined);
    return p && p.isPossible() ? p.number : null;
  } catch {
    return null;
  }
}
