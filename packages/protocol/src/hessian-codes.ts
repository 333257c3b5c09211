/**
 * Hessian 2.0 type codes, named as the reference implementation of the Hessian 2.0
 * serialization spec names them (Caucho's `Hessian2Constants`: `BC_…` for a code, `…_MAX`
 * for the top of a compact range). The spec's grammar gives the same bytes (`x4e` for null,
 * `x90` for the int 0, …); these names are what the scanner, the writer and the proxy
 * compare bytes against instead of bare numbers.
 *
 * Plain `const` numbers rather than an object of codes: no property load in the scanner's
 * inner loops.
 */

/** `N`: null. */
export const BC_NULL = 0x4e;
/** `T`: true. */
export const BC_TRUE = 0x54;
/** `F`: false. */
export const BC_FALSE = 0x46;

/** `I`: a 32-bit int, four bytes follow. */
export const BC_INT = 0x49;
/** One-byte compact int: `BC_INT_ZERO + n` for n in [INT_DIRECT_MIN, INT_DIRECT_MAX] (0x80-0xbf). */
export const BC_INT_ZERO = 0x90;
/** The lowest one-byte compact int code (-16). */
export const BC_INT_DIRECT_LOW = 0x80;
/** The highest one-byte compact int code (47). */
export const BC_INT_DIRECT_HIGH = 0xbf;
/** Smallest int written in one byte. */
export const INT_DIRECT_MIN = -0x10;
/** Largest int written in one byte. */
export const INT_DIRECT_MAX = 0x2f;
/** Two-byte compact int: `BC_INT_BYTE_ZERO + (n >> 8)`, then the low byte (0xc0-0xcf). */
export const BC_INT_BYTE_ZERO = 0xc8;
/** The lowest two-byte compact int code. */
export const BC_INT_BYTE_LOW = 0xc0;
/** The highest two-byte compact int code. */
export const BC_INT_BYTE_HIGH = 0xcf;
/** Smallest int written in two bytes. */
export const INT_BYTE_MIN = -0x800;
/** Largest int written in two bytes. */
export const INT_BYTE_MAX = 0x7ff;
/** Three-byte compact int: `BC_INT_SHORT_ZERO + (n >> 16)`, then two bytes (0xd0-0xd7). */
export const BC_INT_SHORT_ZERO = 0xd4;
/** The lowest three-byte compact int code. */
export const BC_INT_SHORT_LOW = 0xd0;
/** The highest three-byte compact int code. */
export const BC_INT_SHORT_HIGH = 0xd7;
/** Smallest int written in three bytes. */
export const INT_SHORT_MIN = -0x40000;
/** Largest int written in three bytes. */
export const INT_SHORT_MAX = 0x3ffff;

/** `L`: a 64-bit long, eight bytes follow. */
export const BC_LONG = 0x4c;
/** `Y`: a long in 32 bits, four bytes follow. */
export const BC_LONG_INT = 0x59;
/** One-byte compact long: `BC_LONG_ZERO + n` (0xd8-0xef). */
export const BC_LONG_ZERO = 0xe0;
/** The lowest one-byte compact long code. */
export const BC_LONG_DIRECT_LOW = 0xd8;
/** The highest one-byte compact long code. */
export const BC_LONG_DIRECT_HIGH = 0xef;
/** Two-byte compact long: `BC_LONG_BYTE_ZERO + (n >> 8)`, then the low byte (0xf0-0xff). */
export const BC_LONG_BYTE_ZERO = 0xf8;
/** The lowest two-byte compact long code. */
export const BC_LONG_BYTE_LOW = 0xf0;
/** Three-byte compact long: `BC_LONG_SHORT_ZERO + (n >> 16)`, then two bytes (0x38-0x3f). */
export const BC_LONG_SHORT_ZERO = 0x3c;
/** The lowest three-byte compact long code. */
export const BC_LONG_SHORT_LOW = 0x38;
/** The highest three-byte compact long code. */
export const BC_LONG_SHORT_HIGH = 0x3f;

/** `D`: a 64-bit double, eight bytes follow. */
export const BC_DOUBLE = 0x44;
/** The double 0.0. */
export const BC_DOUBLE_ZERO = 0x5b;
/** The double 1.0. */
export const BC_DOUBLE_ONE = 0x5c;
/** A double that is a signed byte, one byte follows. */
export const BC_DOUBLE_BYTE = 0x5d;
/** A double that is a signed short, two bytes follow. */
export const BC_DOUBLE_SHORT = 0x5e;
/** A double as a 32-bit int of thousandths, four bytes follow. */
export const BC_DOUBLE_MILL = 0x5f;

/** `J`: a date in milliseconds, eight bytes follow. */
export const BC_DATE = 0x4a;
/** `K`: a date in minutes, four bytes follow. */
export const BC_DATE_MINUTE = 0x4b;

/** `S`: the final string chunk, a two-byte length follows. */
export const BC_STRING = 0x53;
/** `R`: a non-final string chunk, a two-byte length follows. */
export const BC_STRING_CHUNK = 0x52;
/** Compact string: the code is the length (0x00-0x1f). */
export const BC_STRING_DIRECT = 0x00;
/** Longest compact string (its code). */
export const STRING_DIRECT_MAX = 0x1f;
/** Two-byte-length string: `BC_STRING_SHORT + (length >> 8)`, then the low byte (0x30-0x33). */
export const BC_STRING_SHORT = 0x30;
/** The highest two-byte-length string code. */
export const BC_STRING_SHORT_HIGH = 0x33;
/** Longest string written with a two-byte header. */
export const STRING_SHORT_MAX = 0x3ff;

/** `B`: the final binary chunk, a two-byte length follows. */
export const BC_BINARY = 0x42;
/** `A`: a non-final binary chunk, a two-byte length follows. */
export const BC_BINARY_CHUNK = 0x41;
/** Compact binary: `BC_BINARY_DIRECT + length` (0x20-0x2f). */
export const BC_BINARY_DIRECT = 0x20;
/** The highest compact binary code. */
export const BC_BINARY_DIRECT_HIGH = 0x2f;
/** Two-byte-length binary: `BC_BINARY_SHORT + (length >> 8)`, then the low byte (0x34-0x37). */
export const BC_BINARY_SHORT = 0x34;
/** The highest two-byte-length binary code. */
export const BC_BINARY_SHORT_HIGH = 0x37;

/** `U`: a typed list of variable length, ended by `BC_END`. */
export const BC_LIST_VARIABLE = 0x55;
/** `V`: a typed list with its length. */
export const BC_LIST_FIXED = 0x56;
/** `W`: an untyped list of variable length, ended by `BC_END`. */
export const BC_LIST_VARIABLE_UNTYPED = 0x57;
/** `X`: an untyped list with its length. */
export const BC_LIST_FIXED_UNTYPED = 0x58;
/** Short typed list: `BC_LIST_DIRECT + length` (0x70-0x77). */
export const BC_LIST_DIRECT = 0x70;
/** The highest short typed list code. */
export const BC_LIST_DIRECT_HIGH = 0x77;
/** Short untyped list: `BC_LIST_DIRECT_UNTYPED + length` (0x78-0x7f). */
export const BC_LIST_DIRECT_UNTYPED = 0x78;
/** The highest short untyped list code. */
export const BC_LIST_DIRECT_UNTYPED_HIGH = 0x7f;

/** `H`: an untyped map, ended by `BC_END`. */
export const BC_MAP_UNTYPED = 0x48;
/** `M`: a typed map, ended by `BC_END`. */
export const BC_MAP = 0x4d;
/** `Z`: the end of a variable-length list or of a map. */
export const BC_END = 0x5a;

/** `C`: a class definition. */
export const BC_OBJECT_DEF = 0x43;
/** `O`: an object naming its class definition by an int. */
export const BC_OBJECT = 0x4f;
/** Short object: `BC_OBJECT_DIRECT + definition` (0x60-0x6f). */
export const BC_OBJECT_DIRECT = 0x60;
/** The highest short object code. */
export const BC_OBJECT_DIRECT_HIGH = 0x6f;
/** `Q`: a back-reference to an earlier list, map or object. */
export const BC_REF = 0x51;
