/**
 * Plain words for the errno codes of binding a listen address: the mistakes a user makes
 * when choosing one. One table for every listener (proxy, gateway, control plane, admin
 * APIs), so every command says the same thing for the same cause.
 */
const LISTEN_CAUSES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'address not available on this host',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name could not be resolved now',
  EAFNOSUPPORT: 'address family not supported on this host',
};

/** Why binding failed, in plain words for a known errno `code`; else `fallback` (what the system said), so nothing is lost. */
export function listenCause(code: string | undefined, fallback: string): string {
  return (code === undefined ? undefined : LISTEN_CAUSES[code]) ?? fallback;
}
