import type { CliIO } from '../io.js';

// Placeholder until the collect command lands; it must not ship as a stub.
export async function collectCommand(_argv: string[], io: CliIO): Promise<number> {
  io.err('collect: not implemented yet');
  return 2;
}
