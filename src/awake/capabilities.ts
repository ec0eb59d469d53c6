/**
 * Which ways of keeping this computer awake are available here, and why not, for `lifeline
 * doctor`. Looks only (PATH, environment, the system bus socket): it takes no inhibitor.
 */
import { existsSync } from 'node:fs';
import { findOnPath } from './keep-awake.js';

export interface AwakeCapability {
  mechanism: string;
  available: boolean;
  detail: string;
}

const SYSTEM_BUS_SOCKET = '/run/dbus/system_bus_socket';

/**
 * @example
 *   for (const c of awakeCapabilities()) console.log(c.mechanism, c.available, c.detail);
 */
export function awakeCapabilities(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): AwakeCapability[] {
  if (platform === 'linux') {
    const inhibit = findOnPath('systemd-inhibit', env.PATH);
    const systemBus = env.LIFELINE_SYSTEM_BUS_ADDRESS || env.DBUS_SYSTEM_BUS_ADDRESS || (existsSync(SYSTEM_BUS_SOCKET) ? `unix:path=${SYSTEM_BUS_SOCKET}` : undefined);
    const sessionBus = env.DBUS_SESSION_BUS_ADDRESS || undefined;
    return [
      {
        mechanism: 'logind (D-Bus system bus)',
        available: inhibit !== undefined && systemBus !== undefined,
        detail: inhibit === undefined ? 'systemd-inhibit is not on PATH (no systemd here?)' : systemBus === undefined ? `no system bus: ${SYSTEM_BUS_SOCKET} is missing and DBUS_SYSTEM_BUS_ADDRESS is unset` : `${inhibit}, bus ${systemBus}`,
      },
      {
        mechanism: 'ScreenSaver (D-Bus session bus)',
        available: sessionBus !== undefined,
        detail: sessionBus === undefined ? 'DBUS_SESSION_BUS_ADDRESS is unset (no desktop session)' : `bus ${sessionBus}`,
      },
    ];
  }
  if (platform === 'darwin') {
    const caffeinate = findOnPath('caffeinate', env.PATH);
    return [{ mechanism: 'caffeinate', available: caffeinate !== undefined, detail: caffeinate ?? 'caffeinate is not on PATH' }];
  }
  if (platform === 'win32') {
    const ps = findOnPath('powershell.exe', env.PATH) ?? findOnPath('pwsh.exe', env.PATH);
    return [{ mechanism: 'SetThreadExecutionState (PowerShell)', available: ps !== undefined, detail: ps ?? 'powershell.exe is not on PATH' }];
  }
  return [{ mechanism: 'none', available: false, detail: `no keep-awake mechanism for ${platform}` }];
}
