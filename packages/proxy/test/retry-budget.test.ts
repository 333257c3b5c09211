import t from 'tap';
import { RetryBudget } from '@dubbo-mesh/proxy';

t.test('retries are capped at 20% of calls over the window, plus the reserve', async (t) => {
  let now = 1_000_000;
  const budget = new RetryBudget(20, 1, 10, { now: () => now });
  t.equal(budget.balance(), 10, 'the reserve: 1 retry/s × 10 s');
  for (let i = 0; i < 1000; i++) budget.deposit();
  let retries = 0;
  while (budget.tryWithdraw()) retries += 1;
  t.equal(retries, 210, '20% of 1,000 calls + a reserve of 10');
  t.notOk(budget.tryWithdraw(), 'then it is spent');
  now += 11_000;
  t.equal(budget.balance(), 10, 'deposits and withdrawals expire with the window');
});

t.test('in an outage the budget bounds the retry rate', async (t) => {
  let now = 0;
  const budget = new RetryBudget(20, 0, 10, { now: () => now });
  let calls = 0;
  let retries = 0;
  for (let second = 0; second < 60; second++, now += 1000) {
    for (let i = 0; i < 100; i++) {
      calls += 1;
      budget.deposit();
      if (budget.tryWithdraw()) retries += 1; // every call fails and wants a retry
    }
  }
  t.ok(retries / calls <= 0.2, `retries were ${((retries / calls) * 100).toFixed(1)}% of calls`);
});
