import {
  INJECTOR_FLAGS,
  InjectorServerErrorCode,
  InvalidInjectorConfigError,
  admissionSettingsFromFlags,
  certificateOriginFromFlags,
  defaultInjectorConfig,
  reviewAdmission,
  startInjectorApp,
} from '@dubbo-mesh/injector';
import { UsageError, addressFlag, logLevelFlag, parseFlags } from './flags.js';
import { createLogger } from './logging.js';
import { StartUpError, listenFailure } from './start-up-failure.js';

interface CodedError {
  code?: unknown;
  message: string;
  flag?: string;
  path?: string;
  listener?: string;
  address?: { host: string; port: number };
  cause?: unknown;
}

/** The flag each option of the handler's configuration comes from. */
const CONFIG_FLAGS: Record<string, string> = { controlPlane: 'control-plane', image: 'image', nativeSidecar: 'native-sidecar', javaRecipe: 'java-recipe' };

/**
 * `dubbo-mesh injector`: the flags (or their env twins) as the injector's settings, its
 * certificate origin and its listeners; `startInjectorApp` with the admission handler; its
 * typed start-up failures as one line naming the flag; a stop on SIGTERM/SIGINT (exit 0):
 * `/ready` turns 503 at once and the webhook serves on for the drain (DEFAULT_DRAIN_MS), so
 * the API server's reviews still find it while the pod leaves the Service's endpoints; a
 * second signal closes it without waiting the drain out.
 */
export async function runInjectorCommand(argv: readonly string[]): Promise<number> {
  const values = parseFlags('injector', argv, INJECTOR_FLAGS);
  let settings;
  let certificates;
  let config;
  try {
    settings = admissionSettingsFromFlags(values);
    certificates = certificateOriginFromFlags(values, process.env);
    config = defaultInjectorConfig(settings);
  } catch (error) {
    if ((error as CodedError).code === InjectorServerErrorCode.FLAG) throw new UsageError(`dubbo-mesh injector: ${(error as Error).message}`);
    if (error instanceof InvalidInjectorConfigError)
      throw new UsageError(`dubbo-mesh injector: --${CONFIG_FLAGS[error.option] ?? error.option}: ${error.problem}`);
    throw error;
  }
  const listen = addressFlag('injector', 'listen', values.listen as string);
  const admin = addressFlag('injector', 'admin', values.admin as string);
  const level = logLevelFlag('injector', values['log-level'] as string);
  const logger = createLogger(level, { role: 'injector' });

  let app;
  try {
    app = await startInjectorApp({ listen, admin, certificates, handle: (body) => reviewAdmission(body, config), logger });
  } catch (error) {
    const coded = error as CodedError;
    if (coded.code === InjectorServerErrorCode.LISTEN && coded.address !== undefined)
      throw listenFailure('injector', coded.listener ?? 'listen', coded.address, coded.cause);
    if (coded.code === InjectorServerErrorCode.TLS_FILES) throw new StartUpError(`dubbo-mesh injector: --${coded.flag} ${coded.path}: ${coded.message}`);
    if (coded.code === InjectorServerErrorCode.CERTIFICATE_SECRET) throw new StartUpError(`dubbo-mesh injector: ${coded.message}`);
    throw error;
  }
  const running = app;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.info({ signal }, 'a second signal: closing without waiting out the drain');
        void running.stop(signal, { drain: false });
        return;
      }
      stopping = true;
      void running.stop(signal, { drain: true }).then(() => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        resolve(0);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
