/** What `lifeline tunnel server` and `client` share: tokens, logging, waiting for a signal. */
import type { CliIo } from '../../command.js';
import type { Settings } from './settings.js';

/** The shortest token the server accepts (the library's rule), said in the user's terms. */
const MIN_TOKEN = 16;
const TOKEN_HINT = `a token must be at least ${MIN_TOKEN} characters (make one with: openssl rand -hex 32)`;

/**
 * Tokens from setting `key` (`--token`), `tokenFile` (one a line, `#` comments) and, when neither
 * gives one, LIFELINE_TUNNEL_TOKEN. A short one is a problem named where it was written.
 */
export function collectTokens(s: Settings, key: 'tokens' | 'token'): string[] {
  const tokens: string[] = [];
  for (const t of s.list(key)) {
    if (t.length < MIN_TOKEN) s.problem(key, `${TOKEN_HINT}; this one has ${t.length}`);
    else tokens.push(t);
  }
  const text = s.readFile('tokenFile');
  if (text !== undefined) {
    for (const [i, raw] of text.split('\n').entries()) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      if (line.length < MIN_TOKEN) s.problem('tokenFile', `${s.str('tokenFile') ?? ''} line ${i + 1}: ${TOKEN_HINT}; this one has ${line.length}`);
      else tokens.push(line);
    }
  }
  const env = process.env.LIFELINE_TUNNEL_TOKEN;
  if (tokens.length === 0 && env !== undefined && env !== '') {
    if (env.length < MIN_TOKEN) s.general(`LIFELINE_TUNNEL_TOKEN: ${TOKEN_HINT}; it has ${env.length}`);
    else tokens.push(env);
  }
  return tokens;
}

export type Log = (event: string, fields: Record<string, unknown>, text: string) => void;

export function logger(io: CliIo, format: string | undefined): Log {
  return (event, fields, text) => {
    if (format === 'json') io.out(`${JSON.stringify({ t: Date.now(), event, ...fields })}\n`);
    else io.out(`${new Date().toISOString()} ${text}\n`);
  };
}

/** Resolve on SIGINT or SIGTERM (removing the handlers), or when `stop` is called. */
export function untilSignal(): { done: Promise<string>; stop(reason: string): void } {
  let finish: (reason: string) => void = () => undefined;
  const done = new Promise<string>((resolve) => {
    const on = (signal: string): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    finish = on;
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
  return { done, stop: (reason) => finish(reason) };
}
