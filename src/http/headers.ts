/**
 * A read-only, case-insensitive view over a response's header fields that reads like Fetch's
 * `Headers`, keeping the raw ordered pairs exactly as the server sent them in {@link raw}.
 *
 * Iteration ({@link entries}, {@link keys}, {@link values}, {@link forEach}, `for...of`)
 * follows the Fetch standard's: lower-case names in sorted order, each once with its values
 * joined by `", "` as {@link get} gives them, except `set-cookie`, listed once per value
 * (cookies cannot be joined). {@link toJSON} holds the same names and values.
 */
export class ResponseHeaders implements Iterable<[string, string]> {
  /** Flat `[name, value, name, value, ...]`, names as received, in wire order. */
  readonly raw: readonly string[];
  // Built on first lookup: most responses are looked up once or twice, many never.
  #index: Map<string, string[]> | undefined;

  constructor(raw: readonly string[]) {
    this.raw = raw;
  }

  #lookup(): Map<string, string[]> {
    if (this.#index !== undefined) return this.#index;
    const index = new Map<string, string[]>();
    const raw = this.raw;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      const values = index.get(name);
      if (values === undefined) index.set(name, [raw[i + 1]!]);
      else values.push(raw[i + 1]!);
    }
    this.#index = index;
    return index;
  }

  /** The lower-case names received, sorted (field names are ASCII, so code-unit order). */
  #sortedNames(): string[] {
    return [...this.#lookup().keys()].sort();
  }

  /**
   * The field's value, or `null` when absent. Repeated fields are joined with `", "`
   * (RFC 9110 §5.3), `set-cookie` too, as Fetch does: read cookies with {@link getSetCookie}.
   */
  get(name: string): string | null {
    const values = this.#lookup().get(name.toLowerCase());
    if (values === undefined) return null;
    return values.length === 1 ? values[0]! : values.join(', ');
  }

  /** Every value of the field, in wire order (`[]` when absent). */
  getAll(name: string): string[] {
    return this.#lookup().get(name.toLowerCase())?.slice() ?? [];
  }

  /** Each `Set-Cookie` value on its own, in wire order (`[]` when none), as Fetch's `getSetCookie()`. */
  getSetCookie(): string[] {
    return this.getAll('set-cookie');
  }

  /** True when the field is present. */
  has(name: string): boolean {
    return this.#lookup().has(name.toLowerCase());
  }

  /** Number of header lines received. */
  get size(): number {
    return this.raw.length >> 1;
  }

  /**
   * `[name, value]` pairs: lower-case names, sorted, values joined as {@link get} does, and one
   * pair per `set-cookie` value (the Fetch standard's order). Wire order and case: {@link raw}.
   */
  *entries(): IterableIterator<[string, string]> {
    const index = this.#lookup();
    for (const name of this.#sortedNames()) {
      const values = index.get(name)!;
      if (name === 'set-cookie') for (const value of values) yield [name, value];
      else yield [name, values.length === 1 ? values[0]! : values.join(', ')];
    }
  }

  /** The names of {@link entries}, in its order (`set-cookie` once per value). */
  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  /** The values of {@link entries}, in its order. */
  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  /** Calls `callback(value, name, headers)` for each of {@link entries}, as Fetch's `forEach`. */
  forEach(
    callback: (value: string, name: string, headers: ResponseHeaders) => void,
    thisArg?: unknown,
  ): void {
    for (const [name, value] of this.entries()) callback.call(thisArg, value, name, this);
  }

  /** The same as {@link entries}. */
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /**
   * A plain object keyed by lower-case name, in sorted order, each value as {@link get} gives
   * it (so `set-cookie` values are joined; {@link getSetCookie} has them apart).
   */
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of this.#sortedNames()) {
      const value = this.get(name)!;
      // `__proto__` is a valid field name; assigned, it would set the prototype instead.
      if (name === '__proto__') {
        Object.defineProperty(out, name, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else out[name] = value;
    }
    return out;
  }
}
