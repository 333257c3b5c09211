// @dubbo-mesh/injector: the sidecar injector. The pure handler (an AdmissionReview in, the
// response and the decision out) and what it is made of; the HTTPS server, its certificates
// (files, or its own CA kept in a Secret) and the application the command line starts.

export { reviewAdmission, type AdmissionDecision, type AdmissionOutcome } from './admission.js';
export {
  ADMISSION_REVIEW_API_VERSION,
  ADMISSION_REVIEW_KIND,
  admissionResponse,
  parseAdmissionReview,
  type AdmissionReviewResponse,
  type ParsedAdmissionReview,
  type PodContainer,
  type PodObject,
} from './admission-review.js';
export * from './errors.js';
export { PART_OF_LABEL, PART_OF_MESH, injectionDecision, type InjectionDecision } from './injection-policy.js';
export {
  DEFAULT_CONTROL_PLANE,
  DEFAULT_IMAGE,
  DEFAULT_SIDECAR_RESOURCES,
  INSTALL_NAMESPACE,
  MIN_SIDECAR_MEMORY,
  defaultInjectorConfig,
  sidecarResourceProblem,
  type InjectorConfig,
  type ProxyLogLevel,
  type SidecarResources,
} from './injector-config.js';
export {
  JAVA_RECIPE_MIGRATION_ENV,
  JAVA_RECIPE_MIGRATION_WARNING,
  JAVA_RECIPE_MODES,
  JAVA_RECIPE_PROPERTIES,
  RESOLVE_FILE_PATH,
  RESOLVE_VOLUME_NAME,
  javaRecipeOptions,
  type JavaRecipeMode,
  type JavaRecipeProperty,
} from './java-recipe.js';
export { createJsonPatch, type JsonPatchOperation } from './json-patch.js';
export { POD_ANNOTATIONS, readPodAnnotations, type AnnotationReading, type PodInjectionSettings } from './pod-annotations.js';
export { injectPod, type InjectedStatus, type InjectionResult } from './pod-injection.js';
export { PLUGIN_MODULE_ROOT, SIDECAR_ADMIN_PORT_NAME, SIDECAR_TEMPLATE_VERSION, proxyArgs, sidecarContainer } from './sidecar-template.js';
export {
  DEFAULT_DRAIN_MS,
  DEFAULT_INJECTOR_NAMESPACE,
  INJECTOR_ENV,
  INJECTOR_LEASE,
  admissionSettingsFromFlags,
  certificateOriginFromFlags,
  startInjectorApp,
  type AdmissionSettings,
  type CertificateOrigin,
  type InjectorApp,
  type InjectorAppOptions,
  type InjectorFlagValues,
  type InjectorStopOptions,
} from './injector-app.js';
export { DEFAULT_SERVICE, DEFAULT_WEBHOOK_CONFIG, INJECTOR_FLAGS } from './injector-flags.js';
export { InjectorMetrics, REVIEW_RESULTS, type OwnCertificatesState, type ReviewResult } from './injector-metrics.js';
export {
  DEFAULT_BODY_LIMIT_BYTES,
  INJECT_PATH,
  KEEP_ALIVE_TIMEOUT_MS,
  startInjectorAdmin,
  startInjectorServer,
  type AdmissionHandler,
  type AdmissionHandlerResult,
  type InjectorLogger,
  type InjectorServer,
  type InjectorServerOptions,
} from './injector-server.js';
export { checkCertificatePair, readCertificatePair, startTlsFileWatcher, type CertificatePair, type CertificateSource } from './tls-files.js';
export { createCertificateAuthority, issueServingCertificate, serviceDnsNames, type IssuedCertificate } from './self-signed-certificates.js';
// Types only: a value export would load the Kubernetes client at every start (the app loads it when it keeps its own certificates).
export type { WebhookCertificates, WebhookCertificatesOptions } from './webhook-certificates.js';
