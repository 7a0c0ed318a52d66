import type { CliIO } from '../io.js';

// Placeholder until the upgrade command lands; it must not ship as a stub.
export async function upgradeCommand(_argv: string[], io: CliIO): Promise<number> {
  io.err('upgrade: not implemented yet');
  return 2;
}
