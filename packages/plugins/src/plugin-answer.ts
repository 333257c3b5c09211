import type { PluginResponse } from './plugin-api.js';

// What a plugin answers, checked the same way in process (the proxy's filter) and behind
// `plugin serve` (the gRPC server): a module behaves the same wherever it runs.

/** The fields of a plugin's answer, as the proto names them. */
const ANSWER_FIELDS = ['code', 'set_attachments', 'message'] as const;

/** An answer as the proto carries it: every field present. */
export type WirePluginResponse = { readonly [K in keyof PluginResponse]-?: NonNullable<PluginResponse[K]> };

/** A module's answer read as a {@link WirePluginResponse}, or every reason it cannot be one. */
export type CheckedPluginAnswer = { readonly valid: true; readonly result: WirePluginResponse } | { readonly valid: false; readonly errors: readonly string[] };

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** What a value is, in a message: `a string ("70")`, `an array`, `null`. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `a ${typeof value} (${String(value)})`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Read what a plugin function returned (after awaiting it) as the proto's answer: nothing
 * (`undefined` or `null`) is "go on" (code 0); otherwise an object whose `code` is a whole
 * number (int32, absent: 0), whose `set_attachments` maps names to strings, and whose `message`
 * is a string, with no other field (a misspelt `setAttachments` would otherwise be dropped in
 * silence). Whether a code is a Dubbo status is the proxy's to judge, as for any gRPC plugin.
 */
export function checkPluginAnswer(answer: unknown): CheckedPluginAnswer {
  if (answer === undefined || answer === null) return { valid: true, result: { code: 0, set_attachments: {}, message: '' } };
  if (!isRecord(answer)) return { valid: false, errors: [`answered ${kindOf(answer)}, not an object {code, set_attachments, message} or nothing`] };
  const errors: string[] = [];
  for (const key of Object.keys(answer)) {
    if (!(ANSWER_FIELDS as readonly string[]).includes(key)) errors.push(`unknown field ${JSON.stringify(key)} (an answer has ${ANSWER_FIELDS.join(', ')})`);
  }
  const code = answer.code ?? 0;
  if (typeof code !== 'number' || !Number.isInteger(code) || code < INT32_MIN || code > INT32_MAX)
    errors.push(`code must be a whole number such as 0 or 70, got ${kindOf(code)}`);
  const message = answer.message ?? '';
  if (typeof message !== 'string') errors.push(`message must be a string, got ${kindOf(message)}`);
  const setAttachments = answer.set_attachments ?? {};
  const attachments: Record<string, string> = {};
  if (!isRecord(setAttachments)) errors.push(`set_attachments must be an object of strings, got ${kindOf(setAttachments)}`);
  else {
    for (const [name, value] of Object.entries(setAttachments)) {
      if (typeof value === 'string') attachments[name] = value;
      else errors.push(`set_attachments[${JSON.stringify(name)}] must be a string ('' removes it), got ${kindOf(value)}`);
    }
  }
  if (errors.length > 0) return { valid: false, errors };
  return { valid: true, result: { code: code as number, set_attachments: attachments, message: message as string } };
}
