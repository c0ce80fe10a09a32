// Evaluates a parsed map expression against one record. The only names in
// reach are the record's properties, the SDK's variables (record, _, self,
// config, __stream_name__, __original_stream_name__) and builtins.ts; there
// is no eval, no Function and no way from a value to a JavaScript object.
import type { Node } from "./expression.ts";
import { BUILTINS, getAttribute, PyFunction, PyModule, setAdd } from "./builtins.ts";
import { binary, compare, contains, equals, index, iterate, MapError, negate, plus, PyDict, slice, truthy } from "./python.ts";

setAdd((a, b) => binary("+", a, b));

export interface Scope {
  readonly record: Record<string, unknown>;
  /** Names the SDK defines besides the record's properties. */
  readonly vars: Readonly<Record<string, unknown>>;
  /** Properties the stream's schema declares: absent from a record, they read as None. */
  readonly declared?: ReadonlySet<string>;
}

/** Names a map may use that are neither properties nor builtins. */
export const SDK_VARIABLES = ["record", "_", "self", "config", "__stream_name__", "__original_stream_name__"] as const;

export function evaluate(node: Node, scope: Scope): unknown {
  return new Evaluator(scope).eval(node);
}

class NameNotDefined extends MapError {}
export { NameNotDefined };

/** Steps one expression may take: a comprehension over a huge list stops instead of hanging the tap. */
const MAX_STEPS = 1_000_000;

class Evaluator {
  private locals: Map<string, unknown>[] = [];
  private steps = 0;
  constructor(private readonly scope: Scope) {}

  private lookup(id: string): unknown {
    for (let i = this.locals.length - 1; i >= 0; i--) if (this.locals[i]!.has(id)) return this.locals[i]!.get(id);
    if (Object.hasOwn(this.scope.vars, id)) return this.scope.vars[id];
    if (Object.hasOwn(this.scope.record, id)) return this.scope.record[id];
    if (this.scope.declared?.has(id)) return null;
    if (Object.hasOwn(BUILTINS, id)) return BUILTINS[id];
    throw new NameNotDefined(`name '${id}' is not defined`);
  }

  eval(n: Node): unknown {
    if (++this.steps > MAX_STEPS) throw new MapError("the expression took too many steps");
    switch (n.kind) {
      case "const":
        return n.value;
      case "name":
        return this.lookup(n.id);
      case "list":
      case "tuple":
        return n.items.map((x) => this.eval(x));
      case "dict":
        return PyDict.from(n.keys.map((k, i) => [this.eval(k), this.eval(n.values[i]!)]));
      case "attr":
        return getAttribute(this.eval(n.object), n.name);
      case "index":
        return index(this.eval(n.object), this.eval(n.index));
      case "slice":
        return slice(this.eval(n.object), n.lower && this.eval(n.lower), n.upper && this.eval(n.upper), n.step && this.eval(n.step));
      case "call": {
        const f = this.eval(n.fn);
        if (!(f instanceof PyFunction)) throw new MapError(`'${f instanceof PyModule ? "module" : describe(f)}' object is not callable`);
        const args = n.args.map((a) => this.eval(a));
        const kwargs = Object.fromEntries(n.kwargs.map(([k, v]) => [k, this.eval(v)]));
        return f.call(args, kwargs);
      }
      case "unary": {
        const v = this.eval(n.operand);
        return n.op === "not" ? !truthy(v) : n.op === "-" ? negate(v) : plus(v);
      }
      case "binary":
        return binary(n.op, this.eval(n.left), this.eval(n.right));
      case "bool": {
        let v: unknown;
        for (const x of n.values) {
          v = this.eval(x);
          if (n.op === "and" ? !truthy(v) : truthy(v)) return v;
        }
        return v;
      }
      case "compare": {
        let left = this.eval(n.first);
        for (let i = 0; i < n.ops.length; i++) {
          const right = this.eval(n.rest[i]!);
          if (!compareOp(n.ops[i]!, left, right)) return false;
          left = right;
        }
        return true;
      }
      case "ifelse":
        return truthy(this.eval(n.test)) ? this.eval(n.then) : this.eval(n.otherwise);
      case "comp":
        return this.comprehension(n);
    }
  }

  private comprehension(n: Extract<Node, { kind: "comp" }>): unknown {
    const out: unknown[] = [];
    const dict = new PyDict();
    const frame = new Map<string, unknown>();
    this.locals.push(frame);
    const loop = (depth: number) => {
      if (depth === n.loops.length) {
        if (n.shape === "dict") dict.set(this.eval(n.element), this.eval(n.value!));
        else out.push(this.eval(n.element));
        return;
      }
      const l = n.loops[depth]!;
      for (const item of iterate(this.eval(l.iter))) {
        if (++this.steps > MAX_STEPS) throw new MapError("the expression took too many steps");
        if (l.unpack) {
          const parts = iterate(item);
          if (parts.length !== l.targets.length) throw new MapError(`cannot unpack ${parts.length} values into ${l.targets.length} names`);
          l.targets.forEach((t, i) => frame.set(t, parts[i]));
        } else frame.set(l.targets[0]!, item);
        if (l.conditions.every((c) => truthy(this.eval(c)))) loop(depth + 1);
      }
    };
    try {
      loop(0);
    } finally {
      this.locals.pop();
    }
    return n.shape === "dict" ? dict : out;
  }
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return "NoneType";
  if (typeof v === "string") return "str";
  if (typeof v === "number" || typeof v === "bigint") return "int";
  return typeof v;
}

function compareOp(op: string, a: unknown, b: unknown): boolean {
  switch (op) {
    case "==":
      return equals(a, b);
    case "!=":
      return !equals(a, b);
    case "<":
      return compare(a, b, op) < 0;
    case ">":
      return compare(a, b, op) > 0;
    case "<=":
      return compare(a, b, op) <= 0;
    case ">=":
      return compare(a, b, op) >= 0;
    case "in":
      return contains(b, a);
    case "not in":
      return !contains(b, a);
    case "is":
      return a === b || (a === undefined && b === null) || (a === null && b === undefined);
    case "is not":
      return !(a === b || (a == null && b == null));
  }
  throw new MapError(`unsupported comparison ${op}`);
}

/** Every name an expression reads that is not bound by one of its own comprehensions. */
export function freeNames(n: Node, bound: ReadonlySet<string> = new Set()): Set<string> {
  const out = new Set<string>();
  const walk = (x: Node, b: ReadonlySet<string>) => {
    switch (x.kind) {
      case "const":
        return;
      case "name":
        if (!b.has(x.id)) out.add(x.id);
        return;
      case "list":
      case "tuple":
        return x.items.forEach((i) => walk(i, b));
      case "dict":
        x.keys.forEach((k) => walk(k, b));
        return x.values.forEach((v) => walk(v, b));
      case "attr":
        return walk(x.object, b);
      case "index":
        walk(x.object, b);
        return walk(x.index, b);
      case "slice":
        for (const p of [x.object, x.lower, x.upper, x.step]) if (p) walk(p, b);
        return;
      case "call":
        walk(x.fn, b);
        x.args.forEach((a) => walk(a, b));
        return x.kwargs.forEach(([, v]) => walk(v, b));
      case "unary":
        return walk(x.operand, b);
      case "binary":
        walk(x.left, b);
        return walk(x.right, b);
      case "bool":
        return x.values.forEach((v) => walk(v, b));
      case "compare":
        walk(x.first, b);
        return x.rest.forEach((r) => walk(r, b));
      case "ifelse":
        walk(x.test, b);
        walk(x.then, b);
        return walk(x.otherwise, b);
      case "comp": {
        let inner = new Set(b);
        for (const l of x.loops) {
          walk(l.iter, inner);
          inner = new Set([...inner, ...l.targets]);
          l.conditions.forEach((c) => walk(c, inner));
        }
        walk(x.element, inner);
        if (x.value) walk(x.value, inner);
        return;
      }
    }
  };
  walk(n, bound);
  return out;
}

export function isBuiltin(name: string): boolean {
  return Object.hasOwn(BUILTINS, name);
}
