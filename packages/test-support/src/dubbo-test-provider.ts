// The scripted provider of the tests is the real one the demo runs (@dubbo-mesh/dubbo-provider),
// under the names the tests and benchmarks have always used.
import { startDubboProvider, type DubboProvider, type DubboProviderOptions } from '@dubbo-mesh/dubbo-provider';

export { ProviderException, type MethodHandler } from '@dubbo-mesh/dubbo-provider';

/** Options of {@link startTestProvider}: those of `startDubboProvider`. */
export type TestProviderOptions = DubboProviderOptions;
/** A running provider: a `DubboProvider`. */
export type TestProvider = DubboProvider;

/** Start a Dubbo provider on real sockets scripted by `options.services` (see `startDubboProvider`). */
export const startTestProvider: (options: TestProviderOptions) => Promise<TestProvider> = startDubboProvider;
