import { describe, expect, it } from 'vitest';
import { isScalar, isSeq, parseAllDocuments, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import { DocEditor } from '../../../harness/calico/doc-editor.js';

const TEXT = `a: 1
---
# keep me
env:
    - name: X   # trailing
      value: 'old'
    - name: Y
      value: "y"
cmd:
- /bin/x
- -bird-live
- -felix-live
flow: ["/bin/x", "-bird-live"]
---
b: 2
`;

function editor(): DocEditor {
  const docs = parseAllDocuments(TEXT);
  const d = (Array.isArray(docs) ? docs : [])[1]!;
  return new DocEditor(d.clone(), TEXT, [d.range[0], d.range[2]]);
}
const serialise = () => 'SERIALISED\n';

describe('DocEditor', () => {
  it('writes upstream text plus the edits: scalar kept in its quote style, item line removed, entries appended', () => {
    const ed = editor();
    const env = ed.doc.get('env', true) as YAMLSeq;
    ed.setScalar((env.items[0] as YAMLMap).get('value', true) as Scalar, 'new');
    const cmd = ed.doc.get('cmd', true) as YAMLSeq;
    ed.removeItem(cmd, cmd.items[1] as Scalar);
    ed.appendNameValue(env, 'Z', 'z z', ' added');
    ed.appendNameValue(env, 'W', '1');
    expect(ed.toString(serialise)).toBe(`---
# keep me
env:
    - name: X   # trailing
      value: 'new'
    - name: Y
      value: "y"
    # added
    - name: Z
      value: "z z"
    - name: W
      value: "1"
cmd:
- /bin/x
- -felix-live
flow: ["/bin/x", "-bird-live"]
`);
  });

  it('falls back to serialising the edited AST when an edit has no line of its own', () => {
    const ed = editor();
    const flow = ed.doc.get('flow', true);
    if (!isSeq(flow) || !isScalar(flow.items[1])) throw new Error('fixture');
    ed.removeItem(flow, flow.items[1] as Scalar);
    expect(ed.toString(serialise)).toBe('SERIALISED\n');
    expect(ed.doc.toJS().flow).toEqual(['/bin/x']);
  });

  it('falls back when a value changes shape (valueFrom → value)', () => {
    const ed = editor();
    const env = ed.doc.get('env', true) as YAMLSeq;
    ed.replaceInMap(env.items[1] as YAMLMap, 'valueFrom', 'value', 'v');
    expect(ed.toString(serialise)).toBe('SERIALISED\n');
  });
});
