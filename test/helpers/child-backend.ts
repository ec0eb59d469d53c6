/**
 * A backend in a child process (test/fixtures/delay-backend.mjs), to kill with SIGKILL (a
 * crashed backend: the kernel closes its sockets) or stop with SIGSTOP (a hung one: its kernel
 * still accepts and acknowledges). It reports every request it received on stdout.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';

const FIXTURE = resolve(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'delay-backend.mjs');

export interface ChildBackend {
  readonly port: number;
  readonly child: ChildProcess;
  /** Request ids received, in order (a POST delivered twice appears twice across backends). */
  readonly received: { method: string; id: string | null }[];
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  close(): Promise<void>;
}

export async function startChildBackend(name: string, delayMs: number): Promise<ChildBackend> {
  const child = spawn(process.execPath, [FIXTURE, name, String(delayMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const received: { method: string; id: string | null }[] = [];
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const port = await new Promise<number>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`backend ${name} did not start in 5 s`)), 5_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const event = JSON.parse(line) as { event: string; port?: number; method?: string; id?: string | null };
      if (event.event === 'listening') {
        clearTimeout(timer);
        done(event.port ?? 0);
      } else if (event.event === 'request') received.push({ method: event.method ?? '', id: event.id ?? null });
    });
    child.once('exit', () => fail(new Error(`backend ${name} exited before listening`)));
  });
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  return { port, child, received, kill, close: kill };
}
