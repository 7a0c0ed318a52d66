/**
 * Edits of one parsed YAML document (eemeli/yaml AST) that are also written back in upstream's own layout.
 *
 * Every edit changes the AST; where the edited node still carries its source range, the same edit is also
 * recorded as a patch at the node's position, so the document can be written as upstream wrote it plus the
 * edit (re-serialising the whole document would re-indent lists: ≤ v3.30 calico.yaml mixes both list styles
 * in one document; docs/calico-facts.md, "Probes"). The patched text is only used when it parses back to
 * exactly the edited AST; otherwise the edited AST is serialised.
 */
import { isDeepStrictEqual } from 'node:util';
import { type Document, isMap, parseDocument, Scalar, stringify, type YAMLMap, type YAMLSeq } from 'yaml';

interface Patch {
  start: number;
  end: number;
  text: string;
}

export class DocEditor {
  private readonly patches: Patch[] = [];
  private readonly appends = new Map<YAMLSeq, { at: number; indent: string; lines: string[] }>();
  private patchable = true;

  /** `doc` is a clone the editor may change; `source` the whole stream text its ranges point into. */
  constructor(
    readonly doc: Document,
    private readonly source: string,
    private readonly range: [number, number],
  ) {}

  /** Sets a scalar's value, keeping its quoting style. */
  setScalar(node: Scalar, value: string): void {
    if (node.value === value) return;
    node.value = value;
    if (!node.range) {
      this.patchable = false;
      return;
    }
    this.patches.push({ start: node.range[0], end: node.range[1], text: scalarText(value, node.type) });
  }

  /** Replaces a map value by a double-quoted string (e.g. an env `valueFrom` by a `value`): AST only. */
  replaceInMap(map: YAMLMap, remove: string, key: string, value: string): void {
    map.delete(remove);
    const s = new Scalar(value);
    s.type = Scalar.QUOTE_DOUBLE;
    map.set(key, s);
    this.patchable = false;
  }

  /** Removes one scalar item of a block sequence, with its line. */
  removeItem(seq: YAMLSeq, item: Scalar): void {
    seq.items = seq.items.filter((i) => i !== item);
    if (!item.range) {
      this.patchable = false;
      return;
    }
    const lineStart = this.source.lastIndexOf('\n', item.range[0] - 1) + 1;
    const lineEnd = this.source.indexOf('\n', item.range[1]);
    const before = this.source.slice(lineStart, item.range[0]);
    const after = this.source.slice(item.range[1], lineEnd < 0 ? undefined : lineEnd);
    if (!/^ *- +$/.test(before) || !/^ *(#.*)?$/.test(after)) {
      this.patchable = false;
      return;
    }
    this.patches.push({ start: lineStart, end: lineEnd < 0 ? this.source.length : lineEnd + 1, text: '' });
  }

  /**
   * Appends a `{name, value}` mapping (value double-quoted) to a block sequence of mappings, after its last
   * item and at that item's indentation; `comment` goes on the line before the first appended item.
   */
  appendNameValue(seq: YAMLSeq, name: string, value: string, comment?: string): void {
    const map = this.doc.createNode({ name }) as YAMLMap;
    const s = new Scalar(value);
    s.type = Scalar.QUOTE_DOUBLE;
    map.set('value', s);
    if (comment) map.commentBefore = comment;
    const last = seq.items[seq.items.length - 1];
    seq.items.push(map);
    let slot = this.appends.get(seq);
    if (!slot) {
      if (!isMap(last) || !last.range || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        this.patchable = false;
        return;
      }
      const lineStart = this.source.lastIndexOf('\n', last.range[0] - 1) + 1;
      const dash = /^( *)- +$/.exec(this.source.slice(lineStart, last.range[0]));
      const end = this.source.indexOf('\n', last.range[1] - 1);
      if (!dash || end < 0) {
        this.patchable = false;
        return;
      }
      slot = { at: end + 1, indent: dash[1]!, lines: [] };
      this.appends.set(seq, slot);
    }
    if (comment) slot.lines.push(`${slot.indent}#${comment}`);
    slot.lines.push(
      `${slot.indent}- name: ${name}`,
      `${slot.indent}  value: ${scalarText(value, Scalar.QUOTE_DOUBLE)}`,
    );
  }

  /** The edited document: upstream's text with the patches when they reproduce the AST, else serialised. */
  toString(serialise: (doc: Document) => string): string {
    if (this.patchable) {
      const all = [
        ...this.patches,
        ...[...this.appends.values()].map((a) => ({
          start: a.at,
          end: a.at,
          text: `${a.lines.join('\n')}\n`,
        })),
      ].sort((a, b) => b.start - a.start);
      let text = this.source.slice(this.range[0], this.range[1]);
      let ok = true;
      let previousStart = Number.POSITIVE_INFINITY;
      for (const p of all) {
        if (p.end > previousStart || p.start < this.range[0] || p.end > this.range[1]) ok = false;
        previousStart = p.start;
        text = text.slice(0, p.start - this.range[0]) + p.text + text.slice(p.end - this.range[0]);
      }
      if (ok) {
        const back = parseDocument(text);
        if (back.errors.length === 0 && isDeepStrictEqual(back.toJS(), this.doc.toJS())) return text;
      }
    }
    return serialise(this.doc);
  }
}

function scalarText(value: string, type: Scalar['type']): string {
  if (type === Scalar.QUOTE_DOUBLE) return JSON.stringify(value);
  if (type === Scalar.QUOTE_SINGLE) return `'${value.replace(/'/g, "''")}'`;
  return stringify(value).trimEnd();
}
