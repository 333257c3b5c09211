// Peek vs full decode of the request bodies of apache/dubbo-benchmark's UserService.
//
// Baseline, measured in the same run: hessian.js decoding the whole body, value by value
// (what a proxy that "just decodes" would do). Also shown: our decodeRequestBody, which is
// hessian.js behind the structural safety check.
//
//   npm run bench            (or: node benchmarks/dist/peek-vs-decode.js [--json])
import hessian from 'hessian.js';
import { decodeRequestBody, encodeRequestBody, peekRequest } from '@dubbo-mesh/protocol';
import { USER_SERVICE, userServiceCalls } from '@dubbo-mesh/test-support';
import { timeOperation, type OperationTime } from './micro-timing.js';

const ATTACHMENTS = { path: USER_SERVICE, interface: USER_SERVICE, version: '1.0.0', group: 'g1', timeout: 3000, application: 'benchmark-consumer' };
const BATCH = 1000;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 400);
const WARMUP = 30_000;

/** Per-operation time, from SAMPLES batches of BATCH calls each. */
const measure = (operation: () => unknown): OperationTime => timeOperation(operation, { batch: BATCH, samples: SAMPLES, warmup: WARMUP });

function hessianDecodeAll(body: Buffer, argumentCount: number): unknown {
  const decoder = new hessian.DecoderV2(body);
  const values: unknown[] = [];
  for (let i = 0; i < 5 + argumentCount + 1; i++) values.push(decoder.read());
  return values;
}

let sink: unknown;
const rows = userServiceCalls().map((call) => {
  const body = encodeRequestBody({ path: USER_SERVICE, version: '1.0.0', ...call, attachments: ATTACHMENTS });
  const count = call.arguments.length;
  const peek = measure(() => (sink = peekRequest(body)));
  const peekAndArgument = measure(() => (sink = peekRequest(body).decodeArgument(0)));
  const baseline = measure(() => (sink = hessianDecodeAll(body, count)));
  const ours = measure(() => (sink = decodeRequestBody(body)));
  return {
    request: `${call.method}(${call.parameterTypes.join(', ')})`,
    bytes: body.length,
    peek,
    peekAndArgument,
    baseline,
    ours,
    speedup: baseline.medianNs / peek.medianNs,
  };
});
void sink;

if (process.argv.includes('--json')) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  const us = (ns: number) => (ns / 1000).toFixed(2).padStart(7);
  console.log(`Node ${process.version}, ${SAMPLES} samples × ${BATCH} calls after ${WARMUP} warm-up calls; medians (p99 of batch means) in µs\n`);
  console.log('request                                          bytes    peek          peek+arg0     hessian.js     decodeRequestBody  peek speed-up');
  for (const r of rows) {
    console.log(
      `${r.request.padEnd(48)} ${String(r.bytes).padStart(5)} ${us(r.peek.medianNs)} (${us(r.peek.p99Ns)}) ${us(r.peekAndArgument.medianNs)} (${us(r.peekAndArgument.p99Ns)}) ${us(r.baseline.medianNs)} (${us(r.baseline.p99Ns)}) ${us(r.ours.medianNs)} (${us(r.ours.p99Ns)})   ${r.speedup.toFixed(1)}×`,
    );
  }
}
