// Secret masking (src/log.ts): long secrets wherever they appear, user names
// and short secrets only where they stand as words of their own, so a user
// named "postgres" does not mask the add-on "postgresql-test-1".
import { describe, expect, it } from "vitest";
import { addSecret, redact } from "../src/log.ts";

describe("redact", () => {
  addSecret("hrku-0123456789abcdef");
  addSecret("postgres", "name");
  addSecret("pw", "secret");
  addSecret("u.s+er", "name");

  it("masks a long secret anywhere, inside words too", () => {
    expect(redact("Bearer hrku-0123456789abcdef and xhrku-0123456789abcdefx")).toBe("Bearer *** and x***x");
  });

  it("masks a user name only as a word of its own", () => {
    expect(redact('postgresql-test-1: password authentication failed for user "postgres"')).toBe(
      'postgresql-test-1: password authentication failed for user "***"',
    );
    expect(redact("postgres://postgres:x@host/db")).toBe("***://***:x@host/db");
  });

  it("masks short secrets, which were left visible before, as words", () => {
    expect(redact("postgres://someone:pw@host/db, pwd and pw_2 stay")).toBe("***://someone:***@host/db, pwd and pw_2 stay");
  });

  it("treats characters of a secret literally, not as a pattern", () => {
    expect(redact("user u.s+er, not uxsser")).toBe("user ***, not uxsser");
  });
});
