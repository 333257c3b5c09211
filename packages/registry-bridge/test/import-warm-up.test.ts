import t from 'tap';
import { warmUpCurveOf, warmUpWeight } from '@dubbo-mesh/registry-bridge';

const T0 = 1_700_000_000_000;
const MIN = 60_000;

t.test("Dubbo's curves: 3.x linear, 2.7.15+ quadratic (research notes §3: 5 of 10 minutes → 50 and 25)", async (t) => {
  t.equal(warmUpCurveOf('3.2.16'), 'linear');
  t.equal(warmUpCurveOf('2.7.23'), 'quadratic');
  t.equal(warmUpCurveOf('2.7.15'), 'quadratic');
  t.equal(warmUpCurveOf('2.7.7'), 'linear', 'before 2.7.15');
  t.equal(warmUpCurveOf(undefined), 'linear');
  t.same(warmUpWeight({ timestamp: String(T0), release: '3.3.1' }, T0 + 5 * MIN), { weight: 50, nextStepAt: T0 + 5 * MIN + 30_000 });
  t.same(warmUpWeight({ timestamp: String(T0), release: '2.7.23' }, T0 + 5 * MIN), { weight: 25, nextStepAt: T0 + 5 * MIN + 30_000 });
});

t.test('weights are computed at the start of each step (warmup / 20), so rebuilds within a step agree', async (t) => {
  const params = { timestamp: String(T0), weight: '200', warmup: String(10 * MIN) };
  t.same(warmUpWeight(params, T0 + 5 * MIN + 29_999), warmUpWeight(params, T0 + 5 * MIN));
  t.same(warmUpWeight(params, T0 + 1), { weight: 1, nextStepAt: T0 + 30_000 }, 'just exported: the floor of 1');
  t.same(warmUpWeight(params, T0 + 30_000), { weight: 10, nextStepAt: T0 + 60_000 }, '200 × 30/600');
  t.same(warmUpWeight(params, T0 + 10 * MIN - 1), { weight: 190, nextStepAt: T0 + 10 * MIN }, 'the last step ends warm');
  t.same(warmUpWeight(params, T0 + 10 * MIN), { weight: 200 }, 'warm: full weight, no more steps');
  t.same(warmUpWeight({ timestamp: String(T0), warmup: '5000' }, T0 + 2500), { weight: 40, nextStepAt: T0 + 3000 }, 'steps are at least 1 s');
});

t.test("Dubbo's edge cases", async (t) => {
  t.same(warmUpWeight({}, T0), { weight: 100 }, 'no timestamp: default weight, warm');
  t.same(warmUpWeight({ timestamp: '0' }, T0), { weight: 100 });
  t.same(warmUpWeight({ timestamp: 'soon' }, T0), { weight: 100 }, 'unreadable timestamp: as none');
  t.same(warmUpWeight({ weight: 'heavy' }, T0), { weight: 100 }, 'unreadable weight: the default');
  t.same(warmUpWeight({ weight: '0', timestamp: String(T0) }, T0 + 1), { weight: 0 }, 'weight 0: never picked');
  t.same(warmUpWeight({ weight: '-5' }, T0), { weight: 0 });
  t.same(warmUpWeight({ weight: '5000000' }, T0), { weight: 1_000_000 }, 'capped at the schema maximum');
  t.same(warmUpWeight({ timestamp: String(T0 + 5000) }, T0), { weight: 1, nextStepAt: T0 + 5001 }, 'a provider clock ahead: 1 until it is not');
  t.same(warmUpWeight({ timestamp: String(T0) }, T0), { weight: 100 }, 'uptime 0: full weight (Dubbo warms only while 0 < uptime)');
});
