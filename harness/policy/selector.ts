/**
 * Label selectors, compiled once into predicates over a label map, for the two dialects the oracle meets:
 *
 * - Kubernetes `LabelSelector` (`matchLabels` AND `matchExpressions` with In, NotIn, Exists, DoesNotExist).
 *   An empty selector `{}` selects everything (kubernetes.io, "Labels and Selectors": "an empty label
 *   selector selects every object in the collection"). `NotIn` also matches objects that lack the key, as
 *   `!=` does (same page, "Set-based requirement").
 * - Calico's selector expressions (docs.tigera.io/calico/latest/reference/resources/networkpolicy#selectors):
 *   `all()`, `global()`, `k == 'v'`, `k != 'v'` (also true when `k` is absent), `has(k)`, `k in {…}`,
 *   `k not in {…}` (also true when `k` is absent), `contains`, `starts with`, `ends with`, `!`, `&&`, `||`
 *   and parentheses; precedence (highest first): match operators, parentheses, `!`, `&&`, `||`.
 */
import { UsageError } from '../errors.js';

export type Labels = Readonly<Record<string, string>>;
export type LabelPredicate = (labels: Labels) => boolean;

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** Compiles a Kubernetes LabelSelector (already validated) into a predicate. */
export function compileLabelSelector(sel: LabelSelector | undefined): LabelPredicate {
  const tests: LabelPredicate[] = [];
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) tests.push((l) => l[k] === v);
  for (const req of sel?.matchExpressions ?? []) {
    const { key } = req;
    const values = new Set(req.values ?? []);
    switch (req.operator) {
      case 'In':
        tests.push((l) => l[key] !== undefined && values.has(l[key]));
        break;
      case 'NotIn':
        tests.push((l) => l[key] === undefined || !values.has(l[key]));
        break;
      case 'Exists':
        tests.push((l) => l[key] !== undefined);
        break;
      case 'DoesNotExist':
        tests.push((l) => l[key] === undefined);
        break;
    }
  }
  if (tests.length === 0) return () => true;
  return (l) => tests.every((t) => t(l));
}

// ---------------------------------------------------------------------------------------------------------
// Calico selector expressions: a small recursive-descent parser.

type Token = { t: 'ident'; v: string } | { t: 'str'; v: string } | { t: 'op'; v: string } | { t: 'end' };

const IDENT = /[A-Za-z0-9_./-]/;

function tokenize(text: string, field: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0)
        throw new UsageError(`${field}: unterminated string in selector ${JSON.stringify(text)}`, field);
      out.push({ t: 'str', v: text.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '==' || two === '!=' || two === '&&' || two === '||') {
      out.push({ t: 'op', v: two });
      i += 2;
      continue;
    }
    if ('()!{},'.includes(c)) {
      out.push({ t: 'op', v: c });
      i++;
      continue;
    }
    if (IDENT.test(c)) {
      let j = i;
      while (j < text.length && IDENT.test(text[j]!)) j++;
      out.push({ t: 'ident', v: text.slice(i, j) });
      i = j;
      continue;
    }
    throw new UsageError(
      `${field}: unexpected ${JSON.stringify(c)} in selector ${JSON.stringify(text)}`,
      field,
    );
  }
  out.push({ t: 'end' });
  return out;
}

/** Parses a Calico selector expression; errors name the field and the position's token. */
export function compileCalicoSelector(text: string, field: string): LabelPredicate {
  if (text.trim() === '') return () => true; // an empty selector is the default, all()
  const toks = tokenize(text, field);
  let pos = 0;
  const peek = () => toks[pos]!;
  const fail = (what: string): never => {
    const tok = peek();
    const seen = tok.t === 'end' ? 'end of selector' : JSON.stringify(tok.v);
    throw new UsageError(`${field}: ${what} at ${seen} in selector ${JSON.stringify(text)}`, field);
  };
  const isOp = (v: string) => peek().t === 'op' && (peek() as { v: string }).v === v;
  const isWord = (v: string) => peek().t === 'ident' && (peek() as { v: string }).v === v;
  const expectOp = (v: string) => {
    if (!isOp(v)) fail(`expected ${JSON.stringify(v)}`);
    pos++;
  };
  const str = (): string => {
    const tok = peek();
    if (tok.t !== 'str') return fail('expected a quoted string');
    pos++;
    return (tok as { v: string }).v;
  };
  const set = (): Set<string> => {
    expectOp('{');
    const vals = new Set<string>();
    if (!isOp('}')) {
      vals.add(str());
      while (isOp(',')) {
        pos++;
        vals.add(str());
      }
    }
    expectOp('}');
    return vals;
  };

  const primary = (): LabelPredicate => {
    if (isOp('(')) {
      pos++;
      const inner = disjunction();
      expectOp(')');
      return inner;
    }
    const tok = peek();
    if (tok.t !== 'ident') return fail('expected a label or function');
    pos++;
    const word = tok.v;
    if ((word === 'all' || word === 'global' || word === 'has') && isOp('(')) {
      pos++;
      if (word === 'has') {
        const k = peek();
        if (k.t !== 'ident') return fail('expected a label name');
        pos++;
        expectOp(')');
        const key = (k as { v: string }).v;
        return (l) => l[key] !== undefined;
      }
      expectOp(')');
      // global() matches non-namespaced resources only (network sets, host endpoints): never a pod or namespace.
      return word === 'all' ? () => true : () => false;
    }
    const key = word;
    if (isOp('==')) {
      pos++;
      const v = str();
      return (l) => l[key] === v;
    }
    if (isOp('!=')) {
      pos++;
      const v = str();
      return (l) => l[key] !== v;
    }
    if (isWord('in')) {
      pos++;
      const vals = set();
      return (l) => l[key] !== undefined && vals.has(l[key]);
    }
    if (isWord('not')) {
      pos++;
      if (!isWord('in')) fail('expected "in" after "not"');
      pos++;
      const vals = set();
      return (l) => l[key] === undefined || !vals.has(l[key]);
    }
    if (isWord('contains')) {
      pos++;
      const v = str();
      return (l) => l[key]?.includes(v) === true;
    }
    if (isWord('starts') || isWord('ends')) {
      const which = (peek() as { v: string }).v;
      pos++;
      if (!isWord('with')) fail(`expected "with" after "${which}"`);
      pos++;
      const v = str();
      return which === 'starts' ? (l) => l[key]?.startsWith(v) === true : (l) => l[key]?.endsWith(v) === true;
    }
    return fail(`expected an operator after label ${JSON.stringify(key)}`);
  };
  const negation = (): LabelPredicate => {
    if (isOp('!')) {
      pos++;
      const inner = negation();
      return (l) => !inner(l);
    }
    return primary();
  };
  const conjunction = (): LabelPredicate => {
    const parts = [negation()];
    while (isOp('&&')) {
      pos++;
      parts.push(negation());
    }
    return parts.length === 1 ? parts[0]! : (l) => parts.every((p) => p(l));
  };
  function disjunction(): LabelPredicate {
    const parts = [conjunction()];
    while (isOp('||')) {
      pos++;
      parts.push(conjunction());
    }
    return parts.length === 1 ? parts[0]! : (l) => parts.some((p) => p(l));
  }
  const result = disjunction();
  if (peek().t !== 'end') fail('unexpected text');
  return result;
}
