// The flags of `dubbo-mesh injector` as data (SPEC "Command line", the contract of issue #12):
// the command line parses them, `--help` and the docs read them.
import { LOG_LEVELS, defineFlags, type FlagSpec } from '@dubbo-mesh/sidecar/flags';
import { DEFAULT_IMAGE } from './injector-config.js';
import { JAVA_RECIPE_MODES } from './java-recipe.js';

/** The MutatingWebhookConfiguration and Service names of deploy/. */
export const DEFAULT_WEBHOOK_CONFIG = 'dubbo-mesh-injector';
export const DEFAULT_SERVICE = 'dubbo-mesh-injector';

/** Every flag of `dubbo-mesh injector`. */
export const INJECTOR_FLAGS: readonly FlagSpec[] = defineFlags([
  {
    name: 'control-plane',
    type: 'string',
    required: true,
    description: "the control plane's gRPC address HOST:PORT that injected sidecars connect to",
  },
  { name: 'listen', type: 'string', default: '0.0.0.0:9443', description: "the webhook's HTTPS address HOST:PORT (POST /inject)" },
  {
    name: 'tls-cert',
    type: 'string',
    description: "the serving certificate's PEM file, re-read when it changes (with --tls-key; without both, in a cluster, the injector keeps its own)",
  },
  { name: 'tls-key', type: 'string', description: "the serving certificate's private key PEM file, re-read when it changes (with --tls-cert)" },
  { name: 'image', type: 'string', default: DEFAULT_IMAGE, description: 'the image of the injected sidecar' },
  { name: 'admin', type: 'string', default: '127.0.0.1:15002', description: "the admin API's address HOST:PORT (/ready, /metrics)" },
  {
    name: 'native-sidecar',
    type: 'string',
    default: 'true',
    description: 'true: the sidecar is an init container with restartPolicy Always (Kubernetes 1.29+); false: a plain container',
  },
  {
    name: 'java-recipe',
    type: 'string',
    default: 'consumer',
    description: `the JVM properties given to application containers: ${JAVA_RECIPE_MODES.join(', ')} (a pod's annotation may choose another)`,
  },
  {
    name: 'fail-open',
    type: 'boolean',
    description: 'admit a pod with an invalid dubbo-mesh.io annotation without a sidecar, with a warning, instead of refusing it',
  },
  {
    name: 'webhook-config',
    type: 'string',
    default: DEFAULT_WEBHOOK_CONFIG,
    description: 'the MutatingWebhookConfiguration whose caBundle the injector keeps, when it keeps its own certificate',
  },
  {
    name: 'service',
    type: 'string',
    default: DEFAULT_SERVICE,
    description: 'the Service the API server calls the injector by, named by its own certificate (in POD_NAMESPACE)',
  },
  { name: 'log-level', type: 'string', default: 'info', description: `the least severe log level written: ${LOG_LEVELS.join(', ')}` },
]);
