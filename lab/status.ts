/**
 * `npm run lab:status`: one line per part of the lab (built, or missing and why), then a summary line.
 * Exit 0 only when every part is built: `.ci/run` sets REQUIRE_LAB=1 exactly then.
 */
import { labStatus } from '../harness/lab/status.js';

const status = await labStatus();
for (const p of status.parts) {
  const state = p.built ? 'built   ' : p.optional ? 'optional' : 'MISSING ';
  console.log(
    `${state} ${p.name}${p.detail ? ` — ${p.detail}` : ''}${!p.built && p.optional ? `; ${p.optional}` : ''}`,
  );
}
console.log(
  status.complete
    ? `lab complete (${status.root})`
    : `lab incomplete: ${status.parts.filter((p) => !p.built && !p.optional).length} of ${status.parts.length} part(s) missing; build with: npm run lab:build`,
);
process.exit(status.complete ? 0 : 1);
