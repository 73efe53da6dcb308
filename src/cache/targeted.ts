// Targeted cache-control fields (RFC 9213): a Structured Fields Dictionary (RFC 8941) read as cache directives.

/** The field this cache reads before any other: directives meant for it alone, never sent to clients. */
export const OWN_CACHE_CONTROL = 'express-redis-kit-cache-control';

/** The CDN field of RFC 9213, read when the `cdnCacheControl` option asks for it. */
export const CDN_CACHE_CONTROL = 'cdn-cache-control';

/** A member's value: only what the cache directives use is kept (numbers and booleans). */
export type TargetedValue = number | boolean | string;

/**
 * Parses a Structured Fields Dictionary (RFC 8941 §4.2.2) into member name → bare item value; parameters are
 * parsed and dropped. Returns undefined on any parse error or an empty value: RFC 9213 §2.2 says such a
 * field is ignored as if absent.
 */
export function parseDictionary(input: string): Map<string, TargetedValue> | undefined {
  const p = new Parser(input);
  const out = new Map<string, TargetedValue>();
  p.skipSpaces();
  if (p.done()) return undefined;
  for (;;) {
    const name = p.key();
    if (name === undefined) return undefined;
    let value: TargetedValue | undefined = true;
    if (p.peek() === '=') {
      p.i++;
      if (p.peek() === '(') {
        if (!p.innerList()) return undefined;
        value = '';
      } else {
        value = p.bareItem();
      }
      if (value === undefined) return undefined;
    }
    if (!p.parameters()) return undefined;
    // A repeated key overrides the earlier one (RFC 8941 §4.2.2).
    out.set(name, value);
    p.skipOws();
    if (p.done()) return out;
    if (p.peek() !== ',') return undefined;
    p.i++;
    p.skipOws();
    if (p.done()) return undefined;
  }
}

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  done(): boolean {
    return this.i >= this.s.length;
  }

  peek(): string {
    return this.s.charAt(this.i);
  }

  skipSpaces(): void {
    while (this.peek() === ' ') this.i++;
  }

  skipOws(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.i++;
  }

  key(): string | undefined {
    const m = /^[a-z*][a-z0-9_\-.*]*/.exec(this.s.slice(this.i));
    if (m === null) return undefined;
    this.i += m[0].length;
    return m[0];
  }

  bareItem(): TargetedValue | undefined {
    const rest = this.s.slice(this.i);
    const c = this.peek();
    if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?\d{1,15}(?:\.\d{1,3})?/.exec(rest);
      if (m === null) return undefined;
      const text = m[0];
      const dot = text.indexOf('.');
      // Integers have at most 15 digits, decimals at most 12 before the point (RFC 8941 §4.2.4).
      if (dot !== -1 && dot - (text.startsWith('-') ? 1 : 0) > 12) return undefined;
      this.i += text.length;
      const next = this.peek();
      if (next >= '0' && next <= '9') return undefined;
      if (next === '.') return undefined;
      return dot === -1 ? Number(text) : `decimal:${text}`;
    }
    if (c === '"') {
      let j = this.i + 1;
      let text = '';
      while (j < this.s.length) {
        const ch = this.s.charAt(j);
        if (ch === '\\') {
          const esc = this.s.charAt(j + 1);
          if (esc !== '"' && esc !== '\\') return undefined;
          text += esc;
          j += 2;
          continue;
        }
        if (ch === '"') {
          this.i = j + 1;
          return `string:${text}`;
        }
        const code = ch.charCodeAt(0);
        if (code < 0x20 || code > 0x7e) return undefined;
        text += ch;
        j++;
      }
      return undefined;
    }
    if (c === '?') {
      const b = this.s.charAt(this.i + 1);
      if (b !== '0' && b !== '1') return undefined;
      this.i += 2;
      return b === '1';
    }
    if (c === ':') {
      const m = /^:[A-Za-z0-9+/=]*:/.exec(rest);
      if (m === null) return undefined;
      this.i += m[0].length;
      return `bytes:${m[0]}`;
    }
    const m = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/.exec(rest);
    if (m === null) return undefined;
    this.i += m[0].length;
    return `token:${m[0]}`;
  }

  innerList(): boolean {
    this.i++;
    for (;;) {
      this.skipSpaces();
      if (this.peek() === ')') {
        this.i++;
        return this.parameters();
      }
      if (this.bareItem() === undefined || !this.parameters()) return false;
      const c = this.peek();
      if (c !== ' ' && c !== ')') return false;
    }
  }

  parameters(): boolean {
    while (this.peek() === ';') {
      this.i++;
      this.skipSpaces();
      if (this.key() === undefined) return false;
      if (this.peek() === '=') {
        this.i++;
        if (this.bareItem() === undefined) return false;
      }
    }
    return true;
  }
}
