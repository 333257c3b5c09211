// Reading a control plane's admin API from a benchmark.

/** GET an admin route as JSON; throws on a non-2xx answer. */
export async function adminJson<T>(admin: string, route: string): Promise<T> {
  const response = await fetch(`http://${admin}${route}`);
  if (!response.ok) throw new Error(`GET ${route} answered ${response.status}`);
  return (await response.json()) as T;
}

/** One counter or gauge of the control plane's /metrics (NaN when it is not there). */
export async function metric(admin: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${admin}/metrics`)).text();
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return match === null ? NaN : Number(match[1]);
}
