// Reading a protobuf message's top-level fields without decoding it: what the simulated proxies
// read of each response (its version and nonce, names), the bytes arriving in full.

/** A length-delimited field of a message: its number and where its bytes are. */
export interface Field {
  readonly number: number;
  readonly start: number;
  readonly end: number;
}

/** The length-delimited fields of a message, without decoding them (varint fields are skipped). */
export function fields(bytes: Buffer, start = 0, end = bytes.length): Field[] {
  const out: Field[] = [];
  let at = start;
  while (at < end) {
    let key = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[at++]!;
      key += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
      shift += 7;
    }
    const wire = key % 8;
    if (wire === 0) {
      while (bytes[at++]! >= 0x80);
      continue;
    }
    if (wire !== 2) throw new Error(`unexpected wire type ${wire}`);
    let length = 0;
    shift = 0;
    for (;;) {
      const b = bytes[at++]!;
      length += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
      shift += 7;
    }
    out.push({ number: Math.floor(key / 8), start: at, end: at + length });
    at += length;
  }
  return out;
}
