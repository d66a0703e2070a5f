/**
 * The operations GraphiQL opens with. One document with named operations, so the execute button offers a menu;
 * every field here exists in schema/*.graphql (test/e2e/graphiql.test.ts runs Sources, People and UnreadBadge).
 */
export const EXAMPLE_OPERATIONS = `# Switchboard: one inbox over every configured source.
#
# Run an operation with the execute button (it asks which one) or Ctrl-Enter inside it.
# Thread needs a variable: copy a conversation id from Inbox into the variables editor,
# for example { "id": "<id>" }. UnreadBadge keeps running (over WebSocket) until you stop it.
# People shows one person across sources: in the sandbox, Maya Lindqvist is in several of them.

query Inbox {
  conversations(first: 20) {
    edges {
      cursor
      node {
        id
        source { id kind name }
        subject
        status
        unreadCount
        lastMessageAt
        participants { id name kind }
        lastMessage {
          content
          sentAt
          direction
          sender { name }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}

query Thread($id: ID!) {
  conversation(id: $id) {
    id
    subject
    status
    messages(last: 50) {
      edges {
        node {
          id
          content
          sentAt
          direction
          private
          sender { name }
          attachments { filename contentType size url }
        }
      }
    }
  }
}

query People {
  people(first: 10) {
    nodes {
      id
      displayName
      emails
      phones
      unreadCount
      lastMessageAt
      participants { id name email phone kind }
      conversations(first: 5) {
        nodes {
          id
          source { id name }
          subject
          lastMessage { content sentAt direction }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}

subscription UnreadBadge {
  unreadCountChanged {
    total
    conversationsWithUnread
    bySource {
      source { id name }
      total
    }
  }
}

query Sources {
  sources {
    id
    kind
    name
    capabilities {
      unreadCounts
      exactUnreadCounts
      markRead
      markUnread
      createConversation
      updateConversation
      deleteConversation
      sendMessage
      editMessage
      deleteMessage
      attachments
      maxAttachmentSize
      mute
      pin
      archive
      labels
      privateMessages
      settableStatuses
      realtime
    }
    health { status circuit }
  }
}
`;
