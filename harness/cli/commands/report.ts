import type { CliIO } from '../io.js';

// Placeholder until the report command lands; it must not ship as a stub.
export async function reportCommand(_argv: string[], io: CliIO): Promise<number> {
  io.err('report: not implemented yet');
  return 2;
}
