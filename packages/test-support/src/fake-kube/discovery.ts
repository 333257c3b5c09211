// The discovery documents (/api, /apis, /api/v1, /apis/GROUP/VERSION, /version) for the
// types served, for clients that discover before they call (client-node's KubernetesObjectApi).
import { apiVersionOf, type FakeKubeResourceType } from './resource-types.js';

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

/** `/api`: the core group's versions. */
export function coreVersions(serverAddress: string): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

/** `/apis`: every named group with the versions served. */
export function groupList(types: readonly FakeKubeResourceType[]): object {
  const groups = new Map<string, string[]>();
  for (const type of types) {
    if (type.group === '') continue;
    const versions = groups.get(type.group) ?? [];
    if (!versions.includes(type.version)) versions.push(type.version);
    groups.set(type.group, versions);
  }
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups.entries()].map(([name, versions]) => ({
      name,
      versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })),
      preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
    })),
  };
}

/** `/api/v1` or `/apis/GROUP/VERSION`: the resources of one group-version, with their status subresources. */
export function resourceList(group: string, version: string, types: readonly FakeKubeResourceType[]): object {
  const served = types.filter((type) => type.group === group && type.version === version);
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: served[0] === undefined ? `${group}/${version}` : apiVersionOf(served[0]),
    resources: served.flatMap((type) => [
      { name: type.plural, singularName: type.kind.toLowerCase(), namespaced: type.namespaced, kind: type.kind, verbs: VERBS },
      ...(type.statusSubresource
        ? [{ name: `${type.plural}/status`, singularName: '', namespaced: type.namespaced, kind: type.kind, verbs: ['get', 'patch', 'update'] }]
        : []),
    ]),
  };
}

/** `/version`, saying plainly that this is the fake. */
export function versionInfo(): object {
  return {
    major: '1',
    minor: '34',
    gitVersion: 'v1.34.0-fake.dubbo-mesh-test-support',
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '1970-01-01T00:00:00Z',
    goVersion: 'none (a fake API server in Node.js)',
    compiler: 'none',
    platform: `${process.platform}/${process.arch}`,
  };
}
