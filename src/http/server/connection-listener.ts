/**
 * Taking the place of Node's HTTP connection listener on a server, and giving it back.
 *
 * The policy must see every accepted socket before HTTP does (to hold or refuse it at the cap),
 * so its dispatcher replaces Node's listener at the same position; every other listener stays,
 * in order. Listeners are taken with `rawListeners()`, not `listeners()`: the latter unwraps a
 * `once()` listener, and putting that back with `on()` would make a user's one-shot listener
 * permanent. The raw once-wrapper re-added with `on()` still removes itself when it fires.
 */
import type { EventEmitter } from 'node:events';
import { findNodeConnectionListener } from './node-internals.js';

export type Listener = (...args: unknown[]) => void;

export interface TakenListener {
  /** Node's listener, for the dispatcher to hand admitted sockets to (undefined if none). */
  readonly node: Listener | undefined;
  /** Put Node's listener back in the dispatcher's place, keeping every other listener as it is now. */
  restore(): void;
}

/**
 * @example
 *   const taken = takeConnectionListener(server, 'connection', onConnection);
 *   // ... taken.node?.call(server, socket) for each admitted socket; at close:
 *   taken.restore();
 */
export function takeConnectionListener(emitter: EventEmitter, event: string, dispatcher: Listener): TakenListener {
  const original = emitter.rawListeners(event) as Listener[];
  const node = findNodeConnectionListener(original);
  emitter.removeAllListeners(event);
  for (const l of original) emitter.on(event, l === node ? dispatcher : l);
  if (node === undefined) emitter.on(event, dispatcher);
  return {
    node,
    restore(): void {
      const current = emitter.rawListeners(event) as Listener[];
      emitter.removeAllListeners(event);
      for (const l of current) {
        if (l !== dispatcher) emitter.on(event, l);
        else if (node !== undefined) emitter.on(event, node);
      }
    },
  };
}
