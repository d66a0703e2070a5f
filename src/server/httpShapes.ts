import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';

/**
 * V8 tracks the first constructions of an object kind ("in-object slack tracking") before it settles how many
 * fields live inside the object. This many constructions end the tracking (V8's `kSlackTrackingCounterStart`, 7).
 */
export const SLACK_TRACKING_CONSTRUCTIONS = 7;

/**
 * Settles the object shapes of Node's `IncomingMessage` and `ServerResponse` before the gateway serves anything.
 *
 * Measured on Node 20.20 (V8 11.3): when a full garbage collection runs while exactly six responses have been
 * constructed (in the middle of V8's slack tracking), every later `ServerResponse` is born with its properties in
 * a dictionary (3.1 KB of heap each instead of none), and every `IncomingMessage` falls into one too when Express
 * sets its prototype (1.6 KB). Slower property access on every request, and 4.7 KB more per open response: an
 * event stream holds its request and response for as long as it is open (issue 14, SSE memory per subscriber).
 * Which request a full GC lands on is chance (the bench's memory baseline hit it every time); constructing the
 * pair {@link SLACK_TRACKING_CONSTRUCTIONS} + 1 times, synchronously, before the server listens ends the tracking
 * with no GC in between. Unconnected sockets: no file descriptor, nothing to close but the objects.
 * Test: test/server/http-shapes.test.ts.
 */
export function settleHttpShapes(): void {
  for (let i = 0; i <= SLACK_TRACKING_CONSTRUCTIONS; i++) {
    const socket = new Socket();
    const res = new ServerResponse(new IncomingMessage(socket));
    res.destroy();
    socket.destroy();
  }
}
