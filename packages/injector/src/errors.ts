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

/** Base of every error of the injector, the handler's and the server side's. */
export class InjectorError extends Error {
  constructor(
    readonly code: InjectorErrorCodeValue | InjectorServerErrorCodeValue,
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

// The server side's errors (listeners, certificates, flags): each start-up failure a user can
// cause says which input it is about (a flag, an address, a file), so the command line prints
// one line naming it.

/** Stable codes of the server side's errors. */
export const InjectorServerErrorCode = {
  /** The webhook (`--listen`) or the admin API (`--admin`) cannot listen on its address. */
  LISTEN: 'DM_ERR_INJECTOR_LISTEN',
  /** `--tls-cert` / `--tls-key` cannot be read, are not PEM, or the key does not match the certificate. */
  TLS_FILES: 'DM_ERR_INJECTOR_TLS_FILES',
  /** The injector cannot keep its own certificate in its Secret (the Kubernetes API refused or did not answer). */
  CERTIFICATE_SECRET: 'DM_ERR_INJECTOR_CERTIFICATE_SECRET',
  /** A flag value the injector cannot use (`--java-recipe`, `--native-sidecar`, `--control-plane`, …). */
  FLAG: 'DM_ERR_INJECTOR_FLAG',
} as const;
/** One of {@link InjectorServerErrorCode}. */
export type InjectorServerErrorCodeValue = (typeof InjectorServerErrorCode)[keyof typeof InjectorServerErrorCode];

/** Base of the server side's errors. */
export class InjectorServerError extends InjectorError {
  constructor(
    override readonly code: InjectorServerErrorCodeValue,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'InjectorServerError';
  }
}

/** The errno code of `error`, if it has one (`ENOENT`, `EADDRINUSE`, …). */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** What `error` says, on one line. */
export function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

/** Which listener could not bind: the webhook (`--listen`) or the admin API (`--admin`). */
export type InjectorListener = 'listen' | 'admin';

/** A listener cannot bind `host:port`; `cause` is the system's error (its `code` is the errno code). */
export class InjectorListenError extends InjectorServerError {
  constructor(
    readonly listener: InjectorListener,
    readonly address: { readonly host: string; readonly port: number },
    cause: unknown,
  ) {
    super(
      InjectorServerErrorCode.LISTEN,
      `the ${listener === 'listen' ? 'webhook' : 'admin API'} cannot listen on ${address.host}:${address.port}: ${oneLine(cause)}`,
      {
        cause,
      },
    );
    this.name = 'InjectorListenError';
  }
}

/** The flag a TLS file came from. */
export type TlsFileFlag = 'tls-cert' | 'tls-key';

/** A TLS file cannot be used: `flag` and `path` say which, the message why (one line). */
export class TlsFilesError extends InjectorServerError {
  constructor(
    readonly flag: TlsFileFlag,
    readonly path: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(InjectorServerErrorCode.TLS_FILES, reason, options);
    this.name = 'TlsFilesError';
  }
}

/** The injector's own certificate cannot be had from (or kept in) its Secret; the message names the Secret and the cause. */
export class CertificateSecretError extends InjectorServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(InjectorServerErrorCode.CERTIFICATE_SECRET, message, options);
    this.name = 'CertificateSecretError';
  }
}

/** A flag value the injector cannot use; `flag` names it (without dashes). */
export class InjectorFlagError extends InjectorServerError {
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(InjectorServerErrorCode.FLAG, message);
    this.name = 'InjectorFlagError';
  }
}
