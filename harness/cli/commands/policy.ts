/**
 * `policy expect --model FILE --policies FILE [--output text|json]`: the expected truth table.
 * `policy list [--select REGEX] [--tag TAG]`: the scenario catalogue.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ExitCode, UsageError } from '../../errors.js';
import { formatGridView } from '../../policy/grid-text.js';
import { expectTruthTable, type TruthTable } from '../../policy/oracle.js';
import { parseModel, parsePolicies } from '../../policy/parse.js';
import { selectScenarios } from '../../policy/scenarios.js';
import { GRID_LEGEND_PARTS, SELF_SYMBOL } from '../../probe/grid.js';
import { outputFormat, parseCommandArgs } from '../args.js';
import type { CliIO } from '../io.js';

export const policyHelp = `calico-conformance policy <subcommand>
  expect --model FILE --policies FILE [--output text|json]
      prints the expected truth table: every ordered pair of distinct pods × every port, with
      egress (the source side allows), ingress (the destination side allows) and allowed (both)
  list [--select REGEX] [--tag TAG] [--output text|json]
      lists the policy scenario catalogue`;

function readInput(io: CliIO, flag: string, value: unknown): { text: string; path: string } {
  if (typeof value !== 'string' || value === '')
    throw new UsageError(`policy expect: --${flag} FILE is required`, flag);
  const path = resolve(io.cwd, value);
  try {
    return { text: readFileSync(path, 'utf8'), path: value };
  } catch (err) {
    throw new UsageError(`policy expect --${flag}: cannot read ${value}: ${(err as Error).message}`, flag);
  }
}

function printJson(io: CliIO, table: TruthTable): void {
  io.out('{"probes":[');
  let chunk: string[] = [];
  let first = true;
  for (const e of table.entries()) {
    chunk.push(`${first ? '' : ','}${JSON.stringify(e)}`);
    first = false;
    if (chunk.length === 10_000) {
      io.out(`${chunk.join('\n')}\n`);
      chunk = [];
    }
  }
  if (chunk.length > 0) io.out(`${chunk.join('\n')}\n`);
  io.out(']}');
}

function printText(io: CliIO, table: TruthTable, policies: number): void {
  const allowed = table.allowedCount();
  io.out(
    `${table.peers.length} pods, ${table.ports.length} ports, ${policies} ${policies === 1 ? 'policy' : 'policies'}: ` +
      `${allowed} of ${table.size} probes allowed`,
  );
  const legend = [...GRID_LEGEND_PARTS.expected, { symbol: SELF_SYMBOL, meaning: 'self' }];
  io.out(`${legend.map((e) => `${e.symbol} ${e.meaning}`).join('  ')} (rows: from, columns: to)`);
  table.ports.forEach((p, q) => {
    const grid = table.grid(q);
    io.out('');
    io.out(`${p.protocol}/${p.port}${p.name ? ` (${p.name})` : ''}`);
    io.out(formatGridView(grid, 'expected').split('\n').slice(1).join('\n'));
  });
}

async function expectCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('policy expect', argv, {
    model: { type: 'string' },
    policies: { type: 'string' },
    output: { type: 'string' },
  });
  const format = outputFormat('policy expect', values.output);
  const modelIn = readInput(io, 'model', values.model);
  const policiesIn = readInput(io, 'policies', values.policies);
  const model = parseModel(modelIn.text, modelIn.path);
  const policies = parsePolicies(policiesIn.text, policiesIn.path);
  const table = expectTruthTable(model, policies);
  if (format === 'json') printJson(io, table);
  else printText(io, table, policies.length);
  return ExitCode.Ok;
}

async function listCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('policy list', argv, {
    select: { type: 'string' },
    tag: { type: 'string', multiple: true },
    output: { type: 'string' },
  });
  const format = outputFormat('policy list', values.output);
  const scenarios = selectScenarios({
    ...(typeof values.select === 'string' ? { name: values.select } : {}),
    ...(Array.isArray(values.tag) ? { tags: values.tag as string[] } : {}),
  });
  if (format === 'json') {
    io.out(
      JSON.stringify(
        {
          scenarios: scenarios.map((s) => ({
            name: s.name,
            tags: s.tags,
            description: s.description,
            policies: s.policies.length,
          })),
        },
        null,
        2,
      ),
    );
    return ExitCode.Ok;
  }
  const width = Math.max(0, ...scenarios.map((s) => s.name.length));
  for (const s of scenarios) io.out(`${s.name.padEnd(width)}  [${s.tags.join(', ')}]  ${s.description}`);
  io.out(`${scenarios.length} scenario${scenarios.length === 1 ? '' : 's'}`);
  return ExitCode.Ok;
}

export async function policyCommand(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'expect') return expectCommand(rest, io);
  if (sub === 'list') return listCommand(rest, io);
  if (sub === 'help') {
    io.out(policyHelp);
    return ExitCode.Ok;
  }
  const problem =
    sub === undefined
      ? 'a subcommand is required'
      : sub.startsWith('-')
        ? `Unknown option '${sub}' (the subcommand comes first)`
        : `unknown subcommand ${JSON.stringify(sub)}`;
  throw new UsageError(`policy: ${problem}; subcommands: expect, list\n${policyHelp}`, 'subcommand');
}
