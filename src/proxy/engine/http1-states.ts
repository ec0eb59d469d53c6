/**
 * The states of an HTTP/1.1 client connection and the moves between them:
 *   head -> exchange -> idle -> head ...; exchange -> tunnel; any -> lingering -> closed; any -> closed
 * `head`: reading a request head (headers timeout); `idle`: between requests (idle timeout);
 * `exchange`: one Exchange in flight (its phase gives the deadline's meaning); `tunnel`: bytes
 * both ways; `lingering`: our FIN is out, waiting for the client's (LINGER_MS at most).
 */
export type Http1State = 'head' | 'idle' | 'exchange' | 'tunnel' | 'lingering' | 'closed';

/** The moves a client connection may make (the listener's StateTable enforces them). */
export const HTTP1_TRANSITIONS: Readonly<Record<Http1State, readonly Http1State[]>> = {
  head: ['exchange', 'lingering', 'closed'],
  idle: ['head', 'lingering', 'closed'],
  exchange: ['idle', 'tunnel', 'lingering', 'closed'],
  tunnel: ['lingering', 'closed'],
  lingering: ['closed'],
  closed: [],
};

