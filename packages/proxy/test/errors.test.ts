// A mesh proxy's local replies, as another proxy reads them when they are relayed.
import t from 'tap';
import { decodeErrorMessage, decodeFrame } from '@dubbo-mesh/protocol';
import {
  ConnectFailureError, NoConfigError, NoHealthyUpstreamError, OverflowError, ProxyErrorCode, RouteTimeoutError, UpstreamUnavailableError, relayedFailure,
} from '@dubbo-mesh/proxy';

function relayedMessage(error: { toLocalReply(id: bigint): Buffer }): string {
  const decoded = decodeFrame(error.toLocalReply(7n));
  if (decoded.kind !== 'frame') throw new Error('not a frame');
  return decodeErrorMessage(decoded.frame.body);
}

t.test('the failures where a call never reached the application, or lost it, are read back with their code', async (t) => {
  const connect = relayedFailure('10.0.0.5:20891', relayedMessage(new ConnectFailureError('127.0.0.1:20880', 'ECONNREFUSED')));
  t.equal(connect?.code, ProxyErrorCode.CONNECT_FAILURE);
  t.equal(connect?.message, 'the proxy at 10.0.0.5:20891 could not reach its application: cannot connect to 127.0.0.1:20880: ECONNREFUSED');
  t.equal(relayedFailure('p', relayedMessage(new NoHealthyUpstreamError('inbound', 'all 1 endpoints are unavailable')))?.code, ProxyErrorCode.CONNECT_FAILURE, 'no instance: not executed either');
  t.equal(relayedFailure('p', relayedMessage(new UpstreamUnavailableError('127.0.0.1:20880', 'connection closed')))?.code, ProxyErrorCode.UPSTREAM_UNAVAILABLE);
});

t.test('anything else is passed on as it is', async (t) => {
  t.equal(relayedFailure('p', 'java.lang.IllegalStateException: cannot connect to the database'), undefined, 'a provider\'s own error');
  t.equal(relayedFailure('p', relayedMessage(new RouteTimeoutError(100, 'org.example.Api', 1))), undefined, 'a timeout there: the call may have run');
  t.equal(relayedFailure('p', relayedMessage(new OverflowError('limit'))), undefined);
  t.equal(relayedFailure('p', relayedMessage(new NoConfigError('org.example.Api'))), undefined);
  t.equal(relayedFailure('p', ''), undefined);
});
