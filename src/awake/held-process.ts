/**
 * HeldProcess: a helper process that holds an inhibitor for as long as it runs (systemd-inhibit
 * holding logind's descriptor, caffeinate, a PowerShell that set the thread execution state).
 *
 * The helper's stdin is a pipe from us that we never write to. The helper waits for EOF on it,
 * so it ends when we release *or when this process dies in any way* (even SIGKILL): the kernel
 * closes our end and the inhibitor goes with the helper. Everything is unref'd: holding the
 * machine awake is never the reason this process stays alive.
 *
 * Readiness: the helper prints a marker line once it holds the inhibitor; exiting before that
 * is a failure, reported with its stderr.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';

export const READY_MARKER = 'lifeline-inhibit-ready';

export interface HeldProcessSpec {
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Wait for READY_MARKER on stdout (default true); false: ready once spawned and alive `settleMs`. */
  marker?: boolean;
  settleMs?: number;
  timeoutMs: number;
  /** How release() asks the helper to end: close its stdin (default) or send SIGTERM (for
   * helpers that do not read stdin, such as caffeinate, which watches our pid instead). */
  stopWith?: 'eof' | 'SIGTERM';
}

export interface HeldProcessEvents {
  /** The helper ended without being asked to: the inhibitor is gone. */
  exit: [description: string];
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `killed by ${signal}` : `exited with code ${code ?? '?'}`;
}

export class HeldProcess extends EventEmitter<HeldProcessEvents> {
  readonly child: ChildProcess;
  #releasing = false;
  #exited: Promise<void>;
  readonly #stopWith: 'eof' | 'SIGTERM';

  private constructor(child: ChildProcess, stopWith: 'eof' | 'SIGTERM') {
    super();
    this.child = child;
    this.#stopWith = stopWith;
    this.#exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    child.once('exit', (code, signal) => {
      if (!this.#releasing) this.emit('exit', describeExit(code, signal));
    });
  }

  /** Start the helper and resolve once it holds the inhibitor. */
  static start(spec: HeldProcessSpec): Promise<HeldProcess> {
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(spec.command, [...spec.args], { stdio: ['pipe', 'pipe', 'pipe'], env: spec.env ?? process.env, windowsHide: true });
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      let stdout = '';
      let stderr = '';
      let settled = false;
      const finish = (error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.stdout?.removeAllListeners('data');
        if (error !== undefined) {
          child.kill('SIGKILL');
          reject(error);
          return;
        }
        const held = new HeldProcess(child, spec.stopWith ?? 'eof');
        // From here on nothing of ours keeps the event loop alive.
        child.unref();
        for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(held);
      };
      const timer = setTimeout(() => finish(new Error(`no answer within ${spec.timeoutMs} ms`)), spec.timeoutMs);
      timer.unref();
      child.stdin?.on('error', () => {}); // EPIPE if the helper is gone
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (spec.marker !== false && stdout.includes(READY_MARKER)) finish();
      });
      child.once('error', (error) => finish(error));
      child.once('exit', (code, signal) => {
        const text = stderr.trim().split('\n').filter((l) => l !== '').slice(-3).join(' / ');
        finish(new Error(`${spec.command} ${describeExit(code, signal)}${text === '' ? '' : `: ${text}`}`));
      });
      if (spec.marker === false) {
        child.once('spawn', () => {
          const settle = setTimeout(() => finish(), spec.settleMs ?? 100);
          settle.unref();
        });
      }
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Close the helper's stdin so it exits; SIGTERM after `graceMs`, SIGKILL after twice that. */
  async release(graceMs = 1000): Promise<void> {
    this.#releasing = true;
    if (!this.running) return;
    this.child.stdin?.end();
    if (this.#stopWith === 'SIGTERM') this.child.kill('SIGTERM');
    const term = setTimeout(() => this.child.kill('SIGTERM'), graceMs);
    const kill = setTimeout(() => this.child.kill('SIGKILL'), 2 * graceMs);
    await this.#exited;
    clearTimeout(term);
    clearTimeout(kill);
  }
}
