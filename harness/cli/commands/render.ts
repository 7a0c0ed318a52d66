import type { CliIO } from '../io.js';

// Placeholder until the render command lands; it must not ship as a stub.
export async function renderCommand(_argv: string[], io: CliIO): Promise<number> {
  io.err('render: not implemented yet');
  return 2;
}
