// A mesh proxy's local replies, as another proxy reads them when they are relayed.
import t from 'tap';
import { ResponseStatus, decodeErrorMessage, decodeFrame } from '@dubbo-mesh/protocol';
import {
  ConnectFailureError,
  NoConfigError,
  NoHealthyUpstreamError,
  OverflowError,
  ProxyErrorCode,
  RouteTimeoutError,
  ServiceNotFoundError,
  UnknownTargetApplicationError,
  UpstreamUnavailableError,
  capName,
  inboundFailure,
  relayedFailure,
} from '@dubbo-mesh/proxy';

function replyMessage(error: { toLocalReply(id: bigint): Buffer }): string {
  const decoded = decodeFrame(error.toLocalReply(7n));
  if (decoded.kind !== 'frame') throw new Error('not a frame');
  return decodeErrorMessage(decoded.frame.body);
}

t.test("an inbound proxy's answer that its application did not get or lost the call is read back with its code", async (t) => {
  const refused = inboundFailure(new ConnectFailureError('127.0.0.1:20880', 'ECONNREFUSED'));
  t.equal(
    replyMessage(refused),
    'dubbo-mesh [DM_ERR_APP_NOT_REACHED]: the application behind the inbound proxy did not get the call: cannot connect to 127.0.0.1:20880: ECONNREFUSED',
    'the code is on the wire',
  );
  const connect = relayedFailure('10.0.0.5:20891', replyMessage(refused));
  t.equal(connect?.code, ProxyErrorCode.CONNECT_FAILURE);
  t.equal(
    connect?.message,
    'the sidecar at 10.0.0.5:20891 answered: the application behind the inbound proxy did not get the call: cannot connect to 127.0.0.1:20880: ECONNREFUSED',
  );
  t.equal(
    relayedFailure('p', replyMessage(inboundFailure(new NoHealthyUpstreamError('inbound', 'all 1 endpoints are unavailable'))))?.code,
    ProxyErrorCode.CONNECT_FAILURE,
    'READONLY there: not run either',
  );
  const lost = relayedFailure('p', replyMessage(inboundFailure(new UpstreamUnavailableError('127.0.0.1:20880', 'connection closed'))));
  t.equal(lost?.code, ProxyErrorCode.UPSTREAM_UNAVAILABLE);
  t.match(lost?.message, /lost the call: instance 127\.0\.0\.1:20880 became unavailable: connection closed/);
  t.equal(inboundFailure(new OverflowError('limit')).code, ProxyErrorCode.OVERFLOW, 'other inbound failures are answered as they are');
});

t.test('anything else is passed on as it is: retries never multiply across hops', async (t) => {
  t.equal(
    relayedFailure('p', replyMessage(new ConnectFailureError('10.0.0.9:20891', 'ECONNREFUSED'))),
    undefined,
    "a routing proxy's or gateway's final error: it retried already",
  );
  t.equal(relayedFailure('p', replyMessage(new NoHealthyUpstreamError('default/svc', 'all 3 endpoints are unavailable'))), undefined);
  t.equal(
    relayedFailure('p', 'java.lang.IllegalStateException: the application behind the inbound proxy did not get the call: x'),
    undefined,
    "a provider's own error",
  );
  t.equal(relayedFailure('p', replyMessage(new RouteTimeoutError(100, 'org.example.Api', 1))), undefined, 'a timeout there: the call may have run');
  t.equal(relayedFailure('p', replyMessage(new NoConfigError('org.example.Api'))), undefined);
  t.equal(relayedFailure('p', ''), undefined);
  t.equal(relayedFailure('p', 'dubbo-mesh: something else: x'), undefined, 'the old prefix with any other text');
  t.equal(relayedFailure('p', 'dubbo-mesh [DM_ERR_CONNECT_FAILURE]: cannot connect to 10.0.0.9:20891: ECONNREFUSED'), undefined, 'another code');
});

t.test("a sidecar from before the codes (0.1.0) is still understood, for one release's rolling upgrades", async (t) => {
  t.equal(
    relayedFailure('p', 'dubbo-mesh: the application behind the inbound proxy did not get the call: cannot connect to 127.0.0.1:20880: ECONNREFUSED')?.code,
    ProxyErrorCode.CONNECT_FAILURE,
  );
  t.equal(
    relayedFailure('p', 'dubbo-mesh: the application behind the inbound proxy lost the call: connection closed')?.code,
    ProxyErrorCode.UPSTREAM_UNAVAILABLE,
  );
});

t.test('a name a consumer chose is cut in messages', async (t) => {
  const path = `org.example.${'x'.repeat(100_000)}`;
  const message = replyMessage(new ServiceNotFoundError(path));
  t.ok(message.length < 400, `the reply is ${message.length} characters, not 100 KB`);
  t.match(message, /^dubbo-mesh \[DM_ERR_SERVICE_NOT_FOUND\]: no mesh service provides org\.example\.x+…\(99756 more characters\)$/);
  t.equal(capName('short'), 'short');
  const unknown = new UnknownTargetApplicationError(`app-${'y'.repeat(10_000)}`);
  t.equal(unknown.code, ProxyErrorCode.UNKNOWN_TARGET_APPLICATION);
  t.equal(unknown.status, ResponseStatus.SERVICE_NOT_FOUND, 'status 60, as an unknown service key');
  t.match(
    replyMessage(unknown),
    /^dubbo-mesh \[DM_ERR_UNKNOWN_TARGET_APPLICATION\]: no Ingress of class dubbo serves target-application "app-y+…\(9748 more characters\)"$/,
    'a target application is a name the consumer chose too',
  );
});
