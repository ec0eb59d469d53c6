/**
 * macOS: `caffeinate -i [-d] -w PID` holds a power assertion (idle sleep; `-d` also the display)
 * until process PID exits. We pass our own pid, so the assertion can never outlive us, and
 * release by ending caffeinate.
 */
export interface CaffeinateSpec {
  display: boolean;
  /** The process whose life bounds the assertion (default: this one). */
  pid: number;
}

/** The argv of caffeinate (exported so tests check it as built; it cannot run here). */
export function caffeinateCommand(spec: CaffeinateSpec): { command: string; args: string[] } {
  return { command: 'caffeinate', args: ['-i', ...(spec.display ? ['-d'] : []), '-w', String(spec.pid)] };
}
