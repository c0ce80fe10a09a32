// Command-line options of the scripts and benchmarks: `--name value` and bare `--flag`.
import process from "node:process";

const args = process.argv.slice(2);

export const option = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};

export const flag = (name: string): boolean => args.includes(name);
