/**
 * Client side of the agent tests: one request through an agent as a promise that never rejects,
 * and "lanes" of spaced requests for the race trials.
 */
import { request as httpRequest } from 'node:http';
import type { Agent, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Outcome {
  status: number | undefined;
  connectionId: string | undefined;
  reused: boolean;
  body: string;
  error: (Error & { code?: string }) | undefined;
}

export interface SendOptions {
  method?: string;
  path?: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** HTTPS with this CA (servername localhost). */
  ca?: Buffer;
}

/**
 * Send one request through `agent` to 127.0.0.1:port and collect the answer or the error.
 * @example const r = await send(agent, port); assert.equal(r.error, undefined);
 */
export function send(agent: Agent, port: number, options: SendOptions = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const common = { host: '127.0.0.1', port, path: options.path ?? '/', method: options.method ?? 'GET', agent, headers: options.headers ?? {} };
    const onResponse = (res: IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('error', (error: Error) => resolve({ status: res.statusCode, connectionId: undefined, reused: req.reusedSocket, body, error }));
      res.on('end', () => {
        const id = res.headers['x-connection-id'];
        resolve({ status: res.statusCode, connectionId: typeof id === 'string' ? id : undefined, reused: req.reusedSocket, body, error: undefined });
      });
    };
    const req =
      options.ca === undefined
        ? httpRequest(common, onResponse)
        : httpsRequest({ ...common, ca: options.ca, servername: 'localhost' }, onResponse);
    req.on('error', (error: Error) => resolve({ status: undefined, connectionId: undefined, reused: req.reusedSocket, body: '', error }));
    req.end(options.body);
  });
}

export interface LaneResult {
  requests: number;
  failures: number;
  /** Failure codes (or messages) and how often each happened. */
  codes: Record<string, number>;
}

/**
 * `perLane` GETs on each port in `ports`, each lane sequential, requests spaced `spacingMs`
 * +- `jitterMs` (uniform) after the previous response. All lanes run at once.
 */
export async function runLanes(agent: Agent, ports: readonly number[], perLane: number, spacingMs: number, jitterMs: number): Promise<LaneResult> {
  const result: LaneResult = { requests: 0, failures: 0, codes: {} };
  await Promise.all(
    ports.map(async (port) => {
      for (let i = 0; i < perLane; i++) {
        const outcome = await send(agent, port);
        result.requests++;
        if (outcome.error !== undefined || outcome.status !== 200) {
          result.failures++;
          const code = outcome.error?.code ?? outcome.error?.message ?? `status ${String(outcome.status)}`;
          result.codes[code] = (result.codes[code] ?? 0) + 1;
        }
        await sleep(spacingMs + Math.round((Math.random() * 2 - 1) * jitterMs));
      }
    }),
  );
  return result;
}
