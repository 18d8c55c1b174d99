/** Small string helpers shared by the CBOR encoder and the canonical JSON forms. */

/**
 * Code point order, which is also the bytewise order of the UTF-8 encodings. It differs
 * from JavaScript's `<` (UTF-16 units) where surrogates meet U+E000–U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates stand for code points above 0xFFFF: they rank above every other unit.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** UTF-8 byte length without encoding (a lone surrogate counts 3, as U+FFFD would). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // two units, four bytes
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}
