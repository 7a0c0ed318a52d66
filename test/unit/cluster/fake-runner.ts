/** A ProcessRunner double: records each command and answers from a script (first matching rule wins). */
import type { ProcessRunner, RunOptions, RunResult } from '../../../harness/exec/process.js';

export interface Rule {
  match: (cmd: string, args: readonly string[]) => boolean;
  reply:
    | Partial<RunResult>
    | ((cmd: string, args: readonly string[], opts?: RunOptions) => Partial<RunResult>);
}

export class FakeRunner implements ProcessRunner {
  readonly calls: { cmd: string; args: string[]; opts?: RunOptions }[] = [];
  rules: Rule[] = [];

  on(match: (line: string) => boolean, reply: Rule['reply']): this {
    this.rules.push({ match: (c, a) => match([c, ...a].join(' ')), reply });
    return this;
  }

  lines(): string[] {
    return this.calls.map((c) => [c.cmd, ...c.args].join(' '));
  }

  async run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    this.calls.push({ cmd, args: [...args], ...(opts ? { opts } : {}) });
    const rule = this.rules.find((r) => r.match(cmd, args));
    const r = rule ? (typeof rule.reply === 'function' ? rule.reply(cmd, args, opts) : rule.reply) : {};
    return { command: cmd, args, exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1, ...r };
  }
}
