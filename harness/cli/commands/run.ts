import type { CliIO } from '../io.js';

// Placeholder until the run command lands; it must not ship as a stub.
export async function runCommand(_argv: string[], io: CliIO): Promise<number> {
  io.err('run: not implemented yet');
  return 2;
}
