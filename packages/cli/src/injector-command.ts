import type { AdmissionHandlerResult } from '../../injector/dist/injector-server.js';
import { EXIT_UNAVAILABLE } from './exit-codes.js';
import { UsageError, addressFlag, logLevelFlag, parseFlags } from './flags.js';
import { createLogger } from './logging.js';
import { StartUpError, listenFailure } from './start-up-failure.js';

// ─── SEAM (issue #12 integration) ───────────────────────────────────────────────────────────
// What this command needs of `@dubbo-mesh/injector`. The package's index is the integrator's:
// until it exports every name below, the command says it is not available (exit 3), as a
// command whose issue has not landed does. Once it does, replace these types and `loadInjector`
// by `import { … } from '@dubbo-mesh/injector'`, and add the package to this one's
// dependencies and tsconfig references. `reviewAdmission` and `defaultInjectorConfig` are the
// handler half of the issue (admission.ts, injector-config.ts), typed here by the contract.
// ─────────────────────────────────────────────────────────────────────────────────────────────
type InjectorPackage = typeof import('../../injector/dist/injector-app.js') &
  typeof import('../../injector/dist/injector-flags.js') & {
    reviewAdmission(body: unknown, config: unknown): AdmissionHandlerResult;
    defaultInjectorConfig(settings: object): unknown;
  };
const NEEDED = [
  'INJECTOR_FLAGS',
  'admissionSettingsFromFlags',
  'certificateOriginFromFlags',
  'startInjectorApp',
  'reviewAdmission',
  'defaultInjectorConfig',
] as const;

async function loadInjector(): Promise<InjectorPackage | { missing: string[] }> {
  const loaded = (await import('@dubbo-mesh/injector')) as unknown as Partial<InjectorPackage>;
  const missing = NEEDED.filter((name) => loaded[name] === undefined);
  return missing.length > 0 ? { missing } : (loaded as InjectorPackage);
}

/** The codes of the injector's errors this command turns into one line (its `server-errors.ts`). */
const CODES = {
  FLAG: 'DM_ERR_INJECTOR_FLAG',
  TLS_FILES: 'DM_ERR_INJECTOR_TLS_FILES',
  LISTEN: 'DM_ERR_INJECTOR_LISTEN',
  CERTIFICATE_SECRET: 'DM_ERR_INJECTOR_CERTIFICATE_SECRET',
} as const;

interface CodedError {
  code?: unknown;
  message: string;
  flag?: string;
  path?: string;
  listener?: string;
  address?: { host: string; port: number };
  cause?: unknown;
}

/**
 * `dubbo-mesh injector`: the flags (or their env twins) as the injector's settings, its
 * certificate origin and its listeners; `startInjectorApp` with the admission handler; its
 * typed start-up failures as one line naming the flag; a stop on SIGTERM/SIGINT (exit 0).
 */
export async function runInjectorCommand(argv: readonly string[]): Promise<number> {
  const injector = await loadInjector();
  if ('missing' in injector) {
    process.stderr.write(
      `dubbo-mesh injector: not available in this build yet; it lands with the injector issue (#12): @dubbo-mesh/injector does not export ${injector.missing.join(', ')}\n`,
    );
    return EXIT_UNAVAILABLE;
  }
  const values = parseFlags('injector', argv, injector.INJECTOR_FLAGS);
  let settings;
  let certificates;
  try {
    settings = injector.admissionSettingsFromFlags(values);
    certificates = injector.certificateOriginFromFlags(values, process.env);
  } catch (error) {
    if ((error as CodedError).code === CODES.FLAG) throw new UsageError(`dubbo-mesh injector: ${(error as Error).message}`);
    throw error;
  }
  const listen = addressFlag('injector', 'listen', values.listen as string);
  const admin = addressFlag('injector', 'admin', values.admin as string);
  const level = logLevelFlag('injector', values['log-level'] as string);
  const config = injector.defaultInjectorConfig(settings);
  const logger = createLogger(level, { role: 'injector' });

  let app;
  try {
    app = await injector.startInjectorApp({ listen, admin, certificates, handle: (body) => injector.reviewAdmission(body, config), logger });
  } catch (error) {
    const coded = error as CodedError;
    if (coded.code === CODES.LISTEN && coded.address !== undefined) throw listenFailure('injector', coded.listener ?? 'listen', coded.address, coded.cause);
    if (coded.code === CODES.TLS_FILES) throw new StartUpError(`dubbo-mesh injector: --${coded.flag} ${coded.path}: ${coded.message}`);
    if (coded.code === CODES.CERTIFICATE_SECRET) throw new StartUpError(`dubbo-mesh injector: ${coded.message}`);
    throw error;
  }
  const running = app;
  return new Promise<number>((resolve) => {
    const shutdown = async (signal: string) => {
      await running.stop(signal);
      resolve(0);
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  });
}
