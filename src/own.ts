// Objects keyed by outside data (column, table and config names, API fields,
// bookmark keys). Plain assignment treats "__proto__" as the prototype, not a
// key: the column vanished from SCHEMA and RECORD, and the same path is how
// prototype pollution starts. Object.fromEntries and these helpers define
// own properties, so no name is special.

/** Sets `key` as an own, enumerable property, whatever its name. */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** `value[key]` only when it is the object's own property, never an inherited one. */
export function getOwn(value: object, key: string): unknown {
  return Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
}
