/** This proxy's own identity, as the control plane and rules know it. */
export interface NodeIdentity {
  /** The node id (`ProxyOptions.node`). */
  readonly id: string;
  /** The mesh service this proxy runs beside, when it was given one. */
  readonly service: string | undefined;
  /** Its namespace, when it was given one. */
  readonly namespace: string | undefined;
  /** Its labels (empty when none were given). */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * The IP of the instance this proxy runs beside (a pod's IP), when known: Dubbo's rules see
   * it as the consumer's host for calls that come over loopback from the application.
   */
  readonly ip: string | undefined;
}

/**
 * Who makes a call and where it passes, for filters and endpoint narrowing (Dubbo's
 * condition rules match `consumer.application`, `consumer.host`, …). Each value is read
 * when first asked for and then kept for the call: a call nobody asks about pays nothing.
 */
export interface CallContext {
  /**
   * The consumer application: the `remote.application` attachment (what Dubbo 3 consumers
   * send), else `application` (Dubbo 2.7); undefined when the consumer sent neither.
   */
  readonly consumerApplication: string | undefined;
  /** The consumer's address as the proxy sees it: the downstream socket's remote `host:port` (`[v6]:port` for IPv6). */
  readonly consumerAddress: string;
  /** This proxy. */
  readonly node: NodeIdentity;
}

/** `host:port` of a socket's remote end, IPv6 hosts in brackets; `unknown` once the socket is gone. */
export function formatAddress(host: string | undefined, port: number | undefined): string {
  if (host === undefined || port === undefined) return 'unknown';
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A frozen identity from the proxy's options. */
export function nodeIdentity(
  id: string,
  service: string | undefined,
  namespace: string | undefined,
  labels: Readonly<Record<string, string>> | undefined,
  ip?: string,
): NodeIdentity {
  return Object.freeze({ id, service, namespace, labels: Object.freeze({ ...(labels ?? {}) }), ip });
}

/** `host` of `host:port` or `[v6]:port`. */
export function hostOfAddress(address: string): string {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']'));
  const colon = address.lastIndexOf(':');
  return colon < 0 ? address : address.slice(0, colon);
}

function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.') || host === 'localhost';
}

/**
 * The consumer's host as Dubbo would know it: the one it connects from (an IPv4-mapped
 * `::ffff:10.0.0.5`, as a listener on `::` sees it, is `10.0.0.5`), or, when that is loopback
 * (the application beside a sidecar), this proxy's instance IP when known: the address Dubbo's
 * consumer would have registered.
 */
export function consumerHost(consumerAddress: string, node: NodeIdentity): string {
  const address = hostOfAddress(consumerAddress);
  const host = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  return isLoopback(host) && node.ip !== undefined ? node.ip : host;
}
