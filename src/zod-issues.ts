// Turns a zod error into the one line a user reads: which field, what is
// expected and what was found. What was found is named by its kind only
// (a string, a list), never quoted: a misplaced value may be a secret.
import type { z } from "zod";

/** The kind of a JSON value, in words. */
export function kindOf(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "boolean") return "true/false";
  return `a ${typeof value}`;
}

const EXPECTED: Record<string, string> = {
  object: "an object",
  array: "a list",
  string: "a string",
  number: "a number",
  boolean: "true or false",
  int: "a whole number",
};

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const p of path) v = v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/**
 * `input` is what was parsed, so the line can say what was found; `prefix`
 * names the part of the file the error's paths are relative to.
 */
export function formatIssue(error: z.ZodError, prefix?: string, input?: unknown): string {
  const issue = error.issues[0];
  if (!issue) return "invalid value";
  const path = [prefix, ...issue.path.map((p) => (typeof p === "number" ? `[${p}]` : String(p)))]
    .filter((p) => p !== undefined && p !== "")
    .join(".")
    .replace(/\.\[/g, "[");
  let message = issue.code === "unrecognized_keys" ? `unknown field(s) ${issue.keys.join(", ")}` : issue.message;
  if (issue.code === "invalid_type") {
    const found = kindOf(valueAt(input, issue.path));
    // zod's own wording ("Invalid input: expected object, received array") becomes ours; a custom message keeps its words.
    if (message.startsWith("Invalid input")) message = `expected ${EXPECTED[issue.expected] ?? issue.expected}`;
    if (input !== undefined && !/found|received/.test(message)) message += `, found ${found}`;
  }
  return path ? `field "${path}": ${message}` : message;
}
