/**
 * lab/build.ts reads the replace directives of upstream go.mod files (Kubernetes' staging modules, the
 * Calico monorepo's k8s.io pins) to write its wrapper modules: block and single-line forms, comments,
 * local paths and module versions.
 */
import { describe, expect, it } from 'vitest';
import { goModReplaces } from '../../../lab/build.js';

describe('goModReplaces', () => {
  it('reads block and single-line replaces, with or without a version on the left, ignoring comments', () => {
    const text = [
      'module example.com/m',
      'require k8s.io/api v0.0.0',
      'replace (',
      '\t// Newer versions break our tests',
      '\tgopkg.in/natefinch/lumberjack.v2 => gopkg.in/natefinch/lumberjack.v2 v2.0.0',
      '\tk8s.io/api => ./staging/src/k8s.io/api // vendored',
      '\tgithub.com/a/b v1.2.3 => github.com/c/d v1.0.0',
      ')',
      'replace github.com/tigera/operator/api => ./api',
    ].join('\n');
    expect(goModReplaces(text)).toEqual([
      ['gopkg.in/natefinch/lumberjack.v2', 'gopkg.in/natefinch/lumberjack.v2 v2.0.0'],
      ['k8s.io/api', './staging/src/k8s.io/api'],
      ['github.com/a/b', 'github.com/c/d v1.0.0'],
      ['github.com/tigera/operator/api', './api'],
    ]);
  });

  it('has nothing to say about a go.mod without replaces', () => {
    expect(goModReplaces('module x\n\ngo 1.24\n\nrequire (\n\tk8s.io/api v0.34.4\n)\n')).toEqual([]);
  });
});
