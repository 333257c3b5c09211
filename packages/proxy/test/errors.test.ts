// A mesh proxy's local replies, as another proxy reads them when they are relayed.
import t from 'tap';
import { decodeErrorMessage, decodeFrame } from '@dubbo-mesh/protocol';
import {
  ConnectFailureError, NoConfigError, NoHealthyUpstreamError, OverflowError, ProxyErrorCode, RouteTimeoutError, UpstreamUnavailableError, inboundFailure, relayedFailure,
} from '@dubbo-mesh/proxy';

function replyMessage(error: { toLocalReply(id: bigint): Buffer }): string {
  const decoded = decodeFrame(error.toLocalReply(7n));
  if (decoded.kind !== 'frame') throw new Error('not a frame');
  return decodeErrorMessage(decoded.frame.body);
}

t.test('an inbound proxy\'s answer that its application did not get or lost the call is read back with its code', async (t) => {
  const refused = inboundFailure(new ConnectFailureError('127.0.0.1:20880', 'ECONNREFUSED'));
  t.equal(replyMessage(refused), 'dubbo-mesh: the application behind the inbound proxy did not get the call: cannot connect to 127.0.0.1:20880: ECONNREFUSED');
  const connect = relayedFailure('10.0.0.5:20891', replyMessage(refused));
  t.equal(connect?.code, ProxyErrorCode.CONNECT_FAILURE);
  t.equal(connect?.message, 'the application behind the inbound proxy at 10.0.0.5:20891 did not get the call: cannot connect to 127.0.0.1:20880: ECONNREFUSED');
  t.equal(relayedFailure('p', replyMessage(inboundFailure(new NoHealthyUpstreamError('inbound', 'all 1 endpoints are unavailable'))))?.code, ProxyErrorCode.CONNECT_FAILURE, 'READONLY there: not run either');
  const lost = relayedFailure('p', replyMessage(inboundFailure(new UpstreamUnavailableError('127.0.0.1:20880', 'connection closed'))));
  t.equal(lost?.code, ProxyErrorCode.UPSTREAM_UNAVAILABLE);
  t.match(lost?.message, /lost the call: instance 127\.0\.0\.1:20880 became unavailable: connection closed/);
  t.equal(inboundFailure(new OverflowError('limit')).code, ProxyErrorCode.OVERFLOW, 'other inbound failures are answered as they are');
});

t.test('anything else is passed on as it is: retries never multiply across hops', async (t) => {
  t.equal(relayedFailure('p', replyMessage(new ConnectFailureError('10.0.0.9:20891', 'ECONNREFUSED'))), undefined, 'a routing proxy\'s or gateway\'s final error: it retried already');
  t.equal(relayedFailure('p', replyMessage(new NoHealthyUpstreamError('default/svc', 'all 3 endpoints are unavailable'))), undefined);
  t.equal(relayedFailure('p', 'java.lang.IllegalStateException: the application behind the inbound proxy did not get the call: x'), undefined, 'a provider\'s own error');
  t.equal(relayedFailure('p', replyMessage(new RouteTimeoutError(100, 'org.example.Api', 1))), undefined, 'a timeout there: the call may have run');
  t.equal(relayedFailure('p', replyMessage(new NoConfigError('org.example.Api'))), undefined);
  t.equal(relayedFailure('p', ''), undefined);
});
