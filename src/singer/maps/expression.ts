// The Python expression subset that Meltano SDK stream maps use (simpleeval's
// grammar), tokenized and parsed into a small tree. Parsing happens once, at
// startup, so a map that cannot run fails before any output, with the
// position of the problem; evaluation (evaluate.ts) only walks the tree.

export type Node =
  | { kind: "const"; value: unknown; at: number }
  | { kind: "name"; id: string; at: number }
  | { kind: "list" | "tuple"; items: Node[]; at: number }
  | { kind: "dict"; keys: Node[]; values: Node[]; at: number }
  | { kind: "attr"; object: Node; name: string; at: number }
  | { kind: "index"; object: Node; index: Node; at: number }
  | { kind: "slice"; object: Node; lower?: Node; upper?: Node; step?: Node; at: number }
  | { kind: "call"; fn: Node; args: Node[]; kwargs: [string, Node][]; at: number }
  | { kind: "unary"; op: "-" | "+" | "not"; operand: Node; at: number }
  | { kind: "binary"; op: string; left: Node; right: Node; at: number }
  | { kind: "bool"; op: "and" | "or"; values: Node[]; at: number }
  | { kind: "compare"; first: Node; ops: string[]; rest: Node[]; at: number }
  | { kind: "ifelse"; test: Node; then: Node; otherwise: Node; at: number }
  | { kind: "comp"; shape: "list" | "dict"; element: Node; value?: Node; loops: Loop[]; at: number };

export interface Loop {
  readonly targets: string[];
  readonly unpack: boolean;
  readonly iter: Node;
  readonly conditions: Node[];
}

/** A parse failure: `at` is the 1-based position in the expression. */
export class ExpressionSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly at: number,
  ) {
    super(`${reason} at position ${at}`);
  }
}

type Token =
  | { t: "num"; v: number | bigint; at: number }
  | { t: "str"; v: string; at: number }
  | { t: "name"; v: string; at: number }
  | { t: "op"; v: string; at: number }
  | { t: "end"; v: ""; at: number }
  | { t: "err"; v: ""; at: number; error: ExpressionSyntaxError };

const KEYWORDS = new Set(["and", "or", "not", "in", "is", "if", "else", "for", "None", "True", "False"]);
/** Python keywords that start constructs outside the subset: named so the message is clear. */
const UNSUPPORTED_KEYWORDS = new Set([
  "lambda",
  "await",
  "yield",
  "import",
  "def",
  "class",
  "async",
  "del",
  "global",
  "nonlocal",
  "assert",
  "pass",
  "return",
  "raise",
  "with",
  "while",
  "try",
  "except",
  "finally",
  "from",
  "as",
  "elif",
  "break",
  "continue",
]);
const OPERATORS = [
  "**",
  "//",
  "==",
  "!=",
  "<=",
  ">=",
  "<<",
  ">>",
  ":=",
  "->",
  "+",
  "-",
  "*",
  "/",
  "%",
  "<",
  ">",
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
  ",",
  ":",
  ".",
  "=",
  "|",
  "&",
  "^",
  "~",
  "@",
  ";",
];

/** Tokens up to the first that cannot be read, which becomes an error token: problems are reported in reading order. */
function tokenize(src: string): Token[] {
  const out: Token[] = [];
  try {
    readTokens(src, out);
  } catch (e) {
    if (!(e instanceof ExpressionSyntaxError)) throw e;
    out.push({ t: "err", v: "", at: e.at, error: e });
  }
  return out;
}

function readTokens(src: string, out: Token[]): void {
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    const at = i + 1;
    if (c === "#") throw new ExpressionSyntaxError("comments are not allowed", at);
    const num = /^(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/.exec(src.slice(i));
    if (num && /[\d.]/.test(c) && !(c === "." && !/\d/.test(src[i + 1] ?? ""))) {
      const text = num[0].replace(/_/g, "");
      if (/[jJ]/.test(src[i + num[0].length] ?? "")) throw new ExpressionSyntaxError("complex numbers are not supported", at);
      let v: number | bigint;
      if (/^0[xXoObB]/.test(text) || /^\d+$/.test(text)) {
        const big = BigInt(text);
        v = big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
      } else v = Number(text);
      out.push({ t: "num", v, at });
      i += num[0].length;
      continue;
    }
    const str = /^([rRbBuUfF]{0,2})('''|"""|'|")/.exec(src.slice(i));
    if (str && (str[1] === "" || /[a-zA-Z]/.test(c))) {
      const prefix = str[1]!.toLowerCase();
      if (prefix.includes("f")) throw new ExpressionSyntaxError("f-strings are not supported (use + and str())", at);
      if (prefix.includes("b")) throw new ExpressionSyntaxError("bytes literals are not supported", at);
      const quote = str[2]!;
      let j = i + str[0].length;
      let value = "";
      for (;;) {
        if (j >= src.length) throw new ExpressionSyntaxError("unterminated string", at);
        if (src.startsWith(quote, j)) break;
        const ch = src[j]!;
        if (ch === "\n" && quote.length === 1) throw new ExpressionSyntaxError("unterminated string", at);
        if (ch === "\\" && !prefix.includes("r")) {
          const [decoded, used] = escape(src, j + 1, at);
          value += decoded;
          j += 1 + used;
          continue;
        }
        if (ch === "\\" && prefix.includes("r") && j + 1 < src.length) {
          value += ch + src[j + 1];
          j += 2;
          continue;
        }
        value += ch;
        j++;
      }
      out.push({ t: "str", v: value, at });
      i = j + quote.length;
      continue;
    }
    const name = /^[A-Za-z_\u00c0-\uffff][A-Za-z0-9_\u00c0-\uffff]*/.exec(src.slice(i));
    if (name) {
      if (UNSUPPORTED_KEYWORDS.has(name[0])) throw new ExpressionSyntaxError(`"${name[0]}" is not supported in a map expression`, at);
      out.push({ t: "name", v: name[0], at });
      i += name[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw new ExpressionSyntaxError(`unexpected character ${JSON.stringify(c)}`, at);
    out.push({ t: "op", v: op, at });
    i += op.length;
  }
  out.push({ t: "end", v: "", at: src.length + 1 });
}

const SIMPLE_ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  "\\": "\\",
  "'": "'",
  '"': '"',
  "0": "\0",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
  "\n": "",
};

function escape(src: string, j: number, at: number): [string, number] {
  const c = src[j];
  if (c === undefined) throw new ExpressionSyntaxError("unterminated string", at);
  if (c in SIMPLE_ESCAPES && !(c === "0" && /[0-7]/.test(src[j + 1] ?? ""))) return [SIMPLE_ESCAPES[c]!, 1];
  const hex = c === "x" ? 2 : c === "u" ? 4 : c === "U" ? 8 : 0;
  if (hex) {
    const digits = src.slice(j + 1, j + 1 + hex);
    if (!new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(digits)) throw new ExpressionSyntaxError(`bad \\${c} escape`, at);
    return [String.fromCodePoint(parseInt(digits, 16)), 1 + hex];
  }
  const octal = /^[0-7]{1,3}/.exec(src.slice(j));
  if (octal) return [String.fromCodePoint(parseInt(octal[0], 8)), octal[0].length];
  return ["\\" + c, 1]; // Python keeps an unknown escape as written
}

/** Parses one expression; throws ExpressionSyntaxError. */
export function parseExpression(src: string): Node {
  const p = new Parser(tokenize(src));
  if (p.peek().t === "end") throw new ExpressionSyntaxError("the expression is empty", 1);
  const node = p.expression();
  const rest = p.peek();
  if (rest.t !== "end") throw new ExpressionSyntaxError(`unexpected ${describe(rest)}`, rest.at);
  return node;
}

function describe(t: Token): string {
  if (t.t === "end") return "end of expression";
  if (t.t === "str") return "string";
  if (t.t === "num") return "number";
  return `"${t.v}"`;
}

const COMPARE = new Set(["==", "!=", "<", ">", "<=", ">="]);

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  peek(offset = 0): Token {
    const t = this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!;
    if (t.t === "err") throw t.error;
    return t;
  }
  private next(): Token {
    const t = this.peek();
    this.i++;
    return t;
  }
  private isOp(v: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.t === "op" && t.v === v;
  }
  private isWord(v: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.t === "name" && t.v === v;
  }
  private expect(v: string): Token {
    const t = this.next();
    if ((t.t === "op" || t.t === "name") && t.v === v) return t;
    throw new ExpressionSyntaxError(`expected "${v}", found ${describe(t)}`, t.at);
  }

  expression(): Node {
    const first = this.peek();
    const body = this.orTest();
    if (!this.isWord("if")) return body;
    this.next();
    const test = this.orTest();
    if (!this.isWord("else")) throw new ExpressionSyntaxError(`a conditional expression needs "else"`, this.peek().at);
    this.next();
    return { kind: "ifelse", test, then: body, otherwise: this.expression(), at: first.at };
  }

  private orTest(): Node {
    const first = this.andTest();
    if (!this.isWord("or")) return first;
    const values = [first];
    while (this.isWord("or")) {
      this.next();
      values.push(this.andTest());
    }
    return { kind: "bool", op: "or", values, at: first.at };
  }

  private andTest(): Node {
    const first = this.notTest();
    if (!this.isWord("and")) return first;
    const values = [first];
    while (this.isWord("and")) {
      this.next();
      values.push(this.notTest());
    }
    return { kind: "bool", op: "and", values, at: first.at };
  }

  private notTest(): Node {
    if (this.isWord("not")) {
      const t = this.next();
      return { kind: "unary", op: "not", operand: this.notTest(), at: t.at };
    }
    return this.comparison();
  }

  private comparison(): Node {
    const first = this.arith();
    const ops: string[] = [];
    const rest: Node[] = [];
    for (;;) {
      const t = this.peek();
      let op: string | undefined;
      if (t.t === "op" && COMPARE.has(t.v)) op = t.v;
      else if (this.isWord("in")) op = "in";
      else if (this.isWord("not") && this.isWord("in", 1)) op = "not in";
      else if (this.isWord("is")) op = this.isWord("not", 1) ? "is not" : "is";
      if (!op) break;
      this.i += op.includes(" ") ? 2 : 1;
      ops.push(op);
      rest.push(this.arith());
    }
    return ops.length ? { kind: "compare", first, ops, rest, at: first.at } : first;
  }

  private arith(): Node {
    let left = this.term();
    for (;;) {
      const t = this.peek();
      if (t.t === "op" && ["|", "&", "^", "<<", ">>"].includes(t.v)) throw new ExpressionSyntaxError(`the bitwise operator "${t.v}" is not supported`, t.at);
      if (!(t.t === "op" && (t.v === "+" || t.v === "-"))) return left;
      this.next();
      left = { kind: "binary", op: t.v, left, right: this.term(), at: t.at };
    }
  }

  private term(): Node {
    let left = this.factor();
    for (;;) {
      const t = this.peek();
      if (t.t === "op" && t.v === "@") throw new ExpressionSyntaxError(`the operator "@" is not supported`, t.at);
      if (!(t.t === "op" && ["*", "/", "//", "%"].includes(t.v))) return left;
      this.next();
      left = { kind: "binary", op: t.v, left, right: this.factor(), at: t.at };
    }
  }

  private factor(): Node {
    const t = this.peek();
    if (t.t === "op" && (t.v === "-" || t.v === "+")) {
      this.next();
      return { kind: "unary", op: t.v, operand: this.factor(), at: t.at };
    }
    if (t.t === "op" && t.v === "~") throw new ExpressionSyntaxError(`the bitwise operator "~" is not supported`, t.at);
    return this.power();
  }

  private power(): Node {
    const base = this.primary();
    if (!this.isOp("**")) return base;
    const t = this.next();
    return { kind: "binary", op: "**", left: base, right: this.factor(), at: t.at };
  }

  private primary(): Node {
    let node = this.atom();
    for (;;) {
      const t = this.peek();
      if (t.t !== "op") return node;
      if (t.v === ".") {
        this.next();
        const name = this.next();
        if (name.t !== "name") throw new ExpressionSyntaxError(`expected an attribute name after "."`, name.at);
        node = { kind: "attr", object: node, name: name.v, at: name.at };
      } else if (t.v === "(") {
        this.next();
        node = this.call(node, t.at);
      } else if (t.v === "[") {
        this.next();
        node = this.subscript(node, t.at);
      } else return node;
    }
  }

  private call(fn: Node, at: number): Node {
    const args: Node[] = [];
    const kwargs: [string, Node][] = [];
    while (!this.isOp(")")) {
      const t = this.peek();
      if (t.t === "op" && (t.v === "*" || t.v === "**")) throw new ExpressionSyntaxError(`"${t.v}" unpacking in a call is not supported`, t.at);
      if (t.t === "name" && this.isOp("=", 1)) {
        this.i += 2;
        kwargs.push([t.v, this.expression()]);
      } else {
        if (kwargs.length) throw new ExpressionSyntaxError("a positional argument follows a keyword argument", t.at);
        const arg = this.expression();
        // f(x for x in xs): a generator argument, evaluated as a list.
        if (this.isWord("for")) args.push(this.comprehension("list", arg, undefined, t.at));
        else args.push(arg);
      }
      if (!this.isOp(",")) break;
      this.next();
    }
    this.expect(")");
    return { kind: "call", fn, args, kwargs, at };
  }

  private subscript(object: Node, at: number): Node {
    const parts: (Node | undefined)[] = [];
    let colons = 0;
    let current: Node | undefined;
    while (!this.isOp("]")) {
      if (this.isOp(":")) {
        this.next();
        parts.push(current);
        current = undefined;
        if (++colons > 2) throw new ExpressionSyntaxError("a slice has at most two colons", this.peek().at);
        continue;
      }
      if (current) throw new ExpressionSyntaxError(`unexpected ${describe(this.peek())}`, this.peek().at);
      current = this.expression();
      if (colons === 0 && this.isOp(",")) {
        // d[a, b]: a tuple key
        const items = [current];
        while (this.isOp(",")) {
          this.next();
          if (this.isOp("]")) break;
          items.push(this.expression());
        }
        current = { kind: "tuple", items, at: current.at };
      }
    }
    this.expect("]");
    if (colons === 0) {
      if (!current) throw new ExpressionSyntaxError("an empty subscript", at);
      return { kind: "index", object, index: current, at };
    }
    parts.push(current);
    return { kind: "slice", object, lower: parts[0], upper: parts[1], step: parts[2], at };
  }

  private atom(): Node {
    const t = this.next();
    switch (t.t) {
      case "num":
        return { kind: "const", value: t.v, at: t.at };
      case "str": {
        let v = t.v;
        while (this.peek().t === "str") v += this.next().v as string; // 'a' 'b' is 'ab'
        return { kind: "const", value: v, at: t.at };
      }
      case "name":
        if (t.v === "None") return { kind: "const", value: null, at: t.at };
        if (t.v === "True") return { kind: "const", value: true, at: t.at };
        if (t.v === "False") return { kind: "const", value: false, at: t.at };
        if (KEYWORDS.has(t.v)) throw new ExpressionSyntaxError(`unexpected "${t.v}"`, t.at);
        return { kind: "name", id: t.v, at: t.at };
      case "op":
        if (t.v === "(") return this.parenthesized(t.at);
        if (t.v === "[") return this.listDisplay(t.at);
        if (t.v === "{") return this.dictDisplay(t.at);
        throw new ExpressionSyntaxError(`unexpected "${t.v}"`, t.at);
      default:
        throw new ExpressionSyntaxError("the expression ends early", t.at);
    }
  }

  private parenthesized(at: number): Node {
    if (this.isOp(")")) {
      this.next();
      return { kind: "tuple", items: [], at };
    }
    const first = this.expression();
    if (this.isWord("for")) {
      const comp = this.comprehension("list", first, undefined, at);
      this.expect(")");
      return comp;
    }
    if (!this.isOp(",")) {
      this.expect(")");
      return first;
    }
    const items = [first];
    while (this.isOp(",")) {
      this.next();
      if (this.isOp(")")) break;
      items.push(this.expression());
    }
    this.expect(")");
    return { kind: "tuple", items, at };
  }

  private listDisplay(at: number): Node {
    if (this.isOp("]")) {
      this.next();
      return { kind: "list", items: [], at };
    }
    const first = this.expression();
    if (this.isWord("for")) {
      const comp = this.comprehension("list", first, undefined, at);
      this.expect("]");
      return comp;
    }
    const items = [first];
    while (this.isOp(",")) {
      this.next();
      if (this.isOp("]")) break;
      items.push(this.expression());
    }
    this.expect("]");
    return { kind: "list", items, at };
  }

  private dictDisplay(at: number): Node {
    const keys: Node[] = [];
    const values: Node[] = [];
    if (this.isOp("}")) {
      this.next();
      return { kind: "dict", keys, values, at };
    }
    const key = this.expression();
    if (!this.isOp(":")) throw new ExpressionSyntaxError("sets are not supported (a dict needs key: value)", this.peek().at);
    this.next();
    const value = this.expression();
    if (this.isWord("for")) {
      const comp = this.comprehension("dict", key, value, at);
      this.expect("}");
      return comp;
    }
    keys.push(key);
    values.push(value);
    while (this.isOp(",")) {
      this.next();
      if (this.isOp("}")) break;
      keys.push(this.expression());
      this.expect(":");
      values.push(this.expression());
    }
    this.expect("}");
    return { kind: "dict", keys, values, at };
  }

  private comprehension(shape: "list" | "dict", element: Node, value: Node | undefined, at: number): Node {
    const loops: Loop[] = [];
    while (this.isWord("for")) {
      this.next();
      const targets: string[] = [];
      const parens = this.isOp("(");
      if (parens) this.next();
      for (;;) {
        const name = this.next();
        if (name.t !== "name" || KEYWORDS.has(name.v)) throw new ExpressionSyntaxError("expected a name after for", name.at);
        targets.push(name.v);
        if (!this.isOp(",")) break;
        this.next();
      }
      if (parens) this.expect(")");
      this.expect("in");
      const iter = this.orTest();
      const conditions: Node[] = [];
      while (this.isWord("if")) {
        this.next();
        conditions.push(this.orTestNoTernary());
      }
      loops.push({ targets, unpack: targets.length > 1 || parens, iter, conditions });
    }
    return { kind: "comp", shape, element, ...(value ? { value } : {}), loops, at };
  }

  private orTestNoTernary(): Node {
    return this.orTest();
  }
}
