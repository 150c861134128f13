'use strict';
// A minimal Partner network backend in Node.js behind the southbound contract
// (interlude.network.v1.NetworkService): it dials the server's --network-listen,
// completes every order item, answers every test step with one measurement per
// metric at its nominal value, and reports one operational state change.
// Usage: node tests/node/network_backend.js HOST:PORT BUYER SERVICE_ID
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [target, buyerId, serviceId] = process.argv.slice(2);
const definition = protoLoader.loadSync('interlude/network/v1/network.proto', {
  includeDirs: [path.resolve(__dirname, '..', '..', 'proto')],
  keepCase: true, enums: String, longs: Number, defaults: true,
});
const { NetworkService } = grpc.loadPackageDefinition(definition).interlude.network.v1;
const client = new NetworkService(target, grpc.credentials.createInsecure());
const stream = client.Attach();
const now = () => ({ seconds: Math.floor(Date.now() / 1000), nanos: 0 });

stream.write({ hello: { worker_name: 'node-backend', version: '0.1',
  capabilities: ['CAPABILITY_ORDERING', 'CAPABILITY_TESTING', 'CAPABILITY_REPORTS'] } });
stream.on('data', (message) => {
  if (message.welcome) {
    console.log(JSON.stringify({ attached: message.welcome.session_id }));
    stream.write({ report: { state: { buyer_id: buyerId, service_id: serviceId,
      operational_state: 'OPERATIONAL_STATE_DISABLED', reason: 'node: loss of signal', observed_time: now() } } });
  } else if (message.apply_item) {
    stream.write({ apply_item_result: { request_id: message.apply_item.request_id,
      outcome: 'APPLY_OUTCOME_COMPLETED', operational_state: 'OPERATIONAL_STATE_ENABLED' } });
  } else if (message.run_test_step) {
    const { request_id, run_number, step } = message.run_test_step;
    const passes = (value, t) =>
      (t.comparison === 'TEST_THRESHOLD_COMPARISON_AT_MOST' ? value <= t.value : value >= t.value);
    const measurements = step.metrics.map((metric) => ({
      run_number, step_name: step.name, metric_name: metric.name, value: metric.nominal,
      unit: metric.unit, direction: metric.direction, cos_name: step.cos_name, measure_time: now(),
      threshold: metric.threshold,
      verdict: !metric.threshold ? 'TEST_VERDICT_UNSPECIFIED'
        : passes(metric.nominal, metric.threshold) ? 'TEST_VERDICT_PASS' : 'TEST_VERDICT_FAIL',
    }));
    stream.write({ test_step_result: { request_id, measurements } });
  }
});
stream.on('error', (error) => { console.error(error.message); process.exit(1); });
stream.on('end', () => process.exit(0));
process.on('SIGTERM', () => { stream.end(); process.exit(0); });
