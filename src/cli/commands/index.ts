/** Every sub-command, in the order `lifeline --help` lists them. Add one line per command file. */
import type { Command } from '../command.js';
import { proxyCommand } from './proxy.js';
import { tunnelCommand } from './tunnel/index.js';
import { awakeCommand } from './awake.js';
import { leaseCommand } from './lease.js';
import { probeCommand } from './probe.js';
import { doctorCommand } from './doctor.js';

export const commands: readonly Command[] = [proxyCommand, tunnelCommand, awakeCommand, leaseCommand, probeCommand, doctorCommand];
