// The part of Python's datetime module the SDK's map examples use: datetime,
// date and timedelta values with fromisoformat, now, timestamp, isoformat,
// strftime, fields and arithmetic. Times without an offset (naive) are taken
// as UTC, where Python would take the machine's local time.

export class MapError extends Error {}

const pad = (n: number, w = 2) => String(Math.trunc(Math.abs(n))).padStart(w, "0");

export class PyTimedelta {
  /** Whole microseconds, exact for ±290,000 years. */
  constructor(readonly us: number) {}
  static of(kw: Record<string, number>): PyTimedelta {
    const units: Record<string, number> = { weeks: 604_800e6, days: 86_400e6, hours: 3_600e6, minutes: 60e6, seconds: 1e6, milliseconds: 1e3, microseconds: 1 };
    let us = 0;
    for (const [k, v] of Object.entries(kw)) {
      if (!(k in units)) throw new MapError(`timedelta() got an unexpected argument "${k}"`);
      us += v * units[k]!;
    }
    return new PyTimedelta(Math.round(us));
  }
  get days(): number {
    return Math.floor(this.us / 86_400e6);
  }
  get seconds(): number {
    return Math.floor((this.us - this.days * 86_400e6) / 1e6);
  }
  get microseconds(): number {
    return this.us - this.days * 86_400e6 - this.seconds * 1e6;
  }
  total_seconds(): number {
    return this.us / 1e6;
  }
  toString(): string {
    const s = this.seconds;
    const time = `${Math.floor(s / 3600)}:${pad((s / 60) % 60)}:${pad(s % 60)}${this.microseconds ? "." + pad(this.microseconds, 6) : ""}`;
    return this.days ? `${this.days} day${Math.abs(this.days) === 1 ? "" : "s"}, ${time}` : time;
  }
}

/** What a date and a date-time share: a wall clock in ms since the epoch, read as UTC. */
abstract class WallClock {
  constructor(readonly wall: number) {}
  protected get d(): Date {
    return new Date(this.wall);
  }
  get year(): number {
    return this.d.getUTCFullYear();
  }
  get month(): number {
    return this.d.getUTCMonth() + 1;
  }
  get day(): number {
    return this.d.getUTCDate();
  }
  weekday(): number {
    return (this.d.getUTCDay() + 6) % 7;
  }
}

/** A date: `wall` is midnight of that day in ms since the epoch, as UTC. */
export class PyDate extends WallClock {
  isoformat(): string {
    return `${pad(this.year, 4)}-${pad(this.month)}-${pad(this.day)}`;
  }
  override toString(): string {
    return this.isoformat();
  }
  strftime(format: string): string {
    return strftime(format, this.wall, 0, null);
  }
}

/** A date and time: wall-clock ms since the epoch as if UTC, extra microseconds, and the offset in minutes (null: naive). */
export class PyDateTime extends WallClock {
  constructor(
    wall: number,
    readonly micro: number,
    readonly offset: number | null,
  ) {
    super(wall);
  }
  get hour(): number {
    return this.d.getUTCHours();
  }
  get minute(): number {
    return this.d.getUTCMinutes();
  }
  get second(): number {
    return this.d.getUTCSeconds();
  }
  get microsecond(): number {
    return this.d.getUTCMilliseconds() * 1000 + this.micro;
  }
  /** Microseconds since the epoch of the instant (naive: as UTC). */
  get instantUs(): number {
    return (this.wall - (this.offset ?? 0) * 60_000) * 1000 + this.micro;
  }
  timestamp(): number {
    return this.instantUs / 1e6;
  }
  date(): PyDate {
    return new PyDate(Math.floor(this.wall / 86_400_000) * 86_400_000);
  }
  isoformat(sep = "T"): string {
    const us = this.microsecond;
    return `${this.date().isoformat()}${sep}${pad(this.hour)}:${pad(this.minute)}:${pad(this.second)}${us ? "." + pad(us, 6) : ""}${
      offsetText(this.offset, ":")
    }`;
  }
  override toString(): string {
    return this.isoformat(" ");
  }
  strftime(format: string): string {
    return strftime(format, this.wall, this.microsecond, this.offset);
  }
  plus(us: number): PyDateTime {
    const totalUs = this.wall * 1000 + this.micro + us;
    const ms = Math.floor(totalUs / 1000);
    return new PyDateTime(ms, totalUs - ms * 1000, this.offset);
  }
  static fromUs(us: number, offset: number | null): PyDateTime {
    const ms = Math.floor(us / 1000);
    return new PyDateTime(ms + (offset ?? 0) * 60_000, us - ms * 1000, offset);
  }
}

function offsetText(offset: number | null, sep: string): string {
  if (offset === null) return "";
  const sign = offset < 0 ? "-" : "+";
  return `${sign}${pad(Math.abs(offset) / 60)}${sep}${pad(Math.abs(offset) % 60)}`;
}

const ISO_DATE = /^(\d{4})-?(\d{2})-?(\d{2})$/;
const ISO_DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:.(\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d{1,6}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?)?$/;

function wallOf(y: number, m: number, d: number, what: string, input: string): number {
  const wall = Date.UTC(y, m - 1, d);
  const check = new Date(wall);
  if (check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d) throw new MapError(`Invalid isoformat string for ${what}: '${input}'`);
  return check.setUTCFullYear(y);
}

export function dateFromIso(s: unknown): PyDate {
  if (typeof s !== "string") throw new MapError("fromisoformat: argument must be str");
  const m = ISO_DATE.exec(s);
  if (!m) throw new MapError(`Invalid isoformat string: '${s}'`);
  return new PyDate(wallOf(+m[1]!, +m[2]!, +m[3]!, "date", s));
}

export function datetimeFromIso(s: unknown): PyDateTime {
  if (typeof s !== "string") throw new MapError("fromisoformat: argument must be str");
  const m = ISO_DATETIME.exec(s);
  if (!m) throw new MapError(`Invalid isoformat string: '${s}'`);
  const [, y, mo, d, h = "0", mi = "0", sec = "0", frac = "", tz] = m;
  if (+h > 23 || +mi > 59 || +sec > 59) throw new MapError(`Invalid isoformat string: '${s}'`);
  const us = Number(frac.padEnd(6, "0") || 0);
  const wall = wallOf(+y!, +mo!, +d!, "datetime", s) + ((+h * 60 + +mi) * 60 + +sec) * 1000 + Math.floor(us / 1000);
  let offset: number | null = null;
  if (tz) {
    if (tz === "Z") offset = 0;
    else {
      const parts = tz.slice(1).replace(/:/g, "");
      offset = (tz[0] === "-" ? -1 : 1) * (+parts.slice(0, 2) * 60 + +(parts.slice(2, 4) || 0));
    }
  }
  return new PyDateTime(wall, us % 1000, offset);
}

export function now(tz: unknown): PyDateTime {
  const ms = Date.now();
  const offset = tz === undefined || tz === null ? null : tzOffset(tz);
  return new PyDateTime(ms + (offset ?? 0) * 60_000, 0, offset);
}

/** datetime.timezone.utc, the one timezone offered. */
export class PyTimezone {
  constructor(readonly offset: number) {}
  toString(): string {
    return this.offset === 0 ? "UTC" : `UTC${offsetText(this.offset, ":")}`;
  }
}
export const UTC = new PyTimezone(0);

function tzOffset(tz: unknown): number {
  if (tz instanceof PyTimezone) return tz.offset;
  throw new MapError("tz must be a timezone (datetime.timezone.utc)");
}

const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

function strftime(format: string, wall: number, micro: number, offset: number | null): string {
  const d = new Date(wall);
  const wd = (d.getUTCDay() + 6) % 7;
  const yday = Math.floor((wall - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
  return format.replace(/%(.)/g, (_, c: string) => {
    switch (c) {
      case "Y":
        return pad(d.getUTCFullYear(), 4);
      case "y":
        return pad(d.getUTCFullYear() % 100);
      case "m":
        return pad(d.getUTCMonth() + 1);
      case "d":
        return pad(d.getUTCDate());
      case "H":
        return pad(d.getUTCHours());
      case "I":
        return pad(((d.getUTCHours() + 11) % 12) + 1);
      case "p":
        return d.getUTCHours() < 12 ? "AM" : "PM";
      case "M":
        return pad(d.getUTCMinutes());
      case "S":
        return pad(d.getUTCSeconds());
      case "f":
        return pad(micro, 6);
      case "z":
        return offsetText(offset, "");
      case "Z":
        return offset === null ? "" : offset === 0 ? "UTC" : `UTC${offsetText(offset, ":")}`;
      case "j":
        return pad(yday, 3);
      case "a":
        return DAYS[wd]!.slice(0, 3);
      case "A":
        return DAYS[wd]!;
      case "b":
        return MONTHS[d.getUTCMonth()]!.slice(0, 3);
      case "B":
        return MONTHS[d.getUTCMonth()]!;
      case "w":
        return String((wd + 1) % 7);
      case "%":
        return "%";
      default:
        throw new MapError(`strftime: %${c} is not supported`);
    }
  });
}
