/**
 * Windows: `SetThreadExecutionState(ES_CONTINUOUS | ES_SYSTEM_REQUIRED [| ES_DISPLAY_REQUIRED])`
 * holds while the calling thread lives, so a PowerShell helper calls it through P/Invoke, prints
 * the ready marker, then blocks reading stdin to its end: it ends (and the state with it) when we
 * release or when this process dies and its end of the pipe closes. The script goes as
 * -EncodedCommand (UTF-16LE base64), so no quoting can break it.
 */
import { READY_MARKER } from './held-process.js';

export const ES_CONTINUOUS = 0x80000000;
export const ES_SYSTEM_REQUIRED = 0x00000001;
export const ES_DISPLAY_REQUIRED = 0x00000002;

/** The flags passed to SetThreadExecutionState. */
export function executionStateFlags(display: boolean): number {
  return (ES_CONTINUOUS | ES_SYSTEM_REQUIRED | (display ? ES_DISPLAY_REQUIRED : 0)) >>> 0;
}

/** The PowerShell script the helper runs. */
export function executionStateScript(display: boolean): string {
  const flags = executionStateFlags(display);
  return [
    "$ErrorActionPreference = 'Stop'",
    `Add-Type -Namespace Lifeline -Name Power -MemberDefinition '[DllImport("kernel32.dll")] public static extern uint SetThreadExecutionState(uint esFlags);'`,
    `if ([Lifeline.Power]::SetThreadExecutionState([uint32]${flags}) -eq 0) { [Console]::Error.WriteLine('SetThreadExecutionState failed'); exit 3 }`,
    `[Console]::Out.WriteLine('${READY_MARKER}')`,
    '[Console]::Out.Flush()',
    '[void][Console]::In.ReadToEnd()',
    `[void][Lifeline.Power]::SetThreadExecutionState([uint32]${ES_CONTINUOUS >>> 0})`,
  ].join('\n');
}

/** The argv of the helper (exported so tests check it as built; it cannot run here). */
export function powershellCommand(display: boolean): { command: string; args: string[] } {
  const encoded = Buffer.from(executionStateScript(display), 'utf16le').toString('base64');
  return { command: 'powershell.exe', args: ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', encoded] };
}
