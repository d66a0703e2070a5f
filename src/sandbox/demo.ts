import type { Sandbox } from './index';

/**
 * # Demo traffic (the embedded default's "alive" mode)
 *
 * Simulated clients write into random conversations of random vendors every few seconds, and now and then
 * somebody reads a conversation in the vendor's own UI, all through each emulator's control API over HTTP
 * (`POST /__sandbox/simulate/incoming`, `POST /__sandbox/simulate/read`), exactly as a test or a person with curl
 * would. The emulators then do what the vendors do: Protocol and Chatwoot post their webhooks to the gateway
 * (signed, unsigned), Pixieset and Monica wait to be polled. An `unreadCountChanged` subscription in GraphiQL
 * ticks within a second for webhook sources and within a poll interval for the others.
 *
 * Started by `npm start` without a config (src/index.ts) unless SANDBOX_DEMO=0; never by tests unless they ask.
 */
export interface DemoTrafficOptions {
  /** Mean pause between two simulated events (each pause is jittered ±50 %). @default 3000 */
  intervalMs?: number;
  /** Share of events that are reads of a conversation written to earlier (vendors with read state). @default 0.25 */
  readShare?: number;
  /** Reports failed control calls (an emulator closing, ...); the traffic goes on. */
  onError?: (error: unknown) => void;
}

const LINES = [
  'Hi! Quick question about my booking.',
  'Thanks so much, the photos look amazing!',
  'Can we move our call to tomorrow?',
  'Just sent the signed contract.',
  'Is the gallery ready yet?',
  'Could you send the invoice again?',
  'Love it! 😍',
  'Are you free this weekend?',
];

const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(Math.random() * xs.length)];

/** The conversation a control call's answer names (every vendor puts `conversation_id` on the message). */
function conversationOf(answer: unknown): string | null {
  const o = answer as { conversation_id?: unknown; data?: { conversation_id?: unknown } } | null;
  const id = o?.conversation_id ?? o?.data?.conversation_id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : null;
}

/** Starts the traffic; the returned function stops it and resolves once the call in flight (if any) ended. */
export function startDemoTraffic(sandbox: Sandbox, opts: DemoTrafficOptions = {}): () => Promise<void> {
  const intervalMs = opts.intervalMs ?? 3000;
  const readShare = opts.readShare ?? 0.25;
  /** Conversations written to per emulator: reads pick among them, so a read clears a badge that ticked up. */
  const written = new Map<string, string[]>();
  let timer: NodeJS.Timeout | null = null;
  let inflight: Promise<void> | null = null;
  let stopped = false;

  const control = async (baseUrl: string, path: string, body: unknown): Promise<unknown> => {
    const res = await fetch(`${baseUrl}/__sandbox${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    return res.json() as Promise<unknown>;
  };

  const once = async () => {
    const [id, handle] = pick([...sandbox.emulators]) ?? [];
    if (!id || !handle) return;
    const candidates = written.get(id) ?? [];
    const conversationId = pick(candidates);
    // Monica has no read state (its control answers null), so reading there would change nothing.
    if (conversationId && id !== 'monica' && Math.random() < readShare) {
      await control(handle.url, '/simulate/read', { conversationId });
      written.set(
        id,
        candidates.filter((c) => c !== conversationId),
      );
      return;
    }
    const answer = await control(handle.url, '/simulate/incoming', { content: pick(LINES) });
    const conversation = conversationOf(answer);
    if (conversation && !candidates.includes(conversation)) written.set(id, [...candidates, conversation].slice(-20));
  };

  const next = () => {
    if (stopped) return;
    timer = setTimeout(
      () => {
        timer = null;
        inflight = once()
          .catch((e: unknown) => opts.onError?.(e))
          .finally(() => {
            inflight = null;
            next();
          });
      },
      intervalMs * (0.5 + Math.random()),
    );
    timer.unref();
  };
  next();

  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    timer = null;
    await inflight;
  };
}
