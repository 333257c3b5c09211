// The Kubernetes source runs on the same time base as leader election (monotonic milliseconds
// and unref'd timers; `FakeClock` of test-support fits it): one declaration, re-exported.
export { systemClock, type Clock } from '@dubbo-mesh/leader-election';
