// A DubboPlugin: a login-token check on the request phase.
//
// Each call must carry an `x-token` attachment: a token signed by whoever logs users in, of the
// form `<user>.<expires>.<signature>`:
//   user       who logged in (any text without line breaks; it may hold dots, e.g. an email)
//   expires    when the token stops being valid, in seconds since the Unix epoch
//   signature  HMAC-SHA256 over `<realm>\n<user>\n<expires>` with the secret in the environment
//              variable LOGIN_TOKEN_SECRET, base64url without padding
// The realm is the DubboPlugin's `spec.tag`: one module, several configurations — a token
// signed for the realm `orders` is refused where the tag is `billing` ('' when no tag is set).
//
// A call with a valid token goes on with `x-user: <user>` added for the provider, and with
// `x-token` removed (an empty value removes an attachment), so the secret credential stops at
// the proxy: the provider, its logs, and any service it calls in turn never see it. A consumer
// cannot pass an `x-user` of its own: a call without a valid token is refused, and a call with
// one has `x-user` replaced by the token's user. (The provider must be reachable only through
// the mesh for `x-user` to be trusted.)
//
// A call without a valid token is answered at once with Dubbo status 70 (SERVICE_ERROR) and a
// message saying why; the provider never sees it. Dubbo has no status of its own for "not
// logged in": its built-in token check (Dubbo's TokenFilter) refuses a call by throwing on the
// provider, which a consumer receives as 70 with the message, and 70 is what a consumer's error
// handling already treats as "the service refused this call". 40 (BAD_REQUEST) is for requests
// that cannot be decoded, and 80/90 would read as the server's or client's own failure.
//
// No network call, no state: each call is checked with the secret and the clock alone.
// Run it in process (DubboPlugin `spec.module`) or as a gRPC plugin
// (`dubbo-mesh plugin serve login-token.mjs`): see README.md next to this file.
//
// Run directly to sign a token for trying it out:
//   LOGIN_TOKEN_SECRET=… node login-token.mjs USER [SECONDS_VALID=3600] [REALM='']
import { createHmac, timingSafeEqual } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const SECRET = process.env.LOGIN_TOKEN_SECRET ?? '';
// Refusing to load is the safe failure: the proxy reports it, and the DubboPlugin's
// failurePolicy (fail-closed by default) decides what happens to calls meanwhile.
if (SECRET.length < 16) throw new Error('LOGIN_TOKEN_SECRET must be set to a secret of at least 16 characters');

/** The signature of a token's user and expiry in a realm. */
function signatureOf(realm, user, expires, secret) {
  return createHmac('sha256', secret).update(`${realm}\n${user}\n${expires}`).digest('base64url');
}

/** A token for `user`, valid until `expires` (seconds since the epoch) in `realm`. */
export function signToken(user, expires, realm = '', secret = SECRET) {
  if (user === '' || /[\r\n]/.test(user)) throw new Error('a user is non-empty text on one line');
  return `${user}.${expires}.${signatureOf(realm, user, expires, secret)}`;
}

/** The token's user, or why it is refused. `now` is in seconds since the epoch. */
export function checkToken(token, realm, now, secret = SECRET) {
  const lastDot = token.lastIndexOf('.');
  const middleDot = token.lastIndexOf('.', lastDot - 1);
  const user = token.slice(0, Math.max(middleDot, 0));
  const expires = token.slice(middleDot + 1, lastDot);
  const signature = token.slice(lastDot + 1);
  if (middleDot <= 0 || /[\r\n]/.test(user) || !/^\d{1,12}$/.test(expires) || signature === '') return { refused: 'x-token is malformed' };
  const expected = Buffer.from(signatureOf(realm, user, expires, secret));
  const given = Buffer.from(signature);
  // Compared in constant time: how long a comparison takes must not tell an attacker how much of a guess was right.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { refused: 'x-token is invalid' };
  if (Number(expires) <= now) return { refused: 'x-token expired' };
  return { user };
}

/** The plugin: one phase of one call in, an answer out (see proto/dubbo_mesh/plugin/v1/plugin.proto). */
export default function loginToken(request) {
  // Configured for the request phase; in the response phase there is nothing to check.
  if (request.phase !== 'REQUEST') return undefined;
  const token = request.attachments['x-token'];
  if (token === undefined || token === '') return { code: 70, message: 'login required: the call has no x-token attachment' };
  const checked = checkToken(token, request.tag, Math.floor(Date.now() / 1000));
  if (checked.refused !== undefined) return { code: 70, message: `login required: ${checked.refused}` };
  return { set_attachments: { 'x-user': checked.user, 'x-token': '' } };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [user, seconds = '3600', realm = ''] = process.argv.slice(2);
  if (user === undefined) {
    process.stderr.write('usage: LOGIN_TOKEN_SECRET=… node login-token.mjs USER [SECONDS_VALID=3600] [REALM]\n');
    process.exitCode = 2;
  } else {
    process.stdout.write(`${signToken(user, Math.floor(Date.now() / 1000) + Number(seconds), realm)}\n`);
  }
}
