/**
 * A read-only, case-insensitive view over a response's header fields, keeping the raw
 * ordered pairs exactly as the server sent them.
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

  /**
   * The field's value, or `null` when absent. Repeated fields are joined with `", "`
   * (RFC 9110 §5.3), except `set-cookie`, whose values cannot be joined: use {@link getAll}.
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

  /** True when the field is present. */
  has(name: string): boolean {
    return this.#lookup().has(name.toLowerCase());
  }

  /** Number of header lines received. */
  get size(): number {
    return this.raw.length >> 1;
  }

  /** The raw `[name, value]` pairs in wire order. */
  *[Symbol.iterator](): Iterator<[string, string]> {
    const raw = this.raw;
    for (let i = 0; i + 1 < raw.length; i += 2) yield [raw[i]!, raw[i + 1]!];
  }

  /** A plain object keyed by lower-case name; repeated fields joined as {@link get} does. */
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of this.#lookup().keys()) out[name] = this.get(name)!;
    return out;
  }
}
