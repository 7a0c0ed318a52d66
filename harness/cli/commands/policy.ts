import type { CliIO } from '../io.js';

// Placeholder until the policy command lands; it must not ship as a stub.
export async function policyCommand(_argv: string[], io: CliIO): Promise<number> {
  io.err('policy: not implemented yet');
  return 2;
}
