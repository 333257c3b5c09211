import { access, constants } from 'node:fs/promises';
import { assembleMeshConfig, configVersion, type MeshConfig } from '@dubbo-mesh/config';
import { FileSource, type SourceState } from '@dubbo-mesh/control-plane';
import { StaticConfigInvalidError, StaticConfigUnreadableError } from './errors.js';
import type { SidecarLogger } from './logger.js';

/** What `--static PATH` needs: where the file is, what to do with each valid config, where to log. */
export interface StaticConfigOptions {
  /** The `--static` path: a mesh YAML file or a folder of them. */
  readonly path: string;
  /** Swap in a valid config (the proxy's `applySnapshot`). */
  readonly apply: (config: MeshConfig, version: string) => void;
  readonly logger: SidecarLogger;
}

/** A running `--static` config: the version in force, and how to stop watching. */
export interface StaticConfig {
  /** The version of the config in force. */
  readonly version: string;
  stop(): Promise<void>;
}

type Checked = { valid: true; config: MeshConfig; version: string } | { valid: false; errors: readonly string[] };

/** A source state as a whole config: valid with its version, or every error (each naming file, line and field). */
function check(state: SourceState): Checked {
  if (state.kind === 'invalid') return { valid: false, errors: state.errors };
  const assembled = assembleMeshConfig(state.resources);
  if (!assembled.valid) return { valid: false, errors: assembled.errors };
  return { valid: true, config: assembled.result, version: configVersion(assembled.result) };
}

/**
 * `--static PATH` for a proxy or gateway, on the control plane's own {@link FileSource}: the
 * same rules as `control-plane --config`, and the same watch, through the file's folder, so a
 * file replaced rather than written in place (`sed -i`, `mv tmp file`, an editor's save, a
 * ConfigMap's `..data` symlink swap) is seen every time, not only the first. A path that
 * cannot be read rejects with a {@link StaticConfigUnreadableError}; the first state must be
 * valid, or this rejects with a {@link StaticConfigInvalidError} listing every error. After that
 * an invalid change is refused and logged naming the file, and the last valid config stays;
 * a valid one is applied and logged with its version.
 */
export async function startStaticConfig(options: StaticConfigOptions): Promise<StaticConfig> {
  const { path, apply, logger } = options;
  // A missing or unreadable path is a one-line start-up failure, not a list of config errors.
  try {
    await access(path, constants.R_OK);
  } catch (error) {
    throw new StaticConfigUnreadableError(path, error);
  }
  const source = new FileSource([path]);
  let version: string | undefined;
  let first: Checked | undefined;
  /** Whether the last change was refused, so that a return to the config in force is told. */
  let refusing = false;
  const onState = (state: SourceState) => {
    const checked = check(state);
    if (first === undefined) {
      first = checked;
      if (checked.valid) {
        version = checked.version;
        apply(checked.config, checked.version);
      }
      return;
    }
    if (!checked.valid) {
      refusing = true;
      logger.error({ file: path, errors: checked.errors, version }, `refused the changed config in ${path}; the last valid config stays in force`);
      return;
    }
    if (checked.version === version) {
      if (refusing) logger.info({ file: path, version }, `the config in ${path} is valid again and unchanged; it stays in force`);
      refusing = false;
      return;
    }
    refusing = false;
    version = checked.version;
    apply(checked.config, checked.version);
    logger.info({ file: path, version }, `applied the changed config in ${path}`);
  };
  await source.start(onState);
  // FileSource emits its first state before start() resolves.
  const initial = first;
  if (initial === undefined || !initial.valid) {
    await source.stop();
    const errors = initial === undefined ? ['no configuration was read'] : initial.errors;
    throw new StaticConfigInvalidError(path, errors);
  }
  return {
    get version() {
      return version!;
    },
    stop: () => source.stop(),
  };
}
