import { compareConversations, type ConversationModel, type SourceHealthModel } from '../types';

/**
 * Pixieset documents no list order and no sort parameter (docs/vendors/pixieset.md "Ordering"). The connector streams
 * the list as if it were in the inbox order (`last_message_at` desc, then id: {@link compareConversations}), because
 * that is what an inbox UI would serve, but it checks every page it receives. The first page (or poll) that breaks
 * the order switches the source, for the life of the connector, to its fallback: a conversation catalog read in
 * full and sorted by the gateway (connectors/catalog.ts), exact whatever order the vendor uses. `Source.health` says
 * so: status DEGRADED with `lastErrorCode` {@link INBOX_ORDER_FALLBACK} (unless a later real failure names another
 * code).
 */
export const INBOX_ORDER_FALLBACK = 'INBOX_ORDER_FALLBACK';

type Row = Pick<ConversationModel, 'lastMessageAt' | 'nativeId'>;

/** Index of the first row that sorts before its predecessor in the inbox order, or -1 when they are in order. */
export function firstOutOfOrder(rows: readonly Row[]): number {
  for (let i = 1; i < rows.length; i++) {
    if (compareConversations(rows[i - 1] as Row, rows[i] as Row) > 0) return i;
  }
  return -1;
}

/** Per connector: whether the vendor's list order can still be trusted, and since when not. */
export class InboxOrderGuard {
  private brokenAt: Date | null = null;
  private where: string | null = null;

  /** True once a page broke the inbox order: lists come from the catalog from then on. */
  get fallback(): boolean {
    return this.brokenAt !== null;
  }

  /** What broke the order first (for health and tests), e.g. `list page 1: conv_B after conv_A`. */
  get reason(): string | null {
    return this.where;
  }

  /** Checks rows as received (in the vendor's order); records the first break. True while the order holds. */
  check(rows: readonly Row[], what: string): boolean {
    if (this.brokenAt) return false;
    const i = firstOutOfOrder(rows);
    if (i < 0) return true;
    this.breaks(`${what}: ${(rows[i] as Row).nativeId} came after ${(rows[i - 1] as Row).nativeId}`);
    return false;
  }

  /**
   * Checks that a page came in the size asked for (the maximum page size is undocumented: docs/vendors/pixieset.md
   * "Pagination"): offsets computed from page numbers are only right then. True while it holds.
   */
  checkPageSize(asked: number, served: number, what: string): boolean {
    if (this.brokenAt) return false;
    if (served === asked) return true;
    this.breaks(`${what}: asked for ${asked} a page, served ${served}`);
    return false;
  }

  private breaks(where: string) {
    this.brokenAt = new Date();
    this.where = where;
  }

  /** The HTTP client's health, marked DEGRADED with {@link INBOX_ORDER_FALLBACK} while the fallback is on. */
  health(base: SourceHealthModel): SourceHealthModel {
    const at = this.brokenAt;
    if (!at) return base;
    const laterFailure = base.lastFailureAt !== null && base.lastFailureAt.getTime() > at.getTime();
    return {
      ...base,
      status: base.status === 'DOWN' ? 'DOWN' : 'DEGRADED',
      lastFailureAt: laterFailure ? base.lastFailureAt : at,
      lastErrorCode: laterFailure ? base.lastErrorCode : INBOX_ORDER_FALLBACK,
    };
  }
}
