/** Every sub-command, in the order `lifeline --help` lists them. Add one line per command file. */
import type { Command } from '../command.js';

export const commands: readonly Command[] = [];
