import type { GraphQLResolveInfo, GraphQLScalarType, GraphQLScalarTypeConfig } from 'graphql';
import type { ConversationModel, MessageModel, ParticipantModel, AttachmentModel, SourceModel, SourceUnreadModel, UnreadCountModel, AttachmentUploadModel, SourceHealthModel } from '../../connectors/types';
import type { ConversationConnectionModel, MessageConnectionModel } from '../mappers';
import type { PersonModel, PersonConnectionModel } from '../../people/people';
import type { GraphQLContext } from '../context';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
export type Omit<T, K extends keyof T> = Pick<T, Exclude<keyof T, K>>;
export type RequireFields<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: NonNullable<T[P]> };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /**
   * An ISO-8601 date-time in UTC, always serialized with a `Z` suffix and millisecond precision,
   * for example `2025-08-07T10:30:00.000Z`.
   */
  DateTime: { input: Date; output: Date; }
};

export type Attachment = Node & {
  __typename?: 'Attachment';
  contentType?: Maybe<Scalars['String']['output']>;
  filename?: Maybe<Scalars['String']['output']>;
  id: Scalars['ID']['output'];
  size?: Maybe<Scalars['Int']['output']>;
  url?: Maybe<Scalars['String']['output']>;
};

/**
 * How to upload a file: send a `multipart/form-data` request with `method` to `url`, with every field of
 * `fields` first and the file last as the `file` part. Then pass `attachmentId` to sendMessage.
 */
export type AttachmentUpload = {
  __typename?: 'AttachmentUpload';
  attachmentId: Scalars['ID']['output'];
  expiresAt: Scalars['DateTime']['output'];
  fields: Array<UploadField>;
  maxSize: Scalars['Int']['output'];
  method: Scalars['String']['output'];
  url: Scalars['String']['output'];
};

/** A thread with one or more participants, in one source. */
export type Conversation = Node & {
  __typename?: 'Conversation';
  archived: Scalars['Boolean']['output'];
  /** Where the conversation happens: the vendor's channel (Chatwoot inbox type, Monica medium) or the source kind. */
  channel?: Maybe<Scalars['String']['output']>;
  createdAt?: Maybe<Scalars['DateTime']['output']>;
  /** Global id; encodes the source and the native id. */
  id: Scalars['ID']['output'];
  labels: Array<Scalars['String']['output']>;
  /** Null when the conversation has no message, or (with an error naming the source) when the source fails. */
  lastMessage?: Maybe<Message>;
  /** Time of the newest message, or of the conversation's creation when it has none. */
  lastMessageAt?: Maybe<Scalars['DateTime']['output']>;
  /**
   * Messages oldest to newest within a page; `last: N` gives the newest N. Null (with an error naming the source)
   * when the source fails, so one failing thread never fails the rest of the answer.
   */
  messages?: Maybe<MessageConnection>;
  muted: Scalars['Boolean']['output'];
  /** The id in the source's own API (for Chatwoot `<account_id>:<display_id>`). */
  nativeId: Scalars['String']['output'];
  /** Null (with an error naming the source) when the source fails while loading them. */
  participants?: Maybe<Array<Participant>>;
  pinned: Scalars['Boolean']['output'];
  source: Source;
  status: ConversationStatus;
  subject?: Maybe<Scalars['String']['output']>;
  /** Unread incoming messages; null where the source has no read state (or, with an error, when it fails). */
  unreadCount?: Maybe<Scalars['Int']['output']>;
  updatedAt?: Maybe<Scalars['DateTime']['output']>;
};


/** A thread with one or more participants, in one source. */
export type ConversationMessagesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};

export type ConversationConnection = {
  __typename?: 'ConversationConnection';
  edges: Array<ConversationEdge>;
  nodes: Array<Conversation>;
  pageInfo: PageInfo;
  /** Total number of matching conversations, when it is known without extra upstream calls. */
  totalCount?: Maybe<Scalars['Int']['output']>;
};

/** Deleted through the gateway (`deleteConversation`). */
export type ConversationDeleted = ConversationEvent & {
  __typename?: 'ConversationDeleted';
  at: Scalars['DateTime']['output'];
  conversationId: Scalars['ID']['output'];
  cursor: Scalars['String']['output'];
};

export type ConversationEdge = {
  __typename?: 'ConversationEdge';
  cursor: Scalars['String']['output'];
  node: Conversation;
};

/**
 * Something that happened in a conversation, as `conversationEvents` pushes it (docs/live.md "Thread events").
 * Within one conversation, events arrive in the order they happened.
 */
export type ConversationEvent = {
  /** When it happened: the source's time where it says, else when the gateway heard of it. */
  at: Scalars['DateTime']['output'];
  /** The conversation it happened in (null for `ResyncRequired`). */
  conversationId?: Maybe<Scalars['ID']['output']>;
  /** Opaque. Pass it as `conversationEvents(after:)` to resume after this event. */
  cursor: Scalars['String']['output'];
};

/** What `ConversationUpdated.changedFields` names. */
export type ConversationField =
  | 'ARCHIVED'
  | 'LABELS'
  | 'MUTED'
  /** The people its participants belong to (`Participant.person`): an operator linked or unlinked one (README, People). */
  | 'PEOPLE'
  | 'PINNED'
  | 'STATUS'
  | 'SUBJECT';

export type ConversationFilter = {
  /** Conversations carrying any of these labels. */
  labels?: InputMaybe<Array<Scalars['String']['input']>>;
  /** Only conversations with this participant (a Participant id). */
  participantId?: InputMaybe<Scalars['ID']['input']>;
  /** Only conversations of this person (a Person id): any of its participants. */
  personId?: InputMaybe<Scalars['ID']['input']>;
  /** Free text, matched against subject, participants and, where the source supports it, message content. */
  search?: InputMaybe<Scalars['String']['input']>;
  /** Only these sources (Source ids). */
  sources?: InputMaybe<Array<Scalars['ID']['input']>>;
  status?: InputMaybe<Array<ConversationStatus>>;
  /** Only conversations with unread messages. */
  unreadOnly?: InputMaybe<Scalars['Boolean']['input']>;
};

/** Read through the gateway (`markConversationRead`). */
export type ConversationRead = ConversationEvent & {
  __typename?: 'ConversationRead';
  at: Scalars['DateTime']['output'];
  conversation: Conversation;
  conversationId: Scalars['ID']['output'];
  cursor: Scalars['String']['output'];
};

export type ConversationStatus =
  | 'ARCHIVED'
  | 'OPEN'
  | 'PENDING'
  | 'RESOLVED'
  | 'SNOOZED';

/**
 * Changed through the gateway (`updateConversation`: the fields the input set; `linkParticipants` /
 * `unlinkParticipant`: PEOPLE, for every conversation of the people before the change): the conversation as it is
 * now, and which fields changed.
 */
export type ConversationUpdated = ConversationEvent & {
  __typename?: 'ConversationUpdated';
  at: Scalars['DateTime']['output'];
  changedFields: Array<ConversationField>;
  conversation: Conversation;
  conversationId: Scalars['ID']['output'];
  cursor: Scalars['String']['output'];
};

export type CreateAttachmentUploadInput = {
  contentType: Scalars['String']['input'];
  conversationId: Scalars['ID']['input'];
  filename: Scalars['String']['input'];
  /** Size in bytes; checked against the source's limit before any upstream call. */
  size: Scalars['Int']['input'];
};

export type CreateConversationInput = {
  /** Monica: the medium (native contact field type id); defaults to the source's first type. */
  channel?: InputMaybe<Scalars['String']['input']>;
  /** An optional first message. */
  content?: InputMaybe<Scalars['String']['input']>;
  /** Protocol: a group instead of a contact. */
  groupId?: InputMaybe<Scalars['ID']['input']>;
  /** Monica: the date the conversation happened; defaults to today. */
  happenedAt?: InputMaybe<Scalars['DateTime']['input']>;
  /** A repeat with the same key returns the first result and creates nothing new. */
  idempotencyKey?: InputMaybe<Scalars['String']['input']>;
  /** Chatwoot: the inbox to create it in (native inbox id). */
  inboxId?: InputMaybe<Scalars['String']['input']>;
  /** Participant ids (Protocol: one contact, or use groupId; Monica: one contact; Chatwoot: one contact). */
  participantIds?: InputMaybe<Array<Scalars['ID']['input']>>;
  /** The source to create it in. */
  sourceId: Scalars['ID']['input'];
  subject?: InputMaybe<Scalars['String']['input']>;
};

export type DeletePayload = {
  __typename?: 'DeletePayload';
  deleted: Scalars['Boolean']['output'];
  /** The id that was deleted. */
  id: Scalars['ID']['output'];
};

export type EditMessageInput = {
  content: Scalars['String']['input'];
  id: Scalars['ID']['input'];
};

export type LinkParticipantsInput = {
  /** Participant ids (CONTACTs the API key may see): their people become one. */
  participantIds: Array<Scalars['ID']['input']>;
};

export type LinkParticipantsPayload = {
  __typename?: 'LinkParticipantsPayload';
  /** The one person the participants now belong to. */
  person: Person;
};

export type Message = Node & {
  __typename?: 'Message';
  attachments: Array<Attachment>;
  content?: Maybe<Scalars['String']['output']>;
  conversation: Conversation;
  direction: MessageDirection;
  id: Scalars['ID']['output'];
  /** An internal note not visible to the client. */
  private: Scalars['Boolean']['output'];
  readAt?: Maybe<Scalars['DateTime']['output']>;
  sender?: Maybe<Participant>;
  sentAt?: Maybe<Scalars['DateTime']['output']>;
};

/** A new message in the conversation (sent through the gateway, or reported by the source). */
export type MessageAdded = ConversationEvent & {
  __typename?: 'MessageAdded';
  at: Scalars['DateTime']['output'];
  conversationId: Scalars['ID']['output'];
  cursor: Scalars['String']['output'];
  message: Message;
};

export type MessageConnection = {
  __typename?: 'MessageConnection';
  edges: Array<MessageEdge>;
  nodes: Array<Message>;
  pageInfo: PageInfo;
  totalCount?: Maybe<Scalars['Int']['output']>;
};

/** A message was deleted (Chatwoot: its soft delete, reported by the webhook; deletions elsewhere give no event yet). */
export type MessageDeleted = ConversationEvent & {
  __typename?: 'MessageDeleted';
  at: Scalars['DateTime']['output'];
  conversationId: Scalars['ID']['output'];
  cursor: Scalars['String']['output'];
  messageId: Scalars['ID']['output'];
};

export type MessageDirection =
  /** System or activity entries (status changes, assignments). */
  | 'ACTIVITY'
  /** From the client/contact to the business. */
  | 'INCOMING'
  /** From the business (the API user) to the client. */
  | 'OUTGOING';

export type MessageEdge = {
  __typename?: 'MessageEdge';
  cursor: Scalars['String']['output'];
  node: Message;
};

/** A message whose content changed (edited through the gateway, or reported by the source). */
export type MessageUpdated = ConversationEvent & {
  __typename?: 'MessageUpdated';
  at: Scalars['DateTime']['output'];
  conversationId: Scalars['ID']['output'];
  cursor: Scalars['String']['output'];
  message: Message;
};

export type Mutation = {
  __typename?: 'Mutation';
  createAttachmentUpload: AttachmentUpload;
  createConversation: Conversation;
  deleteConversation: DeletePayload;
  deleteMessage: DeletePayload;
  editMessage: Message;
  /**
   * Joins the people of these participants into one, whatever their emails and phones say, and keeps it so (README
   * "People"). Idempotent. Only API keys with `manageLinks` (FORBIDDEN otherwise).
   */
  linkParticipants: LinkParticipantsPayload;
  markConversationRead: Conversation;
  markConversationUnread: Conversation;
  sendMessage: Message;
  /**
   * Splits one participant off its person and keeps it apart from the automatic rule (its email and phone no longer
   * merge it) until it is linked by hand. Idempotent. Only API keys with `manageLinks` (FORBIDDEN otherwise).
   */
  unlinkParticipant: UnlinkParticipantPayload;
  updateConversation: Conversation;
};


export type MutationCreateAttachmentUploadArgs = {
  input: CreateAttachmentUploadInput;
};


export type MutationCreateConversationArgs = {
  input: CreateConversationInput;
};


export type MutationDeleteConversationArgs = {
  id: Scalars['ID']['input'];
};


export type MutationDeleteMessageArgs = {
  id: Scalars['ID']['input'];
};


export type MutationEditMessageArgs = {
  input: EditMessageInput;
};


export type MutationLinkParticipantsArgs = {
  input: LinkParticipantsInput;
};


export type MutationMarkConversationReadArgs = {
  id: Scalars['ID']['input'];
};


export type MutationMarkConversationUnreadArgs = {
  id: Scalars['ID']['input'];
};


export type MutationSendMessageArgs = {
  input: SendMessageInput;
};


export type MutationUnlinkParticipantArgs = {
  input: UnlinkParticipantInput;
};


export type MutationUpdateConversationArgs = {
  input: UpdateConversationInput;
};

/**
 * An object with a globally unique, opaque id. The id encodes the source and the source's native id,
 * so `Query.node` can route it; never parse it in a client.
 */
export type Node = {
  id: Scalars['ID']['output'];
};

/** Relay cursor-connection page information. */
export type PageInfo = {
  __typename?: 'PageInfo';
  endCursor?: Maybe<Scalars['String']['output']>;
  hasNextPage: Scalars['Boolean']['output'];
  hasPreviousPage: Scalars['Boolean']['output'];
  startCursor?: Maybe<Scalars['String']['output']>;
};

export type Participant = Node & {
  __typename?: 'Participant';
  /** A colour for the avatar placeholder, as a CSS hex colour. */
  avatarColor?: Maybe<Scalars['String']['output']>;
  avatarUrl?: Maybe<Scalars['String']['output']>;
  email?: Maybe<Scalars['String']['output']>;
  id: Scalars['ID']['output'];
  kind: ParticipantKind;
  name?: Maybe<Scalars['String']['output']>;
  /** The person this participant belongs to; null for agents, bots and groups. */
  person?: Maybe<Person>;
  phone?: Maybe<Scalars['String']['output']>;
};

export type ParticipantKind =
  /** A member of the business: photographer, agent, the account owner. */
  | 'AGENT'
  /** An automated sender. */
  | 'BOT'
  /** A client or contact of the business. */
  | 'CONTACT'
  /** A group of contacts (Protocol groups). */
  | 'GROUP';

/**
 * One person across every source: the CONTACT participants that share a normalised email address or phone number
 * (README "People"). A person shows only the participants the API key may see.
 */
export type Person = Node & {
  __typename?: 'Person';
  avatarUrl?: Maybe<Scalars['String']['output']>;
  /**
   * The time of the oldest incoming message not yet answered, across all the person's conversations: in each, the
   * incoming messages after its newest outgoing one (internal notes and activity entries answer nothing); null when
   * every conversation's last word is an answer. Reads messages: ask for it on one person, not on a whole page.
   */
  awaitingReplySince?: Maybe<Scalars['DateTime']['output']>;
  /** Every conversation of any member, in the inbox order; `filter` narrows it like Query.conversations. */
  conversations: ConversationConnection;
  /** The first member's name (members in id order), else an email, else a phone. */
  displayName?: Maybe<Scalars['String']['output']>;
  /** Normalised (trimmed, lower-case) email addresses of the members. */
  emails: Array<Scalars['String']['output']>;
  /** Derived from the person's smallest visible member participant: stable while its members stay the same. */
  id: Scalars['ID']['output'];
  /** The newest activity over the person's conversations. */
  lastMessageAt?: Maybe<Scalars['DateTime']['output']>;
  /** The member participants, one or more per source. */
  participants: Array<Participant>;
  /** Phone numbers of the members in E.164. */
  phones: Array<Scalars['String']['output']>;
  /** Unread incoming messages over the person's conversations; null where no member's source has read state. */
  unreadCount?: Maybe<Scalars['Int']['output']>;
};


/**
 * One person across every source: the CONTACT participants that share a normalised email address or phone number
 * (README "People"). A person shows only the participants the API key may see.
 */
export type PersonConversationsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<ConversationFilter>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};

export type PersonConnection = {
  __typename?: 'PersonConnection';
  edges: Array<PersonEdge>;
  nodes: Array<Person>;
  pageInfo: PageInfo;
  totalCount?: Maybe<Scalars['Int']['output']>;
};

export type PersonEdge = {
  __typename?: 'PersonEdge';
  cursor: Scalars['String']['output'];
  node: Person;
};

export type Query = {
  __typename?: 'Query';
  conversation?: Maybe<Conversation>;
  /**
   * One inbox over every visible source, newest activity first (lastMessageAt descending, ties by id).
   * `first`/`last` at most 100.
   */
  conversations: ConversationConnection;
  /** Any object by its global id, or null when it does not exist or the API key may not see its source. */
  node?: Maybe<Node>;
  /** Several objects by global id, batched per source. Missing or hidden ids give null at their position. */
  nodes: Array<Maybe<Node>>;
  /** People the API key may see, most recent activity first (ties by id). `first` at most 100; `search` matches names, emails and phones. */
  people: PersonConnection;
  /** A person by id, or null when the API key sees none of its participants. */
  person?: Maybe<Person>;
  /** Every source the API key may see, in config order. */
  sources: Array<Source>;
  /** Unread totals over the given sources (default: every visible source with read state). */
  unreadCount: UnreadCount;
};


export type QueryConversationArgs = {
  id: Scalars['ID']['input'];
};


export type QueryConversationsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<ConversationFilter>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};


export type QueryNodeArgs = {
  id: Scalars['ID']['input'];
};


export type QueryNodesArgs = {
  ids: Array<Scalars['ID']['input']>;
};


export type QueryPeopleArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  search?: InputMaybe<Scalars['String']['input']>;
};


export type QueryPersonArgs = {
  id: Scalars['ID']['input'];
};


export type QueryUnreadCountArgs = {
  sources?: InputMaybe<Array<Scalars['ID']['input']>>;
};

/** How the gateway learns about changes made outside it. */
export type RealtimeMode =
  /** The gateway polls the backend while somebody subscribes. */
  | 'POLLING'
  /** The backend pushes webhooks to the gateway. */
  | 'WEBHOOK';

/**
 * Events were missed and cannot be replayed (the cursor is older than the event log keeps, or from an instance that
 * restarted): refetch what the screen shows, then keep listening. Always the first event of a subscription when sent.
 */
export type ResyncRequired = ConversationEvent & {
  __typename?: 'ResyncRequired';
  at: Scalars['DateTime']['output'];
  conversationId?: Maybe<Scalars['ID']['output']>;
  /** A cursor at the current end of the log: resuming from it replays what follows this event. */
  cursor: Scalars['String']['output'];
  /** TRIMMED (older than the log keeps), UNKNOWN_CURSOR (not from this gateway's log, or from before a restart) or INVALID_CURSOR. */
  reason: Scalars['String']['output'];
};

export type SendMessageInput = {
  /** Ids from createAttachmentUpload, uploaded before sending. */
  attachmentIds?: InputMaybe<Array<Scalars['ID']['input']>>;
  content: Scalars['String']['input'];
  conversationId: Scalars['ID']['input'];
  /** A repeat with the same key returns the first result and sends nothing new. */
  idempotencyKey?: InputMaybe<Scalars['String']['input']>;
  /** Send as an internal note (sources with privateMessages). */
  private?: InputMaybe<Scalars['Boolean']['input']>;
};

/** One configured backend. */
export type Source = Node & {
  __typename?: 'Source';
  capabilities: SourceCapabilities;
  health: SourceHealth;
  id: Scalars['ID']['output'];
  kind: SourceKind;
  /** Human-readable name from the config. */
  name: Scalars['String']['output'];
};

/** What a source truthfully supports, so that apps can adapt their UI. */
export type SourceCapabilities = {
  __typename?: 'SourceCapabilities';
  archive: Scalars['Boolean']['output'];
  /** Messages can carry attachments (see createAttachmentUpload). */
  attachments: Scalars['Boolean']['output'];
  createConversation: Scalars['Boolean']['output'];
  deleteConversation: Scalars['Boolean']['output'];
  deleteMessage: Scalars['Boolean']['output'];
  editMessage: Scalars['Boolean']['output'];
  /** The count is exact; false when the backend caps it (Chatwoot stops at 10). */
  exactUnreadCounts: Scalars['Boolean']['output'];
  labels: Scalars['Boolean']['output'];
  markRead: Scalars['Boolean']['output'];
  markUnread: Scalars['Boolean']['output'];
  /** The largest attachment the source accepts, in bytes, when it has attachments. */
  maxAttachmentSize?: Maybe<Scalars['Int']['output']>;
  mute: Scalars['Boolean']['output'];
  pin: Scalars['Boolean']['output'];
  /** Private notes (Message.private) can be sent. */
  privateMessages: Scalars['Boolean']['output'];
  realtime: RealtimeMode;
  sendMessage: Scalars['Boolean']['output'];
  /** Which conversation statuses updateConversation(status:) accepts for this source. */
  settableStatuses: Array<ConversationStatus>;
  /** Conversations carry an unread count (Conversation.unreadCount is non-null). */
  unreadCounts: Scalars['Boolean']['output'];
  updateConversation: Scalars['Boolean']['output'];
};

export type SourceHealth = {
  __typename?: 'SourceHealth';
  /** State of the circuit breaker: CLOSED, OPEN or HALF_OPEN. */
  circuit: Scalars['String']['output'];
  /** The code of the last failure (for example SOURCE_TIMEOUT). */
  lastErrorCode?: Maybe<Scalars['String']['output']>;
  /** When the last upstream call failed. */
  lastFailureAt?: Maybe<Scalars['DateTime']['output']>;
  /** When the last upstream call succeeded. */
  lastSuccessAt?: Maybe<Scalars['DateTime']['output']>;
  status: SourceHealthStatus;
};

export type SourceHealthStatus =
  /** Recent calls failed or were slow; results may be partial. */
  | 'DEGRADED'
  /** The source is not reachable, or its circuit breaker is open. */
  | 'DOWN'
  /** No call has been made yet. */
  | 'UNKNOWN'
  /** Recent calls succeeded. */
  | 'UP';

/** The kind of backend a source is. */
export type SourceKind =
  | 'CHATWOOT'
  | 'MONICA'
  | 'PIXIESET'
  | 'PROTOCOL';

export type SourceUnreadCount = {
  __typename?: 'SourceUnreadCount';
  conversationsWithUnread: Scalars['Int']['output'];
  source: Source;
  /** Unread messages in the source; capped per conversation where the source caps it. */
  total: Scalars['Int']['output'];
};

export type Subscription = {
  __typename?: 'Subscription';
  /** A conversation whenever its unread count, last message or status changes. */
  conversationChanged: Conversation;
  /**
   * Typed events of the given conversations (default: every conversation of the given sources; default sources:
   * every visible source). With `after` (an event's `cursor`), every event since that one is sent first, in order,
   * then live ones; when they cannot be replayed the first event is `ResyncRequired`.
   */
  conversationEvents: ConversationEvent;
  /**
   * The current value first, then the new full value after each change. `after` is accepted for symmetry with
   * `conversationEvents` and ignored: the first value is the current one anyway, so nothing missed needs replaying.
   */
  unreadCountChanged: UnreadCount;
};


export type SubscriptionConversationChangedArgs = {
  sources?: InputMaybe<Array<Scalars['ID']['input']>>;
};


export type SubscriptionConversationEventsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  conversationIds?: InputMaybe<Array<Scalars['ID']['input']>>;
  sources?: InputMaybe<Array<Scalars['ID']['input']>>;
};


export type SubscriptionUnreadCountChangedArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  sources?: InputMaybe<Array<Scalars['ID']['input']>>;
};

export type UnlinkParticipantInput = {
  /** The participant to split off its person. */
  participantId: Scalars['ID']['input'];
};

export type UnlinkParticipantPayload = {
  __typename?: 'UnlinkParticipantPayload';
  /** The person it was split from, when other members remain. */
  formerPerson?: Maybe<Person>;
  /** The participant's own person now (it alone, unless it is linked by hand again). */
  person: Person;
};

export type UnreadCount = {
  __typename?: 'UnreadCount';
  /** Only sources with read state appear here. */
  bySource: Array<SourceUnreadCount>;
  conversationsWithUnread: Scalars['Int']['output'];
  total: Scalars['Int']['output'];
};

export type UpdateConversationInput = {
  archived?: InputMaybe<Scalars['Boolean']['input']>;
  /** Monica: the date the conversation happened. */
  happenedAt?: InputMaybe<Scalars['DateTime']['input']>;
  id: Scalars['ID']['input'];
  /** Replaces the whole label list. */
  labels?: InputMaybe<Array<Scalars['String']['input']>>;
  muted?: InputMaybe<Scalars['Boolean']['input']>;
  pinned?: InputMaybe<Scalars['Boolean']['input']>;
  status?: InputMaybe<ConversationStatus>;
  subject?: InputMaybe<Scalars['String']['input']>;
};

/** A form field to send with the upload. */
export type UploadField = {
  __typename?: 'UploadField';
  name: Scalars['String']['output'];
  value: Scalars['String']['output'];
};



export type ResolverTypeWrapper<T> = Promise<T> | T;


export type ResolverWithResolve<TResult, TParent, TContext, TArgs> = {
  resolve: ResolverFn<TResult, TParent, TContext, TArgs>;
};
export type Resolver<TResult, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = ResolverFn<TResult, TParent, TContext, TArgs> | ResolverWithResolve<TResult, TParent, TContext, TArgs>;

export type ResolverFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => Promise<TResult> | TResult;

export type SubscriptionSubscribeFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => AsyncIterable<TResult> | Promise<AsyncIterable<TResult>>;

export type SubscriptionResolveFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;

export interface SubscriptionSubscriberObject<TResult, TKey extends string, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<{ [key in TKey]: TResult }, TParent, TContext, TArgs>;
  resolve?: SubscriptionResolveFn<TResult, { [key in TKey]: TResult }, TContext, TArgs>;
}

export interface SubscriptionResolverObject<TResult, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<any, TParent, TContext, TArgs>;
  resolve: SubscriptionResolveFn<TResult, any, TContext, TArgs>;
}

export type SubscriptionObject<TResult, TKey extends string, TParent, TContext, TArgs> =
  | SubscriptionSubscriberObject<TResult, TKey, TParent, TContext, TArgs>
  | SubscriptionResolverObject<TResult, TParent, TContext, TArgs>;

export type SubscriptionResolver<TResult, TKey extends string, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> =
  | ((...args: any[]) => SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>)
  | SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>;

export type TypeResolveFn<TTypes, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (
  parent: TParent,
  context: TContext,
  info: GraphQLResolveInfo
) => Maybe<TTypes> | Promise<Maybe<TTypes>>;

export type IsTypeOfResolverFn<T = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (obj: T, context: TContext, info: GraphQLResolveInfo) => boolean | Promise<boolean>;

export type NextResolverFn<T> = () => Promise<T>;

export type DirectiveResolverFn<TResult = Record<PropertyKey, never>, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = (
  next: NextResolverFn<TResult>,
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;




/** Mapping of interface types */
export type ResolversInterfaceTypes<_RefType extends Record<string, unknown>> = {
  ConversationEvent:
    | ( ConversationDeleted )
    | ( Omit<ConversationRead, 'conversation'> & { conversation: _RefType['Conversation'] } )
    | ( Omit<ConversationUpdated, 'conversation'> & { conversation: _RefType['Conversation'] } )
    | ( Omit<MessageAdded, 'message'> & { message: _RefType['Message'] } )
    | ( MessageDeleted )
    | ( Omit<MessageUpdated, 'message'> & { message: _RefType['Message'] } )
    | ( ResyncRequired )
  ;
  Node:
    | ( AttachmentModel )
    | ( ConversationModel )
    | ( MessageModel )
    | ( ParticipantModel )
    | ( PersonModel )
    | ( SourceModel )
  ;
};

/** Mapping between all available schema types and the resolvers types */
export type ResolversTypes = {
  Attachment: ResolverTypeWrapper<AttachmentModel>;
  AttachmentUpload: ResolverTypeWrapper<AttachmentUploadModel>;
  Boolean: ResolverTypeWrapper<Scalars['Boolean']['output']>;
  Conversation: ResolverTypeWrapper<ConversationModel>;
  ConversationConnection: ResolverTypeWrapper<ConversationConnectionModel>;
  ConversationDeleted: ResolverTypeWrapper<ConversationDeleted>;
  ConversationEdge: ResolverTypeWrapper<Omit<ConversationEdge, 'node'> & { node: ResolversTypes['Conversation'] }>;
  ConversationEvent: ResolverTypeWrapper<ResolversInterfaceTypes<ResolversTypes>['ConversationEvent']>;
  ConversationField: ConversationField;
  ConversationFilter: ConversationFilter;
  ConversationRead: ResolverTypeWrapper<Omit<ConversationRead, 'conversation'> & { conversation: ResolversTypes['Conversation'] }>;
  ConversationStatus: ConversationStatus;
  ConversationUpdated: ResolverTypeWrapper<Omit<ConversationUpdated, 'conversation'> & { conversation: ResolversTypes['Conversation'] }>;
  CreateAttachmentUploadInput: CreateAttachmentUploadInput;
  CreateConversationInput: CreateConversationInput;
  DateTime: ResolverTypeWrapper<Scalars['DateTime']['output']>;
  DeletePayload: ResolverTypeWrapper<DeletePayload>;
  EditMessageInput: EditMessageInput;
  ID: ResolverTypeWrapper<Scalars['ID']['output']>;
  Int: ResolverTypeWrapper<Scalars['Int']['output']>;
  LinkParticipantsInput: LinkParticipantsInput;
  LinkParticipantsPayload: ResolverTypeWrapper<Omit<LinkParticipantsPayload, 'person'> & { person: ResolversTypes['Person'] }>;
  Message: ResolverTypeWrapper<MessageModel>;
  MessageAdded: ResolverTypeWrapper<Omit<MessageAdded, 'message'> & { message: ResolversTypes['Message'] }>;
  MessageConnection: ResolverTypeWrapper<MessageConnectionModel>;
  MessageDeleted: ResolverTypeWrapper<MessageDeleted>;
  MessageDirection: MessageDirection;
  MessageEdge: ResolverTypeWrapper<Omit<MessageEdge, 'node'> & { node: ResolversTypes['Message'] }>;
  MessageUpdated: ResolverTypeWrapper<Omit<MessageUpdated, 'message'> & { message: ResolversTypes['Message'] }>;
  Mutation: ResolverTypeWrapper<Record<PropertyKey, never>>;
  Node: ResolverTypeWrapper<ResolversInterfaceTypes<ResolversTypes>['Node']>;
  PageInfo: ResolverTypeWrapper<PageInfo>;
  Participant: ResolverTypeWrapper<ParticipantModel>;
  ParticipantKind: ParticipantKind;
  Person: ResolverTypeWrapper<PersonModel>;
  PersonConnection: ResolverTypeWrapper<PersonConnectionModel>;
  PersonEdge: ResolverTypeWrapper<Omit<PersonEdge, 'node'> & { node: ResolversTypes['Person'] }>;
  Query: ResolverTypeWrapper<Record<PropertyKey, never>>;
  RealtimeMode: RealtimeMode;
  ResyncRequired: ResolverTypeWrapper<ResyncRequired>;
  SendMessageInput: SendMessageInput;
  Source: ResolverTypeWrapper<SourceModel>;
  SourceCapabilities: ResolverTypeWrapper<SourceCapabilities>;
  SourceHealth: ResolverTypeWrapper<SourceHealthModel>;
  SourceHealthStatus: SourceHealthStatus;
  SourceKind: SourceKind;
  SourceUnreadCount: ResolverTypeWrapper<SourceUnreadModel>;
  String: ResolverTypeWrapper<Scalars['String']['output']>;
  Subscription: ResolverTypeWrapper<Record<PropertyKey, never>>;
  UnlinkParticipantInput: UnlinkParticipantInput;
  UnlinkParticipantPayload: ResolverTypeWrapper<Omit<UnlinkParticipantPayload, 'formerPerson' | 'person'> & { formerPerson?: Maybe<ResolversTypes['Person']>, person: ResolversTypes['Person'] }>;
  UnreadCount: ResolverTypeWrapper<UnreadCountModel>;
  UpdateConversationInput: UpdateConversationInput;
  UploadField: ResolverTypeWrapper<UploadField>;
};

/** Mapping between all available schema types and the resolvers parents */
export type ResolversParentTypes = {
  Attachment: AttachmentModel;
  AttachmentUpload: AttachmentUploadModel;
  Boolean: Scalars['Boolean']['output'];
  Conversation: ConversationModel;
  ConversationConnection: ConversationConnectionModel;
  ConversationDeleted: ConversationDeleted;
  ConversationEdge: Omit<ConversationEdge, 'node'> & { node: ResolversParentTypes['Conversation'] };
  ConversationEvent: ResolversInterfaceTypes<ResolversParentTypes>['ConversationEvent'];
  ConversationFilter: ConversationFilter;
  ConversationRead: Omit<ConversationRead, 'conversation'> & { conversation: ResolversParentTypes['Conversation'] };
  ConversationUpdated: Omit<ConversationUpdated, 'conversation'> & { conversation: ResolversParentTypes['Conversation'] };
  CreateAttachmentUploadInput: CreateAttachmentUploadInput;
  CreateConversationInput: CreateConversationInput;
  DateTime: Scalars['DateTime']['output'];
  DeletePayload: DeletePayload;
  EditMessageInput: EditMessageInput;
  ID: Scalars['ID']['output'];
  Int: Scalars['Int']['output'];
  LinkParticipantsInput: LinkParticipantsInput;
  LinkParticipantsPayload: Omit<LinkParticipantsPayload, 'person'> & { person: ResolversParentTypes['Person'] };
  Message: MessageModel;
  MessageAdded: Omit<MessageAdded, 'message'> & { message: ResolversParentTypes['Message'] };
  MessageConnection: MessageConnectionModel;
  MessageDeleted: MessageDeleted;
  MessageEdge: Omit<MessageEdge, 'node'> & { node: ResolversParentTypes['Message'] };
  MessageUpdated: Omit<MessageUpdated, 'message'> & { message: ResolversParentTypes['Message'] };
  Mutation: Record<PropertyKey, never>;
  Node: ResolversInterfaceTypes<ResolversParentTypes>['Node'];
  PageInfo: PageInfo;
  Participant: ParticipantModel;
  Person: PersonModel;
  PersonConnection: PersonConnectionModel;
  PersonEdge: Omit<PersonEdge, 'node'> & { node: ResolversParentTypes['Person'] };
  Query: Record<PropertyKey, never>;
  ResyncRequired: ResyncRequired;
  SendMessageInput: SendMessageInput;
  Source: SourceModel;
  SourceCapabilities: SourceCapabilities;
  SourceHealth: SourceHealthModel;
  SourceUnreadCount: SourceUnreadModel;
  String: Scalars['String']['output'];
  Subscription: Record<PropertyKey, never>;
  UnlinkParticipantInput: UnlinkParticipantInput;
  UnlinkParticipantPayload: Omit<UnlinkParticipantPayload, 'formerPerson' | 'person'> & { formerPerson?: Maybe<ResolversParentTypes['Person']>, person: ResolversParentTypes['Person'] };
  UnreadCount: UnreadCountModel;
  UpdateConversationInput: UpdateConversationInput;
  UploadField: UploadField;
};

export type AttachmentResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Attachment'] = ResolversParentTypes['Attachment']> = {
  contentType?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  filename?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  size?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
  url?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type AttachmentUploadResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['AttachmentUpload'] = ResolversParentTypes['AttachmentUpload']> = {
  attachmentId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  expiresAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  fields?: Resolver<Array<ResolversTypes['UploadField']>, ParentType, ContextType>;
  maxSize?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  method?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  url?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
};

export type ConversationResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Conversation'] = ResolversParentTypes['Conversation']> = {
  archived?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  channel?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  createdAt?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  labels?: Resolver<Array<ResolversTypes['String']>, ParentType, ContextType>;
  lastMessage?: Resolver<Maybe<ResolversTypes['Message']>, ParentType, ContextType>;
  lastMessageAt?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  messages?: Resolver<Maybe<ResolversTypes['MessageConnection']>, ParentType, ContextType, Partial<ConversationMessagesArgs>>;
  muted?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  nativeId?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  participants?: Resolver<Maybe<Array<ResolversTypes['Participant']>>, ParentType, ContextType>;
  pinned?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  source?: Resolver<ResolversTypes['Source'], ParentType, ContextType>;
  status?: Resolver<ResolversTypes['ConversationStatus'], ParentType, ContextType>;
  subject?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  unreadCount?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
  updatedAt?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type ConversationConnectionResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ConversationConnection'] = ResolversParentTypes['ConversationConnection']> = {
  edges?: Resolver<Array<ResolversTypes['ConversationEdge']>, ParentType, ContextType>;
  nodes?: Resolver<Array<ResolversTypes['Conversation']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
};

export type ConversationDeletedResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ConversationDeleted'] = ResolversParentTypes['ConversationDeleted']> = {
  at?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  conversationId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type ConversationEdgeResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ConversationEdge'] = ResolversParentTypes['ConversationEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['Conversation'], ParentType, ContextType>;
};

export type ConversationEventResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ConversationEvent'] = ResolversParentTypes['ConversationEvent']> = {
  __resolveType: TypeResolveFn<'ConversationDeleted' | 'ConversationRead' | 'ConversationUpdated' | 'MessageAdded' | 'MessageDeleted' | 'MessageUpdated' | 'ResyncRequired', ParentType, ContextType>;
};

export type ConversationReadResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ConversationRead'] = ResolversParentTypes['ConversationRead']> = {
  at?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  conversation?: Resolver<ResolversTypes['Conversation'], ParentType, ContextType>;
  conversationId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type ConversationUpdatedResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ConversationUpdated'] = ResolversParentTypes['ConversationUpdated']> = {
  at?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  changedFields?: Resolver<Array<ResolversTypes['ConversationField']>, ParentType, ContextType>;
  conversation?: Resolver<ResolversTypes['Conversation'], ParentType, ContextType>;
  conversationId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export interface DateTimeScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['DateTime'], any> {
  name: 'DateTime';
}

export type DeletePayloadResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['DeletePayload'] = ResolversParentTypes['DeletePayload']> = {
  deleted?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
};

export type LinkParticipantsPayloadResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['LinkParticipantsPayload'] = ResolversParentTypes['LinkParticipantsPayload']> = {
  person?: Resolver<ResolversTypes['Person'], ParentType, ContextType>;
};

export type MessageResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Message'] = ResolversParentTypes['Message']> = {
  attachments?: Resolver<Array<ResolversTypes['Attachment']>, ParentType, ContextType>;
  content?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  conversation?: Resolver<ResolversTypes['Conversation'], ParentType, ContextType>;
  direction?: Resolver<ResolversTypes['MessageDirection'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  private?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  readAt?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  sender?: Resolver<Maybe<ResolversTypes['Participant']>, ParentType, ContextType>;
  sentAt?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type MessageAddedResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['MessageAdded'] = ResolversParentTypes['MessageAdded']> = {
  at?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  conversationId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  message?: Resolver<ResolversTypes['Message'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type MessageConnectionResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['MessageConnection'] = ResolversParentTypes['MessageConnection']> = {
  edges?: Resolver<Array<ResolversTypes['MessageEdge']>, ParentType, ContextType>;
  nodes?: Resolver<Array<ResolversTypes['Message']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
};

export type MessageDeletedResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['MessageDeleted'] = ResolversParentTypes['MessageDeleted']> = {
  at?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  conversationId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  messageId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type MessageEdgeResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['MessageEdge'] = ResolversParentTypes['MessageEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['Message'], ParentType, ContextType>;
};

export type MessageUpdatedResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['MessageUpdated'] = ResolversParentTypes['MessageUpdated']> = {
  at?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  conversationId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  message?: Resolver<ResolversTypes['Message'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type MutationResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Mutation'] = ResolversParentTypes['Mutation']> = {
  createAttachmentUpload?: Resolver<ResolversTypes['AttachmentUpload'], ParentType, ContextType, RequireFields<MutationCreateAttachmentUploadArgs, 'input'>>;
  createConversation?: Resolver<ResolversTypes['Conversation'], ParentType, ContextType, RequireFields<MutationCreateConversationArgs, 'input'>>;
  deleteConversation?: Resolver<ResolversTypes['DeletePayload'], ParentType, ContextType, RequireFields<MutationDeleteConversationArgs, 'id'>>;
  deleteMessage?: Resolver<ResolversTypes['DeletePayload'], ParentType, ContextType, RequireFields<MutationDeleteMessageArgs, 'id'>>;
  editMessage?: Resolver<ResolversTypes['Message'], ParentType, ContextType, RequireFields<MutationEditMessageArgs, 'input'>>;
  linkParticipants?: Resolver<ResolversTypes['LinkParticipantsPayload'], ParentType, ContextType, RequireFields<MutationLinkParticipantsArgs, 'input'>>;
  markConversationRead?: Resolver<ResolversTypes['Conversation'], ParentType, ContextType, RequireFields<MutationMarkConversationReadArgs, 'id'>>;
  markConversationUnread?: Resolver<ResolversTypes['Conversation'], ParentType, ContextType, RequireFields<MutationMarkConversationUnreadArgs, 'id'>>;
  sendMessage?: Resolver<ResolversTypes['Message'], ParentType, ContextType, RequireFields<MutationSendMessageArgs, 'input'>>;
  unlinkParticipant?: Resolver<ResolversTypes['UnlinkParticipantPayload'], ParentType, ContextType, RequireFields<MutationUnlinkParticipantArgs, 'input'>>;
  updateConversation?: Resolver<ResolversTypes['Conversation'], ParentType, ContextType, RequireFields<MutationUpdateConversationArgs, 'input'>>;
};

export type NodeResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Node'] = ResolversParentTypes['Node']> = {
  __resolveType: TypeResolveFn<'Attachment' | 'Conversation' | 'Message' | 'Participant' | 'Person' | 'Source', ParentType, ContextType>;
};

export type PageInfoResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['PageInfo'] = ResolversParentTypes['PageInfo']> = {
  endCursor?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  hasNextPage?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  hasPreviousPage?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  startCursor?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
};

export type ParticipantResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Participant'] = ResolversParentTypes['Participant']> = {
  avatarColor?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  avatarUrl?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  email?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  kind?: Resolver<ResolversTypes['ParticipantKind'], ParentType, ContextType>;
  name?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  person?: Resolver<Maybe<ResolversTypes['Person']>, ParentType, ContextType>;
  phone?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type PersonResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Person'] = ResolversParentTypes['Person']> = {
  avatarUrl?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  awaitingReplySince?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  conversations?: Resolver<ResolversTypes['ConversationConnection'], ParentType, ContextType, Partial<PersonConversationsArgs>>;
  displayName?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  emails?: Resolver<Array<ResolversTypes['String']>, ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  lastMessageAt?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  participants?: Resolver<Array<ResolversTypes['Participant']>, ParentType, ContextType>;
  phones?: Resolver<Array<ResolversTypes['String']>, ParentType, ContextType>;
  unreadCount?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type PersonConnectionResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['PersonConnection'] = ResolversParentTypes['PersonConnection']> = {
  edges?: Resolver<Array<ResolversTypes['PersonEdge']>, ParentType, ContextType>;
  nodes?: Resolver<Array<ResolversTypes['Person']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
};

export type PersonEdgeResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['PersonEdge'] = ResolversParentTypes['PersonEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['Person'], ParentType, ContextType>;
};

export type QueryResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Query'] = ResolversParentTypes['Query']> = {
  conversation?: Resolver<Maybe<ResolversTypes['Conversation']>, ParentType, ContextType, RequireFields<QueryConversationArgs, 'id'>>;
  conversations?: Resolver<ResolversTypes['ConversationConnection'], ParentType, ContextType, Partial<QueryConversationsArgs>>;
  node?: Resolver<Maybe<ResolversTypes['Node']>, ParentType, ContextType, RequireFields<QueryNodeArgs, 'id'>>;
  nodes?: Resolver<Array<Maybe<ResolversTypes['Node']>>, ParentType, ContextType, RequireFields<QueryNodesArgs, 'ids'>>;
  people?: Resolver<ResolversTypes['PersonConnection'], ParentType, ContextType, Partial<QueryPeopleArgs>>;
  person?: Resolver<Maybe<ResolversTypes['Person']>, ParentType, ContextType, RequireFields<QueryPersonArgs, 'id'>>;
  sources?: Resolver<Array<ResolversTypes['Source']>, ParentType, ContextType>;
  unreadCount?: Resolver<ResolversTypes['UnreadCount'], ParentType, ContextType, Partial<QueryUnreadCountArgs>>;
};

export type ResyncRequiredResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ResyncRequired'] = ResolversParentTypes['ResyncRequired']> = {
  at?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  conversationId?: Resolver<Maybe<ResolversTypes['ID']>, ParentType, ContextType>;
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  reason?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type SourceResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Source'] = ResolversParentTypes['Source']> = {
  capabilities?: Resolver<ResolversTypes['SourceCapabilities'], ParentType, ContextType>;
  health?: Resolver<ResolversTypes['SourceHealth'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  kind?: Resolver<ResolversTypes['SourceKind'], ParentType, ContextType>;
  name?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type SourceCapabilitiesResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['SourceCapabilities'] = ResolversParentTypes['SourceCapabilities']> = {
  archive?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  attachments?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  createConversation?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  deleteConversation?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  deleteMessage?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  editMessage?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  exactUnreadCounts?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  labels?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  markRead?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  markUnread?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  maxAttachmentSize?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
  mute?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  pin?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  privateMessages?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  realtime?: Resolver<ResolversTypes['RealtimeMode'], ParentType, ContextType>;
  sendMessage?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  settableStatuses?: Resolver<Array<ResolversTypes['ConversationStatus']>, ParentType, ContextType>;
  unreadCounts?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  updateConversation?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
};

export type SourceHealthResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['SourceHealth'] = ResolversParentTypes['SourceHealth']> = {
  circuit?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  lastErrorCode?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  lastFailureAt?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  lastSuccessAt?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  status?: Resolver<ResolversTypes['SourceHealthStatus'], ParentType, ContextType>;
};

export type SourceUnreadCountResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['SourceUnreadCount'] = ResolversParentTypes['SourceUnreadCount']> = {
  conversationsWithUnread?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  source?: Resolver<ResolversTypes['Source'], ParentType, ContextType>;
  total?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type SubscriptionResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Subscription'] = ResolversParentTypes['Subscription']> = {
  conversationChanged?: SubscriptionResolver<ResolversTypes['Conversation'], "conversationChanged", ParentType, ContextType, Partial<SubscriptionConversationChangedArgs>>;
  conversationEvents?: SubscriptionResolver<ResolversTypes['ConversationEvent'], "conversationEvents", ParentType, ContextType, Partial<SubscriptionConversationEventsArgs>>;
  unreadCountChanged?: SubscriptionResolver<ResolversTypes['UnreadCount'], "unreadCountChanged", ParentType, ContextType, Partial<SubscriptionUnreadCountChangedArgs>>;
};

export type UnlinkParticipantPayloadResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['UnlinkParticipantPayload'] = ResolversParentTypes['UnlinkParticipantPayload']> = {
  formerPerson?: Resolver<Maybe<ResolversTypes['Person']>, ParentType, ContextType>;
  person?: Resolver<ResolversTypes['Person'], ParentType, ContextType>;
};

export type UnreadCountResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['UnreadCount'] = ResolversParentTypes['UnreadCount']> = {
  bySource?: Resolver<Array<ResolversTypes['SourceUnreadCount']>, ParentType, ContextType>;
  conversationsWithUnread?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  total?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type UploadFieldResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['UploadField'] = ResolversParentTypes['UploadField']> = {
  name?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  value?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
};

export type Resolvers<ContextType = GraphQLContext> = {
  Attachment?: AttachmentResolvers<ContextType>;
  AttachmentUpload?: AttachmentUploadResolvers<ContextType>;
  Conversation?: ConversationResolvers<ContextType>;
  ConversationConnection?: ConversationConnectionResolvers<ContextType>;
  ConversationDeleted?: ConversationDeletedResolvers<ContextType>;
  ConversationEdge?: ConversationEdgeResolvers<ContextType>;
  ConversationEvent?: ConversationEventResolvers<ContextType>;
  ConversationRead?: ConversationReadResolvers<ContextType>;
  ConversationUpdated?: ConversationUpdatedResolvers<ContextType>;
  DateTime?: GraphQLScalarType;
  DeletePayload?: DeletePayloadResolvers<ContextType>;
  LinkParticipantsPayload?: LinkParticipantsPayloadResolvers<ContextType>;
  Message?: MessageResolvers<ContextType>;
  MessageAdded?: MessageAddedResolvers<ContextType>;
  MessageConnection?: MessageConnectionResolvers<ContextType>;
  MessageDeleted?: MessageDeletedResolvers<ContextType>;
  MessageEdge?: MessageEdgeResolvers<ContextType>;
  MessageUpdated?: MessageUpdatedResolvers<ContextType>;
  Mutation?: MutationResolvers<ContextType>;
  Node?: NodeResolvers<ContextType>;
  PageInfo?: PageInfoResolvers<ContextType>;
  Participant?: ParticipantResolvers<ContextType>;
  Person?: PersonResolvers<ContextType>;
  PersonConnection?: PersonConnectionResolvers<ContextType>;
  PersonEdge?: PersonEdgeResolvers<ContextType>;
  Query?: QueryResolvers<ContextType>;
  ResyncRequired?: ResyncRequiredResolvers<ContextType>;
  Source?: SourceResolvers<ContextType>;
  SourceCapabilities?: SourceCapabilitiesResolvers<ContextType>;
  SourceHealth?: SourceHealthResolvers<ContextType>;
  SourceUnreadCount?: SourceUnreadCountResolvers<ContextType>;
  Subscription?: SubscriptionResolvers<ContextType>;
  UnlinkParticipantPayload?: UnlinkParticipantPayloadResolvers<ContextType>;
  UnreadCount?: UnreadCountResolvers<ContextType>;
  UploadField?: UploadFieldResolvers<ContextType>;
};

