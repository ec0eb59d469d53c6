/**
 * Requests and response ends of every policed `http.Server`, seen on Node's
 * `http.server.request.start` and `http.server.response.finish` diagnostics channels, not with
 * listeners: a second 'request' listener makes every emit copy the listener array, and a 'close'
 * listener per response is an add and a call per request.
 *
 * One subscriber per channel for the whole process (counted, unsubscribed with the last
 * observer); each message names its server, and the server names its observer.
 *
 * Node catches what a subscriber throws (a user's 'close' listener, say) and rethrows it on the
 * next tick as an uncaught exception, as it would have been from an event listener.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface HttpObserver {
  onRequestStart(socket: Socket, req: IncomingMessage, res: ServerResponse): void;
  onResponseFinish(socket: Socket, req: IncomingMessage): void;
}

const kObserver = Symbol('lifeline.httpObserver');
type Observed = Server & { [kObserver]?: HttpObserver };
/** What Node publishes on both channels. */
interface HttpMessage {
  request: IncomingMessage;
  response: ServerResponse;
  socket: Socket;
  server: Observed;
}
const REQUEST_START = 'http.server.request.start';
const RESPONSE_FINISH = 'http.server.response.finish';

let observers = 0;

const onRequestStart = (message: unknown): void => {
  const m = message as HttpMessage;
  m.server[kObserver]?.onRequestStart(m.socket, m.request, m.response);
};

const onResponseFinish = (message: unknown): void => {
  const m = message as HttpMessage;
  m.server[kObserver]?.onResponseFinish(m.socket, m.request);
};

/** Route `server`'s messages to `observer` until the returned function is called. */
export function observeHttpServer(server: Server, observer: HttpObserver): () => void {
  (server as Observed)[kObserver] = observer;
  if (observers++ === 0) {
    subscribe(REQUEST_START, onRequestStart);
    subscribe(RESPONSE_FINISH, onResponseFinish);
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const s = server as Observed;
    if (s[kObserver] === observer) delete s[kObserver];
    if (--observers === 0) {
      unsubscribe(REQUEST_START, onRequestStart);
      unsubscribe(RESPONSE_FINISH, onResponseFinish);
    }
  };
}
