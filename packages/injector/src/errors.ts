/**
 * Errors of the injector, classified by `code` (never by message text). A request the webhook
 * cannot read is a {@link BadAdmissionReviewError} (the server answers it with HTTP 400 and keeps
 * serving); a configuration the injector refuses at start is an {@link InvalidInjectorConfigError}
 * naming the option, so the command line can name its flag.
 */

/** Stable codes of the injector's errors. */
export const InjectorErrorCode = {
  /** The request body is not a well-formed `admission.k8s.io/v1` AdmissionReview of a Pod. */
  BAD_ADMISSION_REVIEW: 'DM_ERR_BAD_ADMISSION_REVIEW',
  /** An option of the injector's configuration is invalid. */
  INVALID_INJECTOR_CONFIG: 'DM_ERR_INVALID_INJECTOR_CONFIG',
} as const;
/** One of {@link InjectorErrorCode}. */
export type InjectorErrorCodeValue = (typeof InjectorErrorCode)[keyof typeof InjectorErrorCode];

/** Base of the injector's errors. */
export class InjectorError extends Error {
  constructor(
    readonly code: InjectorErrorCodeValue,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'InjectorError';
  }
}

/**
 * The body is not a well-formed `admission.k8s.io/v1` AdmissionReview of a Pod; `field` is the
 * path of the first field found wrong (`request.uid`), and the message is one line naming it.
 */
export class BadAdmissionReviewError extends InjectorError {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(InjectorErrorCode.BAD_ADMISSION_REVIEW, `bad AdmissionReview: ${field === '' ? '' : `${field}: `}${problem}`);
    this.name = 'BadAdmissionReviewError';
  }
}

/** An option of the injector's configuration is invalid; `option` is its name in `InjectorConfig` (`controlPlane`). */
export class InvalidInjectorConfigError extends InjectorError {
  constructor(
    readonly option: string,
    /** What is wrong with it, without the option's name. */
    readonly problem: string,
  ) {
    super(InjectorErrorCode.INVALID_INJECTOR_CONFIG, `injector configuration: ${option}: ${problem}`);
    this.name = 'InvalidInjectorConfigError';
  }
}
