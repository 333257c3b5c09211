// @dubbo-mesh/injector: the sidecar injector. The pure handler (an AdmissionReview in, the
// response and the decision out) and what it is made of; the HTTPS server and the certificates
// around it join as their parts land.

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
export { BadAdmissionReviewError, InjectorError, InjectorErrorCode, InvalidInjectorConfigError, type InjectorErrorCodeValue } from './errors.js';
export { PART_OF_LABEL, PART_OF_MESH, injectionDecision, type InjectionDecision } from './injection-policy.js';
export {
  DEFAULT_CONTROL_PLANE,
  DEFAULT_IMAGE,
  DEFAULT_SIDECAR_RESOURCES,
  INSTALL_NAMESPACE,
  defaultInjectorConfig,
  type InjectorConfig,
  type ProxyLogLevel,
  type SidecarResources,
} from './injector-config.js';
export {
  JAVA_RECIPE_MIGRATION_ENV,
  JAVA_RECIPE_MODES,
  JAVA_RECIPE_PROPERTIES,
  RESOLVE_FILE_PATH,
  RESOLVE_VOLUME_NAME,
  javaRecipeOptions,
  type JavaRecipeMode,
  type JavaRecipeProperty,
} from './java-recipe.js';
export { createJsonPatch, type JsonPatchOperation } from './json-patch.js';
export { POD_ANNOTATIONS, readPodAnnotations, type PodInjectionSettings } from './pod-annotations.js';
export { injectPod, type InjectedStatus, type InjectionResult } from './pod-injection.js';
export { SIDECAR_ADMIN_PORT_NAME, SIDECAR_TEMPLATE_VERSION, proxyArgs, sidecarContainer } from './sidecar-template.js';
