import type { CliIO } from '../io.js';

// Placeholder until the cleanup command lands; it must not ship as a stub.
export async function cleanupCommand(_argv: string[], io: CliIO): Promise<number> {
  io.err('cleanup: not implemented yet');
  return 2;
}
