import { ErrorCode, GatewayError, badInput, unsupported } from '../../errors';
import { catalogPage, type CatalogSync } from '../catalog';
import type { MonicaSourceConfig } from '../../config/schema';
import { UnsupportedSession } from '../UnsupportedSession';
import type { SessionOptions } from '../vendor';
import { matchesFilter, paginateMessages } from '../paging';
import type {
  ConnectorSession,
  ContactPage,
  ConversationFilterInput,
  ConversationModel,
  ConversationPage,
  CreateConversationInput,
  ListConversationsRequest,
  MessageModel,
  MessagePage,
  MessagePageRequest,
  ParticipantModel,
  RequestScope,
  SendMessageInput,
  UpdateConversationPatch,
} from '../types';
import { monicaCatalogModel } from './catalog';
import { listMonicaContacts } from './contacts';
import { MONICA_MAX_LIMIT, contactArchivedError, isEnglishValidation, type MonicaClient } from './client';
import { createMonicaLoaders, type MonicaLoaders } from './loaders';
import {
  ME_ID,
  mapContact,
  mapConversation,
  mapMe,
  mapMessage,
  mapMessages,
  parseId,
  parseMessageId,
  toMonicaTimestamp,
} from './mapper';
import type { MonicaContactFieldTypeDto, MonicaConversationDto, MonicaMessageDto } from './types';

/** Patch fields Monica cannot store (docs/vendors/README.md: no status, mute, pin, archive, subject or labels). */
const FIXED_FIELDS = ['status', 'muted', 'pinned', 'archived', 'subject', 'labels'] as const;

/**
 * Filters no Monica conversation can satisfy, answered without a request: there is no read state and no
 * labels, and every conversation is OPEN (docs/vendors/monica.md "Unread", §5).
 */
function matchesNothing(f: ConversationFilterInput): boolean {
  if (f.unreadOnly) return true;
  if (f.labels && f.labels.length > 0) return true;
  return !!f.status && f.status.length > 0 && !f.status.includes('OPEN');
}

/**
 * What every Monica session is built from (connectors/vendor.ts), one per connector; `sync` is the source's
 * catalog sync over catalog.ts's reader, whose per-call cache is the session's loaders.
 */
export type MonicaSessionOptions = SessionOptions<MonicaSourceConfig, MonicaClient, undefined, MonicaLoaders>;

/**
 * One operation against one Monica account.
 *
 * Listing: Monica can sort only by created_at/updated_at, and adding a message does not touch updated_at
 * (docs/vendors/monica.md "Ordering"), so no API order is the inbox order. The session reads the whole list (100 a page,
 * the maximum) once per operation, sorts it and slices it; a participant filter narrows that read to
 * `GET /contacts/{id}/conversations`. Every conversation read primes the conversation loader, so a listed
 * conversation's messages and participants cost no further request.
 */
export class MonicaSession extends UnsupportedSession implements ConnectorSession {
  private readonly loaders: MonicaLoaders;
  private fieldTypes?: Promise<MonicaContactFieldTypeDto[]>;
  /** Participants catalog conversations showed this session ({@link note}), the account user above all. */
  private readonly known = new Map<string, ParticipantModel>();

  private readonly client: MonicaClient;
  private readonly sync: CatalogSync<MonicaLoaders>;
  /** The time for `written_at` / default `happened_at`; injectable for tests (options.now). */
  private readonly now: () => Date;

  constructor(
    options: MonicaSessionOptions,
    private readonly scope: RequestScope,
  ) {
    super(options.config.id);
    this.client = options.client;
    this.sync = options.sync;
    this.now = options.now ?? (() => new Date());
    this.loaders = createMonicaLoaders(options.client, scope);
  }

  // ---- reads ----

  /**
   * Monica can sort only by created_at/updated_at, and adding a message does not touch updated_at (docs/vendors/monica.md
   * "Ordering"), so no API order is the inbox order: pages come from the conversation catalog
   * (connectors/catalog.ts), a sorted snapshot of every conversation with its participants and last message,
   * re-synced (every page, 100 a request) when older than the source's catalogMaxAgeMs and patched by every
   * write through the gateway. A page costs no request while the snapshot is fresh.
   */
  async listConversations(req: ListConversationsRequest): Promise<ConversationPage> {
    const f = req.filter;
    if (matchesNothing(f)) return { items: [], total: 0 };
    const all = await this.sync.all(this.scope, this.loaders);
    const pid = f.participantNativeId;
    // The account user takes part in every conversation, so `me` filters nothing.
    const rest: ConversationFilterInput = { ...f, participantNativeId: pid === ME_ID ? null : pid };
    return catalogPage(all, rest, req.offset, req.limit, (c) =>
      matchesFilter(c, rest, c.participants ?? [], c.searchText ? [c.searchText] : []),
    );
  }

  /**
   * Writes patch the catalog at once from their answer (a conversation with every message), so the inbox shows them
   * before the next sync. The account user comes from the catalog (every catalog conversation lists it), so a send
   * costs its one request (issue 13 target 2); `GET /me` only when no catalog conversation has it.
   */
  private async patchCatalog(dto: MonicaConversationDto): Promise<void> {
    // Before the first sync there is nothing to patch (and no reason to spend a request on /me).
    if (!(await this.sync.synced())) return;
    if (!this.known.has(ME_ID)) this.note(await this.sync.catalog.peekOne(String(dto.id)));
    if (!this.known.has(ME_ID))
      this.note((await this.sync.catalog.peek())?.find((c) => c.participants?.some((p) => p.nativeId === ME_ID)));
    await this.sync.upsert(monicaCatalogModel(this.sourceId, dto, await this.me()));
  }

  /** The participants of a catalog conversation, kept for this session: senders then cost no request. */
  private note<T extends ConversationModel | undefined>(c: T): T {
    for (const p of c?.participants ?? []) this.known.set(p.nativeId, p);
    return c;
  }

  /**
   * The catalog's conversation while it is fresh (issue 13 target 1: a thread page then costs only the conversation
   * read that carries its messages, and the account user comes from the catalog's participants), else a read.
   */
  async loadConversation(nativeId: string): Promise<ConversationModel | null> {
    const held = this.note(await this.sync.catalog.lookup(nativeId));
    if (held) return held;
    const dto = await this.conversationDto(nativeId);
    return dto ? mapConversation(this.sourceId, dto) : null;
  }

  /** docs/vendors/README.md: the contact and the account user (`GET /me`, fetched once per operation, only here). */
  async loadParticipants(conversation: ConversationModel): Promise<ParticipantModel[]> {
    // Catalog models carry them already.
    if (conversation.participants) return conversation.participants;
    const [dto, me] = await Promise.all([this.conversationDto(conversation.nativeId), this.me()]);
    return dto ? [mapContact(this.sourceId, dto.contact), me] : [];
  }

  /** The account's own contacts with their contact fields, one `GET /contacts` a page (contacts.ts; issue 15). */
  listContacts(opts: { after?: string; first: number }): Promise<ContactPage> {
    return listMonicaContacts(this.client, this.scope, opts);
  }

  async loadParticipant(nativeId: string): Promise<ParticipantModel | null> {
    if (nativeId === ME_ID) return this.me();
    const id = parseId(nativeId);
    if (id === null) return null;
    const contact = await this.loaders.contacts.load(id);
    return contact ? mapContact(this.sourceId, contact) : null;
  }

  async loadLastMessage(conversation: ConversationModel): Promise<MessageModel | null> {
    if (conversation.lastMessage !== undefined) return conversation.lastMessage;
    const dto = await this.conversationDto(conversation.nativeId);
    return dto ? (mapMessages(this.sourceId, dto).at(-1) ?? null) : null;
  }

  async loadMessage(nativeId: string): Promise<MessageModel | null> {
    const ids = parseMessageId(nativeId);
    if (!ids) return null;
    const dto = await this.loaders.conversations.load(ids.conversationId);
    const m = dto?.messages.find((x) => x.id === ids.messageId);
    return dto && m ? mapMessage(this.sourceId, dto, m) : null;
  }

  /** Messages are embedded and unpaginated (docs/vendors/monica.md), so paging happens here over the sorted list. */
  async listMessages(conversationNativeId: string, req: MessagePageRequest): Promise<MessagePage> {
    const [dto, held] = await Promise.all([
      this.requireConversation(conversationNativeId),
      this.sync.catalog.lookup(conversationNativeId),
    ]);
    // The account user's messages name it by reference: the catalog's participants answer it without `GET /me`.
    this.note(held);
    return paginateMessages(mapMessages(this.sourceId, dto), req);
  }

  // ---- writes ----

  override async createConversation(input: CreateConversationInput): Promise<ConversationModel> {
    if (input.groupNativeId) throw unsupported(this.sourceId, 'group conversations');
    if (input.subject) throw unsupported(this.sourceId, 'conversation subjects');
    if (input.inboxId) throw badInput(`Source "${this.sourceId}" has no inboxes; leave inboxId empty.`, 'inboxId');
    const contacts = input.participantNativeIds.filter((p) => p !== ME_ID);
    if (contacts.length !== 1) {
      throw badInput(
        `A conversation in source "${this.sourceId}" has exactly one contact; pass one contact participant id.`,
        'participantIds',
      );
    }
    const contactId = parseId(contacts[0] as string);
    if (contactId === null) throw this.notFound(`contact "${contacts[0]}"`);
    const contactFieldTypeId = await this.resolveFieldType(input.channel);
    // docs/vendors/monica.md "Timestamps": a date-time, so the time of day is kept.
    const happenedAt = toMonicaTimestamp(input.happenedAt ?? this.now());
    let dto = await this.explained('creating a conversation', { contactId }, () =>
      this.client.createConversation(this.scope, {
        happened_at: happenedAt,
        contact_id: contactId,
        contact_field_type_id: contactFieldTypeId,
      }),
    );
    if (input.content) {
      const created = dto.id;
      try {
        // The first message is dated like the conversation it starts.
        dto = await this.explained('sending a message', { conversationId: created }, () =>
          this.client.addMessage(this.scope, created, {
            written_at: happenedAt,
            written_by_me: true,
            content: input.content as string,
          }),
        );
      } catch (e) {
        // Monica creates conversations and messages in two calls; do not leave a half-made conversation behind.
        await this.client.deleteConversation(this.scope, dto.id).catch(() => undefined);
        throw e;
      }
    }
    this.remember(dto);
    await this.patchCatalog(dto);
    return mapConversation(this.sourceId, dto);
  }

  /**
   * Only `happenedAt` is editable. PUT needs `happened_at` and `contact_field_type_id` (docs/vendors/monica.md: both
   * required in code), so the type is carried over from the current conversation.
   */
  override async updateConversation(nativeId: string, patch: UpdateConversationPatch): Promise<ConversationModel> {
    const fixed = FIXED_FIELDS.find((k) => patch[k] !== undefined && patch[k] !== null);
    if (fixed) throw unsupported(this.sourceId, `updating a conversation's ${fixed}`);
    const current = await this.requireConversation(nativeId).catch(async (e: unknown) => {
      if (e instanceof GatewayError && e.code === ErrorCode.NOT_FOUND) await this.sync.remove(nativeId);
      throw e;
    });
    if (!patch.happenedAt) return mapConversation(this.sourceId, current);
    const happenedAt = patch.happenedAt;
    const dto = await this.explained('updating a conversation', { conversationId: current.id }, () =>
      this.client.updateConversation(this.scope, current.id, {
        // The new value as given, time of day included (docs/vendors/monica.md "Timestamps").
        happened_at: toMonicaTimestamp(happenedAt),
        contact_field_type_id: current.contact_field_type.id,
      }),
    ).catch(async (e: unknown) => {
      // Deleted between the read and the PUT (Monica: 422 "The selected conversation id is invalid.").
      if (e instanceof GatewayError && e.code === ErrorCode.NOT_FOUND) await this.sync.remove(nativeId);
      throw e;
    });
    this.remember(dto);
    await this.patchCatalog(dto);
    return mapConversation(this.sourceId, dto);
  }

  override async deleteConversation(nativeId: string): Promise<void> {
    const id = parseId(nativeId);
    if (id === null) throw this.notFound(`conversation "${nativeId}"`);
    try {
      // An unknown id is 422/32 "The selected conversation id is invalid." in Monica, mapped to NOT_FOUND
      // (client.ts; docs/vendors/monica.md "Errors"), so deleting twice is NOT_FOUND the second time.
      await this.explained('deleting a conversation', { conversationId: id }, () =>
        this.client.deleteConversation(this.scope, id),
      );
    } catch (e) {
      // Gone already (deleted elsewhere): the inbox must not keep showing it.
      if (e instanceof GatewayError && e.code === ErrorCode.NOT_FOUND) await this.sync.remove(nativeId);
      throw e;
    }
    this.forget(id);
    await this.sync.remove(nativeId);
  }

  /** docs/vendors/monica.md: the answer is the whole conversation; the new message is the one with the highest id. */
  override async sendMessage(input: SendMessageInput): Promise<MessageModel> {
    if (input.private) throw unsupported(this.sourceId, 'private messages');
    if (input.attachmentIds.length > 0 || input.files.length > 0) throw unsupported(this.sourceId, 'attachments');
    const id = parseId(input.conversationNativeId);
    if (id === null) throw this.notFound(`conversation "${input.conversationNativeId}"`);
    const dto = await this.explained('sending a message', { conversationId: id }, () =>
      this.client.addMessage(this.scope, id, {
        // Now, to the second (docs/vendors/monica.md "Timestamps").
        written_at: toMonicaTimestamp(this.now()),
        written_by_me: true,
        content: input.content,
      }),
    );
    this.remember(dto);
    await this.patchCatalog(dto);
    const newest = dto.messages.reduce<MonicaMessageDto | null>((a, m) => (!a || m.id > a.id ? m : a), null);
    if (!newest) throw this.badResponse('a conversation without the message just added');
    return mapMessage(this.sourceId, dto, newest);
  }

  /**
   * PUT needs all three fields (docs/vendors/monica.md), so `written_at` and `written_by_me` are carried over:
   * `written_at` exactly as Monica sent it, so the time of day another client wrote survives the edit
   * (docs/vendors/monica.md "Timestamps"). A message id from before an edit in Monica's web UI, which re-creates every
   * message, is NOT_FOUND (and the catalog takes the conversation as it is now).
   */
  override async editMessage(nativeId: string, content: string): Promise<MessageModel> {
    const { dto, message } = await this.requireMessage(nativeId, true);
    const updated = await this.explained('editing a message', { conversationId: dto.id }, () =>
      this.client.updateMessage(this.scope, dto.id, message.id, {
        written_at: message.written_at,
        written_by_me: message.written_by_me,
        content,
      }),
    );
    this.remember(updated);
    await this.patchCatalog(updated);
    const after = updated.messages.find((m) => m.id === message.id);
    if (!after) throw this.badResponse('a conversation without the message just edited');
    return mapMessage(this.sourceId, updated, after);
  }

  override async deleteMessage(nativeId: string): Promise<void> {
    const ids = parseMessageId(nativeId);
    if (!ids) throw this.notFound(`message "${nativeId}"`);
    try {
      await this.explained('deleting a message', { conversationId: ids.conversationId }, () =>
        this.client.deleteMessage(this.scope, ids.conversationId, ids.messageId),
      );
    } catch (e) {
      // A stale id (the message was deleted, or re-created by an edit in Monica's web UI): the catalog may still
      // show it as the last message, so it takes the conversation as it is now.
      if (e instanceof GatewayError && e.code === ErrorCode.NOT_FOUND)
        await this.refreshCatalogEntry(ids.conversationId);
      throw e;
    }
    this.forget(ids.conversationId);
    const fresh = await this.loaders.conversations.load(ids.conversationId);
    if (fresh) await this.patchCatalog(fresh);
  }

  // ---- helpers ----

  /** The account user: as the catalog showed it to this session ({@link note}), else `GET /me` (once a session). */
  private me(): Promise<ParticipantModel> {
    const known = this.known.get(ME_ID);
    if (known) return Promise.resolve(known);
    return this.loaders.me.load(ME_ID).then((u) => mapMe(this.sourceId, u));
  }

  private async conversationDto(nativeId: string): Promise<MonicaConversationDto | null> {
    const id = parseId(nativeId);
    return id === null ? null : this.loaders.conversations.load(id);
  }

  private async requireConversation(nativeId: string): Promise<MonicaConversationDto> {
    const dto = await this.conversationDto(nativeId);
    if (!dto) throw this.notFound(`conversation "${nativeId}"`);
    return dto;
  }

  private async requireMessage(
    nativeId: string,
    patchWhenStale = false,
  ): Promise<{ dto: MonicaConversationDto; message: MonicaMessageDto }> {
    const ids = parseMessageId(nativeId);
    if (!ids) throw this.notFound(`message "${nativeId}"`);
    const dto = await this.loaders.conversations.load(ids.conversationId);
    const message = dto?.messages.find((m) => m.id === ids.messageId);
    if (!dto || !message) {
      if (patchWhenStale) {
        if (dto) await this.patchCatalog(dto);
        else await this.sync.remove(String(ids.conversationId));
      }
      throw this.notFound(`message "${nativeId}"`);
    }
    return { dto, message };
  }

  /** The catalog takes one conversation as Monica has it now (or drops it), when a snapshot exists. */
  private refreshCatalogEntry(conversationId: number): Promise<void> {
    return this.sync.refresh(this.scope, [String(conversationId)], this.loaders);
  }

  /**
   * Runs a write and, when Monica refuses it with a 422/32 whose text the client could not read (Monica translates
   * validation messages into the account user's locale: docs/vendors/monica.md "Errors"), asks Monica what it has:
   * one GET of the conversation (or the contact, on create). Missing → NOT_FOUND; its contact archived →
   * SOURCE_REJECTED with `reason: CONTACT_ARCHIVED`; otherwise the original error. English answers (which the client
   * classifies) cost nothing extra.
   */
  private async explained<T>(
    what: string,
    about: { conversationId?: number; contactId?: number },
    run: () => Promise<T>,
  ): Promise<T> {
    try {
      return await run();
    } catch (e) {
      if (
        !(e instanceof GatewayError) ||
        e.code !== ErrorCode.SOURCE_REJECTED ||
        e.extensions.vendorCode !== 32 ||
        e.extensions.reason !== undefined
      )
        throw e;
      const vendor = Array.isArray(e.extensions.vendorMessages) ? (e.extensions.vendorMessages as string[]) : [];
      // English texts were read already (client.ts): a plain validation failure, nothing to ask.
      if (isEnglishValidation(vendor)) throw e;
      let active: boolean | null | undefined;
      try {
        if (about.conversationId !== undefined) {
          const dto = await this.client.getConversation(this.scope, about.conversationId);
          active = dto.contact.is_active;
        } else if (about.contactId !== undefined) {
          active = (await this.client.getContact(this.scope, about.contactId)).is_active;
        }
      } catch (lookup) {
        if (lookup instanceof GatewayError && lookup.code === ErrorCode.NOT_FOUND) {
          throw about.conversationId !== undefined
            ? this.notFound(`conversation "${about.conversationId}"`)
            : this.notFound(`contact "${about.contactId}"`);
        }
        throw e;
      }
      if (active === false) throw contactArchivedError(this.sourceId, what, vendor.join('; ') || undefined);
      throw e;
    }
  }

  /** Contact field type for a new conversation: an id, a type name, or the account's first type. */
  private async resolveFieldType(channel: string | null | undefined): Promise<number> {
    const wanted = channel?.trim();
    if (wanted && /^\d+$/.test(wanted)) return Number(wanted);
    const types = await this.contactFieldTypes();
    if (!wanted) {
      const first = types[0];
      if (!first)
        throw badInput(`Source "${this.sourceId}" has no contact field types to log a conversation with.`, 'channel');
      return first.id;
    }
    const hit = types.find((t) => t.name.toLowerCase() === wanted.toLowerCase());
    if (!hit) {
      throw badInput(
        `Source "${this.sourceId}" has no channel "${wanted}"; use one of: ${types.map((t) => t.name).join(', ')}.`,
        'channel',
      );
    }
    return hit.id;
  }

  private contactFieldTypes(): Promise<MonicaContactFieldTypeDto[]> {
    this.fieldTypes ??= (async () => {
      const first = await this.client.listContactFieldTypes(this.scope, { page: 1, limit: MONICA_MAX_LIMIT });
      const out = [...first.data];
      for (let page = 2; page <= first.meta.last_page; page++) {
        out.push(...(await this.client.listContactFieldTypes(this.scope, { page, limit: MONICA_MAX_LIMIT })).data);
      }
      return out;
    })();
    return this.fieldTypes;
  }

  /** After a write: the list reads are stale; the conversation is what the server just answered. */
  private remember(dto: MonicaConversationDto) {
    this.forget(dto.id);
    this.loaders.conversations.prime(dto.id, dto);
  }

  private forget(conversationId: number) {
    this.loaders.conversations.clear(conversationId);
  }

  private notFound(what: string): GatewayError {
    return new GatewayError(ErrorCode.NOT_FOUND, `Source "${this.sourceId}" has no ${what}.`, {
      source: this.sourceId,
    });
  }

  private badResponse(what: string): GatewayError {
    return new GatewayError(ErrorCode.SOURCE_BAD_RESPONSE, `Source "${this.sourceId}" answered with ${what}.`, {
      source: this.sourceId,
    });
  }
}
