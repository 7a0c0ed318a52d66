/**
 * The command line behaves the same for every command: `--help`/`-h` prints that command's help on stdout
 * with exit 0 (wherever it stands before `--`), the bin answers `--version`, and an unknown flag is exit 2
 * with a message that names the flag and lists exactly the flags the command accepts, which are exactly
 * the flags its help documents.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { CELL_OPTIONS } from '../../../harness/cli/args.js';
import { memoryIO } from '../../../harness/cli/io.js';
import { COMMAND_NAMES, main } from '../../../harness/cli/main.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const CELL_FLAGS = Object.keys(CELL_OPTIONS).map((o) => `--${o}`);

async function cli(argv: string[]) {
  const io = memoryIO();
  const code = await main(argv, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

/** The flags a help text documents: on its synopsis line and on lines that start with a flag. */
function documented(help: string): Set<string> {
  const lines = help.split('\n');
  const flagLines = [lines[0]!, ...lines.slice(1).filter((l) => /^\s+--[a-z]/.test(l))];
  const flags = new Set(flagLines.flatMap((l) => l.match(/--[a-z][a-z0-9-]*/g) ?? []));
  if (/cell options/.test(help)) for (const f of CELL_FLAGS) flags.add(f);
  flags.add('--help');
  return flags;
}

/** The flags an unknown-flag error lists after "valid options:". */
function listed(stderr: string): Set<string> {
  const m = /valid options: (.*)$/m.exec(stderr);
  expect(m, stderr).not.toBeNull();
  return new Set(m![1]!.match(/--[a-z][a-z0-9-]*/g) ?? []);
}

describe('every command', () => {
  it('the registry holds the documented commands', () => {
    expect([...COMMAND_NAMES].sort()).toEqual(
      ['audit', 'cleanup', 'collect', 'plan', 'policy', 'render', 'report', 'run', 'upgrade'].sort(),
    );
  });

  for (const name of COMMAND_NAMES) {
    it(`${name} --help and -h print its help on stdout, exit 0, also after other flags`, async () => {
      for (const argv of [
        [name, '--help'],
        [name, '-h'],
        [name, '--no-such-flag', '--help'],
      ]) {
        const r = await cli(argv);
        expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
        expect(r.stderr).toBe('');
        expect(r.stdout.startsWith(`calico-conformance ${name}`)).toBe(true);
      }
    });

    if (name === 'policy') continue;
    it(`${name}: an unknown flag is exit 2, naming it and exactly the flags the help documents`, async () => {
      const r = await cli([name, '--no-such-flag']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("Unknown option '--no-such-flag'");
      const help = (await cli([name, '--help'])).stdout;
      expect([...listed(r.stderr)].sort()).toEqual([...documented(help)].sort());
    });
  }

  it('policy: an unknown flag before the subcommand names it and the subcommands; after it, its flags', async () => {
    const top = await cli(['policy', '--no-such-flag']);
    expect(top.code).toBe(2);
    expect(top.stderr).toContain("Unknown option '--no-such-flag'");
    expect(top.stderr).toMatch(/subcommands: expect, list/);
    const help = (await cli(['policy', '--help'])).stdout;
    for (const sub of ['expect', 'list']) {
      const r = await cli(['policy', sub, '--no-such-flag']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`policy ${sub}: Unknown option '--no-such-flag'`);
      const line = help.split('\n').find((l) => l.trim().startsWith(`${sub} `))!;
      const doc = new Set([...(line.match(/--[a-z][a-z0-9-]*/g) ?? []), '--help']);
      expect([...listed(r.stderr)].sort()).toEqual([...doc].sort());
    }
    expect((await cli(['policy', 'list', '--help'])).code).toBe(0);
  });

  it('an unknown flag before any command names it, the two valid ones and the commands', async () => {
    const r = await cli(['--verbose', 'plan']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^Unknown option '--verbose' before the command; valid options: --help, --version; commands: plan, /,
    );
  });

  it('a near miss suggests the flag that was meant', async () => {
    const r = await cli(['plan', '--pod-cird', '10.0.0.0/16']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown option '--pod-cird' (did you mean --pod-cidr?)");
  });

  it('a missing value names the flag and lists the valid flags', async () => {
    const r = await cli(['report', '--from', 'a', '--out']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/report: option --out needs a value/);
    expect(listed(r.stderr)).toContain('--fail-on-failure');
  });

  it('--help after `--` is an argument, not a request for help', async () => {
    const r = await cli(['plan', '--', '--help']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/plan: unexpected argument "--help"/);
  });
});

describe('the bin', () => {
  it('answers --version with the package version, exit 0', async () => {
    expect(await cli(['--version'])).toEqual({
      code: 0,
      stdout: `calico-conformance ${VERSION}\n`,
      stderr: '',
    });
    const r = await execa(process.execPath, [join(ROOT, 'bin/calico-conformance.js'), '--version'], {
      reject: false,
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`calico-conformance ${VERSION}`);
  });

  it('plan --help through the bin', async () => {
    const r = await execa(process.execPath, [join(ROOT, 'bin/calico-conformance.js'), 'plan', '--help'], {
      reject: false,
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^calico-conformance plan /);
    expect(r.stdout).toContain('--pod-cidr');
  });
});
