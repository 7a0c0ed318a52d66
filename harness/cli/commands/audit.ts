import type { CliIO } from '../io.js';

// Placeholder until the audit command lands; it must not ship as a stub.
export async function auditCommand(_argv: string[], io: CliIO): Promise<number> {
  io.err('audit: not implemented yet');
  return 2;
}
