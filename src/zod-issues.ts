// Turns a zod error into the one line a user reads: which field, what is expected.
import type { z } from "zod";

export function formatIssue(error: z.ZodError, prefix?: string): string {
  const issue = error.issues[0];
  if (!issue) return "invalid value";
  const path = [prefix, ...issue.path.map((p) => (typeof p === "number" ? `[${p}]` : String(p)))]
    .filter((p) => p !== undefined && p !== "")
    .join(".")
    .replace(/\.\[/g, "[");
  const message = issue.code === "unrecognized_keys" ? `unknown field(s) ${issue.keys.join(", ")}` : issue.message;
  return path ? `field "${path}": ${message}` : message;
}
