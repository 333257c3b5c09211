import { duration, integer, list, map, object, oneOf, string, type CheckContext } from '@dubbo-mesh/schema';
import { DEFAULT_DESTINATION_WEIGHT, DEFAULT_RETRY_ON, defaultRouteName } from '../defaults.js';
import { resourceTarget, type CrossReference, type KindDefinition, type SpecOf } from '../kind-definition.js';
import {
  RETRY_ON,
  type ArgumentMatch,
  type DubboRouteConfig,
  type RetryPolicy,
  type RouteDestination,
  type RouteMatch,
  type RouteRule,
  type StringMatch,
} from '../types.js';
import { NAME, STRING_MATCH, STRING_MATCH_FIELDS } from './common-nodes.js';
import { subsetTarget } from './dubbo-policy.js';

/** `{index: 0, exact: "42"}`: a match on one argument. */
const ARGUMENT_MATCH = object<{ index: number } & Partial<Record<'exact' | 'prefix' | 'regex', string>>>(
  { index: { node: integer(0, 255), required: true }, ...STRING_MATCH_FIELDS },
  { exactlyOneOf: ['exact', 'prefix', 'regex'] },
).refine(({ index, ...match }): ArgumentMatch => ({ index, match: match as StringMatch }));

const ROUTE_MATCH = object<RouteMatch>({
  method: { node: STRING_MATCH },
  attachments: { node: map(STRING_MATCH) },
  arguments: { node: list(ARGUMENT_MATCH) },
});

const DESTINATION = object<RouteDestination>({
  service: { node: string({ rule: NAME }), required: true },
  subset: { node: string() },
  weight: { node: integer(0, 1_000_000), default: DEFAULT_DESTINATION_WEIGHT },
});

const DESTINATIONS = list(DESTINATION, { minItems: { count: 1, message: 'must have at least one destination' } }).refine((destinations, context) => {
  // Beyond OpenAPI: the CRD takes all-zero weights, the file validation refuses them.
  if (destinations.length > 0 && destinations.every((d) => d.weight === 0)) context.fail('weights must not all be 0');
  return destinations;
});

const RETRIES = object<RetryPolicy>({
  attempts: { node: integer(0, 10), required: true },
  retryOn: { node: list(oneOf(RETRY_ON)), default: DEFAULT_RETRY_ON },
});

/** A route's name defaults by its index (read from the path: `spec.routes[i]`). */
function named(rule: Omit<RouteRule, 'name'> & { name?: string }, context: CheckContext): RouteRule {
  if (rule.name !== undefined) return rule as RouteRule;
  return { name: defaultRouteName(context.path[context.path.length - 1] as number), ...rule };
}

const ROUTE = object<Omit<RouteRule, 'name'> & { name?: string }>({
  name: { node: string() },
  match: { node: list(ROUTE_MATCH), default: [] },
  destinations: { node: DESTINATIONS, required: true, fallback: [] },
  timeout: { node: duration(), as: 'timeoutMs' },
  retries: { node: RETRIES },
}).refine(named);

/** DubboRoute: how calls for some service keys are routed; it refers to services and their subsets. */
export const dubboRouteKind: KindDefinition<DubboRouteConfig> = {
  kind: 'DubboRoute',
  names: { plural: 'dubboroutes', singular: 'dubboroute', shortNames: ['dr'] },
  configKey: 'routes',
  printerColumns: [
    { name: 'Hosts', type: 'string', jsonPath: '.spec.hosts', description: 'The interfaces the route applies to' },
    {
      name: 'Destinations',
      type: 'string',
      jsonPath: '.spec.routes[*].destinations[*].service',
      description: 'The service of the first destination (kubectl shows the first value; -o yaml shows all)',
    },
  ],
  spec: object<SpecOf<DubboRouteConfig>>({
    hosts: { node: list(string(), { minItems: { count: 1, message: 'must name at least one interface' } }), required: true, fallback: [] },
    routes: { node: list(ROUTE, { minItems: { count: 1, message: 'must have at least one route' } }), required: true, fallback: [] },
  }),
  references(route) {
    const { namespace } = route.metadata;
    const out: CrossReference[] = [];
    route.routes.forEach((rule, i) =>
      rule.destinations.forEach((destination, j) => {
        const service: CrossReference = {
          path: ['spec', 'routes', i, 'destinations', j, 'service'],
          target: resourceTarget('DubboService', namespace, destination.service),
          missing: `no DubboService ${JSON.stringify(destination.service)} in namespace ${namespace}`,
        };
        out.push(service);
        if (destination.subset !== undefined) {
          out.push({
            path: ['spec', 'routes', i, 'destinations', j, 'subset'],
            target: subsetTarget(namespace, destination.service, destination.subset),
            missing: `service ${destination.service} has no subset ${JSON.stringify(destination.subset)} (subsets are defined by its DubboPolicy)`,
            after: service,
          });
        }
      }),
    );
    return out;
  },
};
