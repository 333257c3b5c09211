// A Dubbo provider that answers every getUser call with one pre-encoded response: the
// cheapest possible upstream, so a benchmark measures the hops in front of it, not it.
// Prints {"port":N} when listening.
import net from 'node:net';
import { FrameDecoder, HEADER_LENGTH, encodeResponse, encodeResponseBody, heartbeatResponseFor, isHeartbeat } from '@dubbo-mesh/protocol';
import { makeUser, userValue } from '@dubbo-mesh/test-support';

const response = encodeResponse({ requestId: 0n, body: encodeResponseBody({ kind: 'value', value: userValue(makeUser(42)), attachments: {} }) });

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  const decoder = new FrameDecoder();
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    const out: Buffer[] = [];
    for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
      if (isHeartbeat(frame)) {
        out.push(heartbeatResponseFor(frame));
        continue;
      }
      const reply = Buffer.from(response);
      frame.bytes.copy(reply, 4, 4, 12); // the caller's id
      out.push(reply);
    }
    if (out.length > 0) socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as net.AddressInfo).port, responseBytes: response.length - HEADER_LENGTH })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
