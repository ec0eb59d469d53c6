/**
 * `heartbeat(wss, { intervalMs, timeoutMs })`: ping WebSocket peers of a `ws` server when they go
 * silent, and `terminate()` a peer whose pong does not come.
 *
 * Why not the `ws` README's interval: that pings every client every interval whether or not it
 * spoke, and waits a whole interval for the pong. Here each peer has a core Heartbeat: any inbound
 * message, ping or pong is proof of life, a ping goes out only after `intervalMs` of silence, and a
 * peer that went silent is terminated within intervalMs + timeoutMs (plus timer lateness).
 *
 * Invariants: one Heartbeat (one unref'd timer) per open peer, closed when the peer closes;
 * close() stops them all and leaves peers connected.
 */
import type { WebSocket, WebSocketServer } from 'ws';
import type { Clock } from '../../core/clock.js';
import { Heartbeat } from '../../core/heartbeat.js';
import { clockOption, integerOption, rejectUnknown, requiredIntegerOption } from '../../core/options.js';

export interface WebSocketHeartbeatOptions {
  /** Silence (no message, ping or pong from the peer) after which it is pinged, ms. Required. */
  intervalMs: number;
  /** How long the pong may take before the peer is terminated, ms. Required. */
  timeoutMs: number;
  /** Unanswered pings in a row before terminate(). Default 1. */
  missedLimit?: number;
  clock?: Clock;
}

export interface WebSocketHeartbeatStats {
  /** Peers watched now. */
  open: number;
  pingsSent: number;
  /** Peers terminated for a missing pong. */
  terminated: number;
}

export interface WebSocketHeartbeat {
  stats(): WebSocketHeartbeatStats;
  /** Stop watching (timers and listeners); peers stay connected. */
  close(): void;
}

/**
 * @example
 *   const wss = new WebSocketServer({ server });
 *   const hb = heartbeat(wss, { intervalMs: 25_000, timeoutMs: 10_000 });
 *   // ... on shutdown: hb.close();
 */
export function heartbeat(wss: WebSocketServer, options: WebSocketHeartbeatOptions): WebSocketHeartbeat {
  const W = 'heartbeat';
  const o = rejectUnknown(W, options, ['intervalMs', 'timeoutMs', 'missedLimit', 'clock']);
  const intervalMs = requiredIntegerOption(W, o, 'intervalMs', { min: 1, max: 2 ** 31 - 1 });
  const timeoutMs = requiredIntegerOption(W, o, 'timeoutMs', { min: 1, max: 2 ** 31 - 1 });
  const missedLimit = integerOption(W, o, 'missedLimit', 1, { min: 1, max: 1000 });
  const clock = clockOption(W, o);
  const peers = new Map<WebSocket, { hb: Heartbeat; off: () => void }>();
  let pingsSent = 0;
  let terminated = 0;
  let closed = false;

  const watch = (ws: WebSocket): void => {
    if (closed || peers.has(ws)) return;
    const hb = new Heartbeat({
      intervalMs,
      timeoutMs,
      missedLimit,
      clock,
      sendPing: () => {
        pingsSent += 1;
        ws.ping();
      },
      onError: () => undefined,
    });
    const alive = (): void => hb.received();
    const pong = (): void => hb.pong();
    const gone = (): void => {
      off();
      peers.delete(ws);
    };
    const off = (): void => {
      hb.close();
      ws.off('message', alive);
      ws.off('ping', alive);
      ws.off('pong', pong);
      ws.off('close', gone);
    };
    hb.once('dead', () => {
      terminated += 1;
      gone();
      ws.terminate();
    });
    ws.on('message', alive);
    ws.on('ping', alive);
    ws.on('pong', pong);
    ws.on('close', gone);
    peers.set(ws, { hb, off });
    hb.start();
  };

  for (const ws of wss.clients) watch(ws);
  wss.on('connection', watch);

  return {
    stats: () => ({ open: peers.size, pingsSent, terminated }),
    close: () => {
      if (closed) return;
      closed = true;
      wss.off('connection', watch);
      for (const { off } of peers.values()) off();
      peers.clear();
    },
  };
}
