// The plugin's own circuit breaker, on a fake clock.
import t from 'tap';
import { PluginBreaker } from '@dubbo-mesh/plugins';
import { FakeClock } from '@dubbo-mesh/test-support';

t.test('failures in a row open it; open for openFor; one probe; a success closes it, a failure opens it again', async (t) => {
  const clock = new FakeClock();
  const breaker = new PluginBreaker({ consecutiveFailures: 3, openForMs: 1000 }, () => clock.now());
  t.equal(breaker.state, 'closed');
  t.equal(breaker.failure(), false);
  t.equal(breaker.failure(), false);
  t.equal(breaker.success(), false, 'a success in a closed breaker changes nothing');
  t.equal(breaker.failure(), false, 'the run starts again after a success');
  t.equal(breaker.failure(), false);
  t.ok(breaker.allow());
  t.equal(breaker.failure(), true, 'the third failure in a row opens it');
  t.equal(breaker.state, 'open');
  t.equal(breaker.opened, 1);
  t.equal(breaker.openUntilMs, clock.now() + 1000);
  t.notOk(breaker.allow(), 'open: no call');
  clock.advance(999);
  t.notOk(breaker.allow(), 'still open 1 ms before its time');
  clock.advance(1);
  t.equal(breaker.state, 'half-open');
  t.ok(breaker.allow(), 'one probe');
  t.notOk(breaker.allow(), 'only one probe at a time');
  t.equal(breaker.failure(), true, 'the probe failed: open again');
  t.equal(breaker.opened, 2);
  t.notOk(breaker.allow());
  clock.advance(1000);
  t.ok(breaker.allow());
  t.equal(breaker.success(), true, 'the probe answered: closed');
  t.equal(breaker.state, 'closed');
  t.ok(breaker.allow());
  t.ok(breaker.allow(), 'closed: every call');
});

t.test('one failure opens a breaker of consecutiveFailures 1', async (t) => {
  const clock = new FakeClock();
  const breaker = new PluginBreaker({ consecutiveFailures: 1, openForMs: 50 }, () => clock.now());
  t.equal(breaker.failure(), true);
  t.notOk(breaker.allow());
});
