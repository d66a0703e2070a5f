/**
 * Vendor source configs for tests, taken from the sandbox's own table (src/sandbox/index.ts VENDORS) instead of
 * re-declared in each test: the config that points a connector at an emulator is written once, where the sandbox
 * and the embedded default read it too. A test states only what it changes (`{ retries: 0 }` for exact request
 * counts, a page size, a check interval).
 */
import type { SourceConfig } from '../../src/config/schema';
import type { SourceKind } from '../../src/connectors/types';
import { VENDORS } from '../../src/sandbox';

/** The config type of one kind: `SourceConfigOf<'MONICA'>` is MonicaSourceConfig. */
export type SourceConfigOf<K extends SourceKind> = Extract<SourceConfig, { kind: K }>;

/** The sandbox's table entry of a kind (its emulator's start function, source id, default port). */
export function vendorEntry(kind: SourceKind): (typeof VENDORS)[number] {
  const entry = VENDORS.find((v) => v.kind === kind);
  if (!entry) throw new Error(`the sandbox has no emulator for ${kind}`);
  return entry;
}

/**
 * The source config the sandbox uses for a kind's emulator at `emulatorUrl` (an emulator's `url`, as
 * `startXEmulator` returns it), with `over` applied on top.
 */
export function vendorConfig<K extends SourceKind>(
  kind: K,
  emulatorUrl: string,
  over: Partial<SourceConfigOf<K>> = {},
): SourceConfigOf<K> {
  const base = vendorEntry(kind).sourceConfig(emulatorUrl);
  if (base.kind !== kind) throw new Error(`the sandbox's ${kind} entry builds a ${base.kind} config`);
  return { ...(base as SourceConfigOf<K>), ...over };
}
