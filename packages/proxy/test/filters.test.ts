// The filter chain and endpoint narrowing on real sockets: a raw consumer → the outbound
// proxy → test providers. Timeouts run on a fake clock where a test depends on them.
import t, { type Test } from 'tap';
import net from 'node:net';
import {
  FrameDecoder,
  ResponseStatus,
  decodeErrorMessage,
  decodeResponseBody,
  encodeRequest,
  encodeRequestBody,
  type DubboRequestBody,
  type Frame,
} from '@dubbo-mesh/protocol';
import {
  DubboProxy,
  FilterChain,
  type ClusterMember,
  type EndpointNarrowing,
  type FilterCall,
  type FilterOutcome,
  type ProxyFilter,
  type ProxyOptions,
  type RouteDecision,
} from '@dubbo-mesh/proxy';
import { FakeClock, USER_SERVICE, makeUser, startTestProvider, userValue, eventually, type TestProvider } from '@dubbo-mesh/test-support';
import { buildConfig } from './fixtures/mesh.js';

/** A consumer that sends hand-made requests and collects every frame it gets back. */
class RawConsumer {
  readonly frames: Frame[] = [];
  private readonly decoder = new FrameDecoder();
  /** Ids of `call`; tests send their own small ids with `send`. */
  private nextId = 1000n;
  readonly socket: net.Socket;
  readonly connected: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.connected = new Promise((resolve) => this.socket.once('connect', () => resolve()));
    this.socket.on('error', () => {});
    this.socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      for (let frame = this.decoder.next(); frame !== undefined; frame = this.decoder.next()) this.frames.push(frame);
    });
  }

  /** Send getUser(id) with these attachments; resolves with its answer. */
  async call(id: number, attachments: Record<string, unknown> = {}, options: { twoWay?: boolean } = {}): Promise<Frame> {
    const requestId = this.nextId++;
    this.send(requestId, id, attachments, options.twoWay ?? true);
    await eventually(() => this.frames.some((frame) => frame.header.requestId === requestId), `the answer to call ${requestId}`);
    return this.frames.find((frame) => frame.header.requestId === requestId)!;
  }

  send(requestId: bigint, id: number, attachments: Record<string, unknown>, twoWay = true): void {
    const body = encodeRequestBody({
      path: USER_SERVICE,
      version: '1.0.0',
      method: 'getUser',
      parameterTypes: ['long'],
      arguments: [id],
      attachments: { path: USER_SERVICE, ...attachments },
    });
    this.socket.write(encodeRequest(requestId, body, { twoWay }));
  }

  get localAddress(): string {
    return `${this.socket.localAddress}:${this.socket.localPort}`;
  }

  close(): void {
    this.socket.destroy();
  }
}

interface Setup {
  proxy: DubboProxy;
  port: number;
  providers: TestProvider[];
  /** Requests each provider received, by instance name. */
  received: Map<string, DubboRequestBody[]>;
  close(): Promise<void>;
}

/** Providers v1-a, v1-b (label version=v1) and v2-a (v2), and an outbound proxy over them. */
async function setup(t: Test, options: Partial<ProxyOptions> = {}, names = ['v1-a', 'v1-b', 'v2-a']): Promise<Setup> {
  const received = new Map<string, DubboRequestBody[]>();
  const providers: TestProvider[] = [];
  for (const name of names) {
    received.set(name, []);
    providers.push(
      await startTestProvider({
        services: {
          [USER_SERVICE]: {
            getUser: ([id], request) => {
              received.get(name)!.push(request);
              if (id === -1) return null;
              return userValue({ ...makeUser(id as number), name });
            },
          },
        },
      }),
    );
  }
  const proxy = new DubboProxy({ node: 'consumer-1', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 }, ...options });
  await proxy.start();
  proxy.applySnapshot(
    buildConfig([
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboService',
        metadata: { name: 'user-provider' },
        spec: { interfaces: [USER_SERVICE], endpoints: providers.map((p, i) => ({ address: p.address, labels: { version: names[i]!.slice(0, 2) } })) },
      },
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboPolicy',
        metadata: { name: 'user-provider' },
        spec: { service: 'user-provider', loadBalancer: { policy: 'round-robin' } },
      },
    ]),
    'v1',
  );
  const close = async () => {
    await proxy.destroy();
    for (const provider of providers) await provider.close();
  };
  t.teardown(close);
  return { proxy, port: proxy.addresses().outbound!.port, providers, received, close };
}

function status(frame: Frame): number {
  return frame.header.status;
}

function userName(frame: Frame): string {
  const result = decodeResponseBody(frame.body);
  return (result as { value: { name: string } }).value.name;
}

function allReceived(setup: Setup): DubboRequestBody[] {
  return [...setup.received.values()].flat();
}

/** A promise with its resolve and reject outside. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

t.test('with no filter the proxy keeps no chain', async (t) => {
  const s = await setup(t);
  t.equal(s.proxy.filterChain, undefined);
  s.proxy.setFilterChain({ filters: [] });
  t.equal(s.proxy.filterChain, undefined, 'an empty chain is no chain');
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  t.equal(status(await consumer.call(1)), ResponseStatus.OK);
});

t.test('a request filter adds, replaces and removes attachments; the provider gets them and the same arguments', async (t) => {
  const seen: Array<unknown> = [];
  const filter: ProxyFilter = {
    name: 'tagger',
    onRequest(call) {
      seen.push(call.attachment('x-tier'));
      call.setAttachment('x-tier', 'gold');
      call.setAttachment('x-hop', 1);
      call.removeAttachment('x-secret');
      seen.push(call.attachment('x-tier'), call.attachment('x-secret'));
    },
  };
  const s = await setup(t, { filters: [filter] });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  const answer = await consumer.call(7, { 'x-tier': 'bronze', 'x-secret': 's3cret', 'x-keep': 'kept' });
  t.equal(status(answer), ResponseStatus.OK);
  t.equal(userName(answer).startsWith('v'), true);
  const [request] = allReceived(s);
  t.same(request!.arguments, [7], 'arguments unchanged');
  t.equal(request!.attachments['x-tier'], 'gold', 'replaced');
  t.equal(request!.attachments['x-hop'], 1, 'added');
  t.equal(request!.attachments['x-keep'], 'kept', 'untouched');
  t.notOk('x-secret' in request!.attachments, 'removed');
  t.same(seen, ['bronze', 'gold', undefined], 'the filter reads its own changes');
});

t.test('a local reply from the request phase answers at once, counted; the provider never sees the call', async (t) => {
  const filter: ProxyFilter = {
    name: 'deny',
    onRequest: (call) => (call.attachment('x-user') === 'mallory' ? { status: ResponseStatus.SERVICE_ERROR, message: 'mallory may not call' } : undefined),
  };
  const s = await setup(t, { filters: [filter] });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  const denied = await consumer.call(1, { 'x-user': 'mallory' });
  t.equal(status(denied), ResponseStatus.SERVICE_ERROR);
  t.equal(decodeErrorMessage(denied.body), 'dubbo-mesh [DM_ERR_FILTER_REPLY]: deny: mallory may not call');
  t.equal(s.proxy.stats.counters.local_response_filter, 1);
  t.equal(allReceived(s).length, 0, 'nothing was sent upstream');
  t.equal(status(await consumer.call(2, { 'x-user': 'alice' })), ResponseStatus.OK, 'other calls go through');
  t.equal(s.proxy.stats.gauges.request_active, 0);
});

t.test('an asynchronous request phase: the call waits for it, and a rejected or broken one answers 80 naming the filter', async (t) => {
  const filter: ProxyFilter = {
    name: 'lookup',
    async onRequest(call) {
      await new Promise((resolve) => setImmediate(resolve));
      const mode = call.attachment('mode');
      if (mode === 'reject') throw new Error('directory unreachable');
      if (mode === 'ok-status') return { status: ResponseStatus.OK, message: 'not an error' } as never;
      call.setAttachment('x-looked-up', true);
      return undefined;
    },
  };
  const thrower: ProxyFilter = {
    name: 'thrower',
    onRequest: (call) => {
      if (call.attachment('mode') === 'throw') throw new Error('boom');
    },
  };
  const s = await setup(t, { filters: [thrower, filter] });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  const ok = await consumer.call(3);
  t.equal(status(ok), ResponseStatus.OK);
  t.equal(allReceived(s)[0]!.attachments['x-looked-up'], true, 'the change made after the await is sent');
  const rejected = await consumer.call(4, { mode: 'reject' });
  t.equal(status(rejected), ResponseStatus.SERVER_ERROR);
  t.equal(decodeErrorMessage(rejected.body), 'dubbo-mesh [DM_ERR_FILTER_FAILED]: filter lookup failed: directory unreachable');
  const thrown = await consumer.call(5, { mode: 'throw' });
  t.equal(decodeErrorMessage(thrown.body), 'dubbo-mesh [DM_ERR_FILTER_FAILED]: filter thrower failed: boom');
  const badStatus = await consumer.call(6, { mode: 'ok-status' });
  t.equal(status(badStatus), ResponseStatus.SERVER_ERROR);
  t.match(decodeErrorMessage(badStatus.body), /filter lookup failed: answered with status 20, which is no Dubbo error status/);
  t.equal(s.proxy.stats.counters.filter_error, 3);
  t.equal(allReceived(s).length, 1, 'failed calls were not sent');
  t.equal(s.proxy.stats.gauges.request_active, 0);
});

t.test('the response phase sees the status, runs in reverse order, and may replace the answer', async (t) => {
  const order: string[] = [];
  const statuses: Array<{ status: number; endpoint: string }> = [];
  const outer: ProxyFilter = {
    name: 'outer',
    onRequest: () => {
      order.push('outer request');
    },
    onResponse: (_call, response) => {
      order.push('outer response');
      statuses.push({ status: response.status, endpoint: response.endpoint });
    },
  };
  const inner: ProxyFilter = {
    name: 'inner',
    onRequest: () => {
      order.push('inner request');
    },
    async onResponse(call) {
      order.push('inner response');
      await Promise.resolve();
      return call.attachment('x-hide') === 'yes' ? { status: ResponseStatus.SERVICE_ERROR, message: 'hidden' } : undefined;
    },
  };
  const s = await setup(t, { filters: [outer, inner] });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  const plain = await consumer.call(8);
  t.equal(status(plain), ResponseStatus.OK);
  t.same(order, ['outer request', 'inner request', 'inner response', 'outer response']);
  t.equal(statuses[0]!.status, ResponseStatus.OK);
  t.match(statuses[0]!.endpoint, /^127\.0\.0\.1:\d+$/);
  order.length = 0;
  const hidden = await consumer.call(9, { 'x-hide': 'yes' });
  t.equal(status(hidden), ResponseStatus.SERVICE_ERROR);
  t.equal(decodeErrorMessage(hidden.body), 'dubbo-mesh [DM_ERR_FILTER_REPLY]: inner: hidden');
  t.same(order, ['outer request', 'inner request', 'inner response'], 'a reply ends the phase');
  t.equal(allReceived(s).length, 2, 'the provider answered both');
  t.equal(s.proxy.stats.counters.response, 1, 'only the delivered answer counts as relayed');
  t.equal(s.proxy.stats.counters.local_response_filter, 1);
});

t.test('appliesTo is asked once per route decision; a filter that does not apply never runs', async (t) => {
  const asked: RouteDecision[] = [];
  let ran = 0;
  const filter: ProxyFilter = {
    name: 'selective',
    appliesTo: (decision) => {
      asked.push(decision);
      return decision.serviceKey === 'org.example.Other';
    },
    onRequest: () => {
      ran += 1;
    },
  };
  const s = await setup(t, { filters: [filter] });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  for (let i = 0; i < 20; i++) t.equal(status(await consumer.call(i)), ResponseStatus.OK);
  t.equal(asked.length, 1, 'decided once for 20 calls');
  t.equal(asked[0]!.serviceKey, `${USER_SERVICE}:1.0.0`);
  t.equal(ran, 0);
  s.proxy.applySnapshot(s.proxy.snapshot!.config, 'v2');
  await consumer.call(1);
  t.equal(asked.length, 2, 'a new snapshot has new decisions, decided again');
});

t.test('the call context: consumer application, consumer address, node identity', async (t) => {
  const contexts: Array<{ application: string | undefined; address: string; node: object }> = [];
  const filter: ProxyFilter = {
    name: 'context',
    onRequest: (call: FilterCall) => {
      contexts.push({ application: call.context.consumerApplication, address: call.context.consumerAddress, node: call.context.node });
    },
  };
  const s = await setup(t, { filters: [filter], node: 'sidecar-7', service: 'web', namespace: 'shop', labels: { zone: 'a' } });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  await consumer.connected;
  await consumer.call(1, { 'remote.application': 'web-app', application: 'old-name' });
  await consumer.call(2, { application: 'old-name' });
  await consumer.call(3);
  t.same(
    contexts.map((c) => c.application),
    ['web-app', 'old-name', undefined],
  );
  t.equal(contexts[0]!.address, consumer.localAddress, 'the downstream socket remote address');
  t.same(contexts[0]!.node, { id: 'sidecar-7', service: 'web', namespace: 'shop', labels: { zone: 'a' } });
  t.same(s.proxy.node, contexts[0]!.node);
});

t.test('a pending filter obeys the route timeout: answered 31 naming it, nothing sent later', async (t) => {
  const clock = new FakeClock();
  const gate = deferred<FilterOutcome>();
  let called = 0;
  const filter: ProxyFilter = {
    name: 'slow',
    onRequest: () => {
      called += 1;
      return gate.promise;
    },
  };
  const s = await setup(t, { filters: [filter], clock, defaultTimeoutMs: 500 });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  consumer.send(1n, 1, {});
  await eventually(() => called === 1, 'called === 1');
  clock.advance(499);
  t.equal(consumer.frames.length, 0, 'not before the timeout');
  clock.advance(1);
  await eventually(() => consumer.frames.length === 1, 'consumer.frames.length === 1');
  t.equal(status(consumer.frames[0]!), ResponseStatus.SERVER_TIMEOUT);
  t.match(decodeErrorMessage(consumer.frames[0]!.body), /within 500 ms \(0 attempts; the request phase of filter slow had not finished\)/);
  t.equal(allReceived(s).length, 0, 'the timed-out call never went upstream');
  gate.resolve(undefined);
  await gate.promise;
  // One more call through the (now resolved) filter: had the late one sent anything, it would be here too.
  t.equal(status(await consumer.call(2)), ResponseStatus.OK);
  t.same(
    consumer.frames.map((frame) => frame.header.requestId),
    [1n, 1000n],
    'one answer per call',
  );
  t.equal(allReceived(s).length, 1, 'only the second call went upstream');
  t.equal(s.proxy.stats.counters.local_response_timeout, 1);
});

t.test('calls waiting on an async filter share a few timeout lists, whatever fraction of a millisecond they reached it at', async (t) => {
  const clock = new FakeClock();
  const firstGates = new Map<number, () => void>();
  let secondCalls = 0;
  const never = new Promise<FilterOutcome>(() => {});
  const first: ProxyFilter = {
    name: 'first',
    onRequest: (call) => new Promise<FilterOutcome>((resolve) => firstGates.set(Number(call.attachment('k')), () => resolve(undefined))),
  };
  const second: ProxyFilter = {
    name: 'second',
    onRequest: () => {
      secondCalls += 1;
      return never;
    },
  };
  const s = await setup(t, { filters: [first, second], clock, defaultTimeoutMs: 5000 });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  const calls = 40;
  for (let k = 0; k < calls; k++) consumer.send(BigInt(k + 1), 1, { k });
  await eventually(() => firstGates.size === calls, 'every call at the first filter');
  // Each call reaches the second filter a different fraction of a millisecond after it started.
  for (let k = 0; k < calls; k++) {
    clock.advance(0.013);
    firstGates.get(k)!();
    await eventually(() => secondCalls === k + 1, `call ${k} at the second filter`, 5000);
  }
  const timeouts = (s.proxy as unknown as { context: { timeouts: { pending: number; listCount: number } } }).context.timeouts;
  t.equal(timeouts.pending, calls, 'every call waits under its route timeout');
  t.ok(timeouts.listCount <= 2, `${calls} calls share ${timeouts.listCount} timeout list(s), not one each`);
});

t.test('a thenable that settles inside then() is not lost: its reply, or going on, happens at once', async (t) => {
  const clock = new FakeClock(); // the route timeout never passes unless the test says so
  const syncThenable: ProxyFilter = {
    name: 'sync-thenable',
    onRequest: (call) =>
      ({
        then(resolve: (value: FilterOutcome) => void) {
          resolve(call.attachment('mode') === 'deny' ? { status: ResponseStatus.SERVICE_ERROR, message: 'denied' } : undefined);
        },
      }) as PromiseLike<FilterOutcome>,
  };
  const throwingThen: ProxyFilter = {
    name: 'throwing-then',
    onRequest: (call) =>
      ({
        then() {
          if (call.attachment('mode') === 'throw') throw new Error('then() threw');
          return undefined;
        },
      }) as unknown as PromiseLike<FilterOutcome>,
  };
  const s = await setup(t, { filters: [syncThenable], clock, defaultTimeoutMs: 500 });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  consumer.send(1n, 1, { mode: 'deny' });
  await eventually(() => consumer.frames.length === 1, 'the local reply', 5000);
  t.equal(status(consumer.frames[0]!), ResponseStatus.SERVICE_ERROR);
  t.equal(decodeErrorMessage(consumer.frames[0]!.body), 'dubbo-mesh [DM_ERR_FILTER_REPLY]: sync-thenable: denied');
  consumer.send(2n, 1, {});
  await eventually(() => consumer.frames.length === 2, 'the answer', 5000);
  t.equal(status(consumer.frames[1]!), ResponseStatus.OK, 'settled with nothing: the call went on');
  s.proxy.setFilterChain({ filters: [throwingThen] });
  consumer.send(3n, 1, { mode: 'throw' });
  await eventually(() => consumer.frames.length === 3, 'the failure', 5000);
  t.equal(decodeErrorMessage(consumer.frames[2]!.body), 'dubbo-mesh [DM_ERR_FILTER_FAILED]: filter throwing-then failed: then() threw');
  t.equal(s.proxy.stats.gauges.request_active, 0);
  t.equal(allReceived(s).length, 1);
});

t.test('a thenable that calls back twice: the second settle is ignored, the call goes upstream once', async (t) => {
  let again: (() => void) | undefined;
  let twice: (() => void) | undefined;
  const responseGate = deferred<FilterOutcome>();
  let responsePhases = 0;
  const filter: ProxyFilter = {
    name: 'twice',
    onRequest: () =>
      ({
        then(resolve: (value: FilterOutcome) => void) {
          setImmediate(() => resolve(undefined));
          again = () => resolve(undefined);
        },
      }) as PromiseLike<FilterOutcome>,
    onResponse: () => {
      responsePhases += 1;
      return responseGate.promise;
    },
  };
  const s = await setup(t, { filters: [filter] });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  consumer.send(1n, 1, {});
  await eventually(() => responsePhases === 1, 'the response phase pending', 5000);
  // The request phase's thenable calls back a second time while the response phase is pending.
  again!();
  // And a second call's thenable calls back twice at once, before its first settle is used.
  const doubleCall: ProxyFilter = {
    name: 'double',
    onRequest: () =>
      ({
        then(resolve: (value: FilterOutcome) => void) {
          twice = () => resolve(undefined);
          setImmediate(() => {
            twice!();
            twice!();
          });
        },
      }) as PromiseLike<FilterOutcome>,
  };
  await new Promise((resolve) => setImmediate(resolve));
  responseGate.resolve(undefined);
  await eventually(() => consumer.frames.length === 1, 'the answer', 5000);
  s.proxy.setFilterChain({ filters: [doubleCall] });
  consumer.send(2n, 2, {});
  await eventually(() => consumer.frames.length === 2, 'the second answer', 5000);
  // Had a second settle gone on, its copy would now be on the wire: one more call flushes it.
  consumer.send(3n, 3, {});
  await eventually(() => consumer.frames.length === 3, 'the third answer', 5000);
  t.same(
    consumer.frames.map((frame) => [frame.header.requestId, status(frame)]),
    [
      [1n, 20],
      [2n, 20],
      [3n, 20],
    ],
  );
  t.equal(allReceived(s).length, 3, 'each call went upstream once');
  t.equal(s.proxy.stats.counters.response, 3);
  t.equal(s.proxy.stats.gauges.request_active, 0);
});

t.test('an attachment change the rewrite cannot make safely, or one past the payload limit, answers 80 naming it; nothing goes upstream', async (t) => {
  const filter: ProxyFilter = {
    name: 'rewriter',
    onRequest(call) {
      if (call.attachment('mode') === 'remove-shared') call.removeAttachment('ctx');
      if (call.attachment('mode') === 'grow') call.setAttachment('x-big', 'y'.repeat(3000));
      if (call.attachment('mode') === 'remove-reference') call.removeAttachment('ctx2');
    },
  };
  const s = await setup(t, { filters: [filter], maxPayload: 2048 });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  // Attachments go sorted by key: ctx, ctx2 (a back-reference to ctx), mode, other, path. Removing ctx would make ctx2 name another value.
  const shared = { $class: 'java.util.HashMap', $: { k: 'shared' } };
  const other = { $class: 'java.util.HashMap', $: { k: 'other' } };
  const refused = await consumer.call(1, { mode: 'remove-shared', ctx: shared, other, ctx2: shared });
  t.equal(status(refused), ResponseStatus.SERVER_ERROR);
  t.match(
    decodeErrorMessage(refused.body),
    /^dubbo-mesh \[DM_ERR_FILTER_FAILED\]: attachment rewrite failed: attachment "ctx" cannot be changed: its value defines a Hessian class, type or shared value that attachment "ctx2" after it may name/,
  );
  const tooLarge = await consumer.call(2, { mode: 'grow' });
  t.equal(status(tooLarge), ResponseStatus.SERVER_ERROR);
  t.match(
    decodeErrorMessage(tooLarge.body),
    /^dubbo-mesh \[DM_ERR_FILTER_FAILED\]: attachment rewrite failed: the rewritten request body is \d+ bytes, over the payload limit of 2048 bytes$/,
  );
  t.equal(allReceived(s).length, 0, 'neither call was sent');
  const ok = await consumer.call(3, { mode: 'remove-reference', ctx: shared, other, ctx2: shared });
  t.equal(status(ok), ResponseStatus.OK, 'removing a back-reference (it defines nothing) is safe and done');
  t.same(allReceived(s)[0]!.attachments.ctx, { k: 'shared' });
  t.equal(allReceived(s)[0]!.attachments.ctx2, undefined);
  t.equal(s.proxy.stats.counters.filter_error, 2);
});

t.test('a consumer that disconnects while its filter is pending: the call ends, nothing is sent either way', async (t) => {
  const gate = deferred<FilterOutcome>();
  let called = 0;
  const filter: ProxyFilter = {
    name: 'slow',
    onRequest: () => {
      called += 1;
      return gate.promise;
    },
  };
  const s = await setup(t, { filters: [filter] });
  const consumer = new RawConsumer(s.port);
  consumer.send(1n, 1, {});
  await eventually(() => called === 1, 'called === 1');
  t.equal(s.proxy.stats.gauges.request_active, 1);
  consumer.close();
  await eventually(() => s.proxy.stats.counters.request_abandoned === 1, 's.proxy.stats.counters.request_abandoned === 1');
  t.equal(s.proxy.stats.gauges.request_active, 0, 'nothing in flight');
  gate.resolve(undefined);
  await gate.promise;
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(allReceived(s).length, 0, 'not sent upstream after the consumer left');
  t.equal(s.proxy.stats.counters.upstream_cx_total, 0, 'no upstream connection was even opened');
});

t.test('a one-way call whose consumer closes while its filter is pending is dropped, never sent', async (t) => {
  const gate = deferred<FilterOutcome>();
  let called = 0;
  const filter: ProxyFilter = {
    name: 'slow',
    onRequest: () => {
      called += 1;
      return gate.promise;
    },
  };
  const s = await setup(t, { filters: [filter] });
  const consumer = new RawConsumer(s.port);
  consumer.send(1n, 1, {}, false);
  await eventually(() => called === 1, 'called === 1');
  consumer.close();
  await eventually(() => s.proxy.stats.counters.request_abandoned === 1, 'the one-way call abandoned');
  gate.resolve(undefined);
  await gate.promise;
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(s.proxy.stats.gauges.request_active, 0);
  t.equal(s.proxy.stats.counters.upstream_cx_total, 0, 'not sent: no upstream connection was opened');
  t.equal(allReceived(s).length, 0);
});

t.test('a drain waits for a pending filter; past the drain timeout the call is dropped', async (t) => {
  const clock = new FakeClock();
  const gates = [deferred<FilterOutcome>(), deferred<FilterOutcome>()];
  let called = 0;
  const filter: ProxyFilter = { name: 'slow', onRequest: () => gates[called++]!.promise };
  const s = await setup(t, { filters: [filter], clock, defaultTimeoutMs: 60_000 });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  consumer.send(1n, 1, {});
  await eventually(() => called === 1, 'called === 1');
  const stopped = s.proxy.stop(5000);
  gates[0]!.resolve(undefined);
  await eventually(() => consumer.frames.some((frame) => frame.header.requestId === 1n), 'the answer to call 1');
  t.equal(status(consumer.frames.find((frame) => frame.header.requestId === 1n)!), ResponseStatus.OK, 'the call in its filter finished during the drain');
  t.equal(await stopped, true, 'drained in time');

  const second = await setup(t, { filters: [{ name: 'never', onRequest: () => gates[1]!.promise }], clock, defaultTimeoutMs: 60_000 });
  const other = new RawConsumer(second.port);
  t.teardown(() => other.close());
  other.send(1n, 1, {});
  await eventually(() => second.proxy.stats.gauges.request_active === 1, 'second.proxy.stats.gauges.request_active === 1');
  const stopping = second.proxy.stop(1000);
  clock.advance(1000);
  t.equal(await stopping, false, 'the drain timed out');
  await eventually(() => second.proxy.stats.gauges.request_active === 0, 'second.proxy.stats.gauges.request_active === 0');
  t.equal(second.proxy.stats.counters.request_abandoned, 1);
  gates[1]!.resolve(undefined);
  await gates[1]!.promise;
  t.equal(allReceived(second).length, 0);
});

t.test('setFilterChain swaps the chain atomically: a pending call keeps its chain, new calls take the new one', async (t) => {
  const gate = deferred<FilterOutcome>();
  const ranA: number[] = [];
  const ranB: number[] = [];
  const a: ProxyFilter = {
    name: 'a',
    onRequest: (call) => {
      ranA.push(Number(call.attachment('n')));
      return call.attachment('n') === 1 ? gate.promise : undefined;
    },
    onResponse: (call) => {
      ranA.push(-Number(call.attachment('n')));
    },
  };
  const b: ProxyFilter = {
    name: 'b',
    onRequest: (call) => {
      ranB.push(Number(call.attachment('n')));
    },
  };
  const s = await setup(t, { filters: [a] });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  consumer.send(1n, 1, { n: 1 });
  await eventually(() => ranA.length === 1, 'ranA.length === 1');
  s.proxy.setFilterChain({ filters: [b] });
  t.equal(status(await consumer.call(2, { n: 2 })), ResponseStatus.OK);
  gate.resolve(undefined);
  await eventually(() => consumer.frames.some((frame) => frame.header.requestId === 1n), 'the answer to call 1');
  t.same(ranA, [1, -1], 'the first call ran both phases of the chain it started with');
  t.same(ranB, [2], 'the next call ran the new chain only');
  t.throws(() => s.proxy.setFilterChain({ filters: [b, { ...b }] }), /two filters or endpoint narrowings are named "b"/);
  t.throws(() => s.proxy.setFilterChain({ filters: [{ name: 'none' }] }), /filter none has neither onRequest nor onResponse/);
  t.equal(s.proxy.filterChain!.filters[0], b, 'a rejected chain leaves the one in force');
});

/** A narrowing by the endpoint label `version`, chosen by the call's `x-version` attachment; it caches its sets by value. */
function byVersion(): EndpointNarrowing & { calls: number } {
  const cache = new Map<string, { candidates: readonly ClusterMember[]; kept: readonly ClusterMember[] }>();
  return {
    name: 'by-version',
    calls: 0,
    narrow(call, candidates) {
      this.calls += 1;
      const wanted = call.attachment('x-version');
      if (typeof wanted !== 'string') return candidates;
      const hit = cache.get(wanted);
      if (hit !== undefined && hit.candidates === candidates) return hit.kept;
      const kept = candidates.filter((member) => member.labels.version === wanted);
      cache.set(wanted, { candidates, kept });
      return kept;
    },
  };
}

t.test('endpoint narrowing keeps the endpoints an attachment names; its picker is built once per set', async (t) => {
  const narrowing = byVersion();
  const s = await setup(t, { endpointNarrowings: [narrowing] });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  const v2 = new Set<string>();
  const v1 = new Set<string>();
  for (let i = 0; i < 30; i++) v2.add(userName(await consumer.call(i, { 'x-version': 'v2' })));
  for (let i = 0; i < 30; i++) v1.add(userName(await consumer.call(i, { 'x-version': 'v1' })));
  t.same([...v2], ['v2-a']);
  t.same([...v1].sort(), ['v1-a', 'v1-b'], 'round robin over the narrowed set');
  const cluster = s.proxy.clusters.allClusters()[0]!;
  // Every connection is open now (availability changes as they open rebuild the pickers of
  // the sets in use, however the opens fall between calls): from here on nothing changes.
  const builds = cluster.pickerBuilds;
  t.ok(builds >= 2, `a picker per narrowed set (${builds} built so far)`);
  for (let i = 0; i < 30; i++) await consumer.call(i, { 'x-version': 'v1' });
  for (let i = 0; i < 30; i++) await consumer.call(i, { 'x-version': 'v2' });
  t.equal(cluster.pickerBuilds, builds, 'the same two sets 60 more times: no picker built');
  t.equal(narrowing.calls, 120);
  const none = await consumer.call(1, { 'x-version': 'v9' });
  t.equal(status(none), ResponseStatus.SERVICE_ERROR);
  t.equal(
    decodeErrorMessage(none.body),
    'dubbo-mesh [DM_ERR_NO_HEALTHY_UPSTREAM]: no healthy instance of default/user-provider: endpoint narrowing by-version kept none of its 3 endpoints',
  );
  t.equal(s.proxy.stats.counters.local_response_no_healthy_upstream, 1);
});

t.test('a retry excludes the endpoints already tried within the narrowed set', async (t) => {
  const s = await setup(t, { endpointNarrowings: [byVersion()] });
  // v1-a refuses connections: its calls fail over, within v1 only.
  await s.providers[0]!.close();
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  const names = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const answer = await consumer.call(i, { 'x-version': 'v1' });
    t.equal(status(answer), ResponseStatus.OK);
    names.add(userName(answer));
  }
  t.same([...names], ['v1-b'], 'never v2-a, though it is available');
  t.ok(s.proxy.stats.counters.upstream_rq_retry >= 1, 'at least one call was retried');
});

t.test('a narrowing that throws answers 80 naming it', async (t) => {
  const s = await setup(t, {
    endpointNarrowings: [
      {
        name: 'broken',
        narrow: () => {
          throw new Error('rule table missing');
        },
      },
    ],
  });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  const answer = await consumer.call(1);
  t.equal(status(answer), ResponseStatus.SERVER_ERROR);
  t.equal(decodeErrorMessage(answer.body), 'dubbo-mesh [DM_ERR_FILTER_FAILED]: endpoint narrowing broken failed: rule table missing');
});

t.test('FilterChain: selection remembered per decision; a throwing appliesTo is reported and the filter applies', async (t) => {
  const errors: string[] = [];
  let asked = 0;
  const chain = new FilterChain(
    [
      { name: 'both', onRequest: () => undefined, onResponse: () => undefined },
      { name: 'request-only', onRequest: () => undefined },
      {
        name: 'broken-selector',
        appliesTo: () => {
          asked += 1;
          throw new Error('bad');
        },
        onResponse: () => undefined,
      },
    ],
    [],
    (name) => errors.push(name),
  );
  const decision = {
    kind: 'route',
    serviceKey: 'a',
    rule: 'default',
    destinations: [{ serviceId: 'ns/a', subset: undefined, weight: 1 }],
    totalWeight: 1,
    timeoutMs: undefined,
    retries: undefined,
  } as const;
  const selected = chain.select(decision)!;
  t.same(
    selected.request.map((f) => f.name),
    ['both', 'request-only'],
  );
  t.same(
    selected.response.map((f) => f.name),
    ['broken-selector', 'both'],
    'response order is reversed',
  );
  t.equal(chain.select(decision), selected, 'the same decision: the same selection');
  t.equal(asked, 1, 'appliesTo asked once');
  t.not(chain.select({ ...decision }), selected, 'another decision is selected on its own');
  t.equal(asked, 2);
  t.same(errors, ['broken-selector', 'broken-selector'], 'each throw reported');
  const empty = new FilterChain([{ name: 'never', appliesTo: () => false, onRequest: () => undefined }], []);
  t.equal(empty.select(decision), undefined, 'nothing applies: no selection');
  t.throws(() => new FilterChain([{ name: '', onRequest: () => undefined }], []), /non-empty name/);
});
