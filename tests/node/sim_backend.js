'use strict';
// The Partner network simulator as a Node.js network worker behind the southbound contract
// (interlude.network.v1.NetworkService), the counterpart of the Python worker
// (python -m interlude_server.partner.worker) with the same flags and fault file:
// - order items take --sim-step-delay seconds each and complete, unless a fault rule of the
//   file's `faults` matches (externalId glob, action, serviceConfigurationType): the item is
//   then failed, held, pending or waits for information, a waiting outcome once per item;
// - test steps take --sim-step-delay seconds and measure each metric of the step the server
//   sends (nominal value, relative spread, below-only, threshold and verdict), drawn per
//   (seed, test type, configuration, run, step); the file's `testFaults` make a step breach a
//   threshold or fail with an error code;
// - take_measurements measures each metric the server names (typical value, spread, SLS
//   objective in force), a few intervals breaching and a few flagged suspect.
// Values are deterministic per --sim-seed, but not the same numbers as the Python simulator's.
// Usage: node tests/node/sim_backend.js --server HOST:PORT [--name N] [--sim-faults FILE]
//   [--sim-step-delay S] [--sim-seed N] [--reconnect-delay S] [--log-format json|console]
//   [--tls-ca PEM [--tls-cert PEM --tls-key PEM]]
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const VERSION = '0.1';
const FLAGS = {
  '--server': 'server', '--name': 'name', '--sim-faults': 'simFaults', '--sim-step-delay': 'stepDelay',
  '--sim-seed': 'seed', '--reconnect-delay': 'reconnectDelay', '--log-format': 'logFormat',
  '--tls-ca': 'tlsCa', '--tls-cert': 'tlsCert', '--tls-key': 'tlsKey',
};
const NUMBERS = ['stepDelay', 'seed', 'reconnectDelay'];

function fail(message) {
  process.stderr.write(`sim_backend: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const options = {
    name: `sim-node@${os.hostname()}`, stepDelay: 1, seed: 0, reconnectDelay: 1, logFormat: 'console',
  };
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const key = FLAGS[flag];
    if (!key) fail(`unknown argument ${argv[i]}`);
    const value = inline !== undefined ? inline : argv[(i += 1)];
    if (value === undefined) fail(`${flag} needs a value`);
    options[key] = NUMBERS.includes(key) ? Number(value) : value;
    if (NUMBERS.includes(key) && !(Number.isFinite(options[key]) && options[key] >= 0)) {
      fail(`${flag}: a number >= 0, not ${value}`);
    }
  }
  if (!options.server) fail('--server HOST:PORT is required');
  if (!['json', 'console'].includes(options.logFormat)) fail('--log-format: json or console');
  return options;
}

// ---- logging: one line per event, JSON spelled as Python's json.dumps does ----
let logFormat = 'console';
function log(event, fields = {}) {
  const record = { event, level: 'info', timestamp: new Date().toISOString(), ...fields };
  const line = logFormat === 'json'
    ? `{${Object.entries(record).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')}}`
    : `${record.timestamp} ${event} ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ')}`;
  process.stdout.write(`${line}\n`);
}

// ---- globs (Python's fnmatch.fnmatchcase) ----
function globRegExp(pattern) {
  let out = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const c = pattern[i];
    const close = c === '[' ? pattern.indexOf(']', i + 2) : -1;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (close > 0) {
      let set = pattern.slice(i + 1, close).replace(/\\/g, '\\\\');
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      out += `[${set}]`;
      i = close;
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}
const glob = (pattern, text) => globRegExp(pattern).test(text);

// ---- the fault file (partner/ordering/simulator.py and partner/sft/simulator.py) ----
const ACTIONS = { add: 'SERVICE_ACTION_ADD', modify: 'SERVICE_ACTION_MODIFY', delete: 'SERVICE_ACTION_DELETE' };
const OUTCOMES = ['failed', 'held', 'pending', 'informationRequired'];
const EFFECTS = ['breach', 'error'];
const ERROR_CODES = ['TEST_HEAD_UNAVAILABLE', 'FAR_END_UNREACHABLE', 'SERVICE_NOT_ACTIVE'];
const isNumber = (v) => typeof v === 'number' && Number.isFinite(v);

function faultProblems(index, entry) {
  const where = `faults[${index}]`;
  if (!entry || typeof entry !== 'object' || !entry.externalId || !entry.reason) {
    return [`${where}: externalId and reason are required`];
  }
  const out = [];
  if (!['', ...Object.keys(ACTIONS)].includes(entry.action ?? '')) {
    out.push(`${where}.action: must be add, modify or delete`);
  }
  const outcome = entry.outcome ?? 'failed';
  if (!OUTCOMES.includes(outcome)) out.push(`${where}.outcome: must be one of ${OUTCOMES.join(', ')}`);
  const seconds = entry.holdSeconds;
  if (seconds != null && !(isNumber(seconds) && seconds >= 0)) {
    out.push(`${where}.holdSeconds: must be a number of seconds >= 0`);
  }
  if (seconds != null && !['held', 'pending'].includes(outcome)) {
    out.push(`${where}.holdSeconds: only for outcome held or pending`);
  }
  const information = entry.information;
  if (outcome === 'informationRequired') {
    if (!Array.isArray(information) || !information.length) {
      out.push(`${where}.information: list what the buyer must supply (JSON Pointers, or /note)`);
    } else if (!information.every((p) => typeof p === 'string' && p.startsWith('/') && p !== '/')) {
      out.push(`${where}.information: each entry is a JSON Pointer such as /a/b, or /note`);
    }
  } else if (information != null) out.push(`${where}.information: only for outcome informationRequired`);
  return out;
}

function testFaultProblems(index, entry) {
  const where = `testFaults[${index}]`;
  if (!entry || typeof entry !== 'object' || !entry.jobName || !EFFECTS.includes(entry.effect)) {
    return [`${where}: jobName and effect (${EFFECTS.join(' or ')}) are required`];
  }
  if (entry.value != null && !isNumber(entry.value)) return [`${where}.value: must be a number`];
  if (!ERROR_CODES.includes(entry.errorCode ?? ERROR_CODES[0])) {
    return [`${where}.errorCode: must be one of ${ERROR_CODES.join(', ')}`];
  }
  return [];
}

function loadFaults(file) {
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new Error(`${file}: expected {"faults": [...]}`);
  const faults = data.faults ?? [];
  const testFaults = data.testFaults ?? [];
  const problems = Array.isArray(testFaults) ? [] : ['testFaults: must be a list'];
  (Array.isArray(faults) ? faults : []).forEach((e, i) => problems.push(...faultProblems(i, e)));
  (Array.isArray(testFaults) ? testFaults : []).forEach((e, i) => problems.push(...testFaultProblems(i, e)));
  if (problems.length) throw new Error(`${file}: ${problems.join('; ')}`);
  return {
    faults: faults.map((e) => ({
      externalId: e.externalId, reason: e.reason, action: e.action ?? '',
      serviceConfigurationType: e.serviceConfigurationType ?? '', outcome: e.outcome ?? 'failed',
      holdSeconds: e.holdSeconds ?? null, information: e.information ?? [],
    })),
    testFaults: testFaults.map((e) => ({
      jobName: e.jobName, effect: e.effect, step: String(e.step ?? '*'), metric: String(e.metric ?? ''),
      value: e.value ?? null, errorCode: e.errorCode ?? ERROR_CODES[0],
      reason: String(e.reason ?? 'simulated: the test head did not respond'),
    })),
  };
}

// ---- numbers drawn from a seed ----
function uniform(...parts) {
  const digest = crypto.createHash('sha256').update(JSON.stringify(parts)).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}
const round6 = (value) => Math.round(value * 1e6) / 1e6;
const sleep = (seconds) => new Promise((resolve) => { setTimeout(resolve, seconds * 1000); });
function now() {
  const ms = Date.now();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

// google.protobuf.Struct / Value as proto-loader decodes them (keepCase, oneofs) -> plain JS.
function fromValue(value) {
  if (!value || !value.kind || value.kind === 'null_value') return null;
  if (value.kind === 'struct_value') return fromStruct(value.struct_value);
  if (value.kind === 'list_value') return (value.list_value.values || []).map(fromValue);
  return value[value.kind];
}
function fromStruct(struct) {
  const out = {};
  for (const [key, value] of Object.entries((struct && struct.fields) || {})) out[key] = fromValue(value);
  return out;
}
function sortedJson(value) {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${sortedJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

// ---- order items ----
function faultMatches(rule, order, item) {
  const type = (item.service && item.service.service_configuration && item.service.service_configuration.type) || '';
  return glob(rule.externalId, order.external_id)
    && (!rule.action || ACTIONS[rule.action] === item.action)
    && (!rule.serviceConfigurationType || rule.serviceConfigurationType === type)
    && (rule.outcome === 'failed' || !(item.wait || []).length);
}

function faultResult(requestId, rule) {
  if (rule.outcome === 'failed') {
    return { request_id: requestId, outcome: 'APPLY_OUTCOME_FAILED', reason: rule.reason };
  }
  if (rule.outcome === 'informationRequired') {
    return {
      request_id: requestId, outcome: 'APPLY_OUTCOME_INFORMATION_REQUIRED', reason: rule.reason,
      information_required: rule.information,
    };
  }
  const result = {
    request_id: requestId, reason: rule.reason,
    outcome: rule.outcome === 'held' ? 'APPLY_OUTCOME_HELD' : 'APPLY_OUTCOME_PENDING',
  };
  if (rule.holdSeconds != null) result.resume_after_seconds = rule.holdSeconds;
  return result;
}

async function applyItem(sim, request) {
  const { request_id: requestId, order, item_id: itemId } = request;
  const item = (order.service_order_item || []).find((i) => i.id === itemId);
  if (!item) return { request_id: requestId, outcome: 'APPLY_OUTCOME_FAILED', reason: `no item '${itemId}'` };
  await sleep(sim.stepDelay);
  const rule = sim.faults.find((r) => faultMatches(r, order, item));
  return rule ? faultResult(requestId, rule) : { request_id: requestId, outcome: 'APPLY_OUTCOME_COMPLETED' };
}

// ---- test steps (domain/sft/plan.py: measure, breaching_value, measurement) ----
function drawValue(metric, u) {
  if (metric.below_only) return round6(metric.nominal * (1 - u * metric.spread));
  return round6(Math.max(0, metric.nominal * (1 + (2 * u - 1) * metric.spread)));
}

function breachingValue(metric) {
  const t = metric.threshold;
  if (!t) return metric.nominal * 10;
  return t.comparison === 'TEST_THRESHOLD_COMPARISON_AT_MOST' ? round6(t.value * 2 + 1) : round6(t.value * 0.5);
}

function passes(value, t) {
  return t.comparison === 'TEST_THRESHOLD_COMPARISON_AT_MOST' ? value <= t.value : value >= t.value;
}

function testMeasurement(metric, value, step, runNumber, at) {
  const out = {
    run_number: runNumber, step_name: step.name, metric_name: metric.name, value, unit: metric.unit,
    measure_time: at, direction: metric.direction, cos_name: step.cos_name,
  };
  if (metric.threshold) {
    out.threshold = { value: metric.threshold.value, comparison: metric.threshold.comparison };
    out.verdict = passes(value, metric.threshold) ? 'TEST_VERDICT_PASS' : 'TEST_VERDICT_FAIL';
  }
  if (step.details && Object.keys(step.details.fields || {}).length) out.details = step.details;
  return out;
}

async function runTestStep(sim, request) {
  const { request_id: requestId, job, run_number: run, step_index: index, step } = request;
  await sleep(sim.stepDelay);
  const rules = sim.testFaults.filter((r) => glob(r.jobName, job.name) && glob(r.step, step.name));
  const broken = rules.find((r) => r.effect === 'error');
  if (broken) return { request_id: requestId, error_code: broken.errorCode, reason: `${step.name}: ${broken.reason}` };
  const configuration = sortedJson(fromStruct(request.configuration));
  const at = now();
  const measurements = step.metrics.map((metric, m) => {
    let value = drawValue(metric, uniform(sim.seed, job.test_type, configuration, run, index + 1, m));
    for (const rule of rules) {
      if (rule.metric === metric.name || (!rule.metric && metric.threshold)) {
        value = rule.value != null ? rule.value : breachingValue(metric);
      }
    }
    return testMeasurement(metric, value, step, run, at);
  });
  return { request_id: requestId, measurements };
}

// ---- performance measurements (partner/performance/measure.py) ----
const BREACH_RATE = 0.04;
const SUSPECT_RATE = 0.03;
const SUSPECT_REASONS = ['clock unsynchronised during the interval', 'interval incomplete: measurement restarted'];

function subjectOf(ref) {
  if (!ref) return '';
  if (ref.service) return ref.service.id;
  if (ref.service_from_to) return `${ref.service_from_to.service_from.id}/${ref.service_from_to.service_to.id}`;
  return ref.entity ? ref.entity.id : '';
}

function pmValue(seed, subject, metric, start) {
  const u = (...parts) => uniform(seed, subject, metric.name, start, ...parts);
  let value = metric.typical + metric.spread * ((u(0) + u(1) + u(2)) / 1.5 - 1);
  if (u('breach') < BREACH_RATE) {
    const excess = 1.2 + u('size');
    value = metric.higher_is_better ? metric.sls_objective - 0.05 * excess : metric.sls_objective * excess;
  }
  return round6(Math.min(Math.max(value, 0), metric.unit === '%' ? 100 : Infinity));
}

function takeMeasurements(sim, request) {
  const { request_id: requestId, job, metrics } = request;
  if (!metrics.length) return { request_id: requestId, error: 'the request names no metrics to measure' };
  const subject = subjectOf(job.monitored_object);
  const start = Number(request.interval_start_time.seconds);
  const suspect = uniform(sim.seed, subject, start, 'suspect') < SUSPECT_RATE;
  const why = SUSPECT_REASONS[Math.floor(uniform(sim.seed, subject, start, 'why') * SUSPECT_REASONS.length)];
  const measurements = metrics.map((metric) => {
    const value = pmValue(sim.seed, subject, metric, start);
    const target = metric.sls_objective;
    return {
      performance_job_id: job.id, monitored_object: job.monitored_object, metric_name: metric.name, value,
      unit: metric.unit, interval_start_time: request.interval_start_time,
      interval_end_time: request.interval_end_time, suspect, suspect_reason: suspect ? why : '',
      sls_objective: target, breached: metric.higher_is_better ? value < target : value > target,
    };
  });
  return { request_id: requestId, measurements };
}

// ---- the session: attach, answer each request as it finishes, reattach after a break ----
const HANDLERS = {
  apply_item: ['apply_item_result', applyItem],
  run_test_step: ['test_step_result', runTestStep],
  take_measurements: ['measurement_result', takeMeasurements],
};

function loadService() {
  const definition = protoLoader.loadSync('interlude/network/v1/network.proto', {
    includeDirs: [path.resolve(__dirname, '..', '..', 'proto')],
    keepCase: true, enums: String, longs: Number, defaults: true, oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).interlude.network.v1.NetworkService;
}

function credentialsOf(options) {
  if (!options.tlsCa) return grpc.credentials.createInsecure();
  const read = (file) => (file ? fs.readFileSync(file) : null);
  return grpc.credentials.createSsl(read(options.tlsCa), read(options.tlsKey), read(options.tlsCert));
}

function attachOnce(client, options, sim) {
  return new Promise((resolve) => {
    const stream = client.Attach();
    const beat = setInterval(() => stream.write({ heartbeat: { sent_time: now() } }), 20000);
    let open = true;
    const done = (event, fields) => {
      if (!open) return;
      open = false;
      clearInterval(beat);
      log(event, { server: options.server, ...fields });
      resolve();
    };
    stream.write({ hello: { worker_name: options.name, version: VERSION,
      capabilities: ['CAPABILITY_ORDERING', 'CAPABILITY_TESTING', 'CAPABILITY_MEASUREMENTS'] } });
    stream.on('data', (message) => {
      if (message.kind === 'welcome') log('worker.attached', { server: options.server, session: message.welcome.session_id });
      const handler = HANDLERS[message.kind];
      if (!handler) return;
      const request = message[message.kind];
      log('worker.request', { kind: message.kind, request_id: request.request_id });
      Promise.resolve(handler[1](sim, request)).then(
        (result) => { if (open) stream.write({ [handler[0]]: result }); },
        (error) => log('worker.request_failed', { kind: message.kind, error: String(error && error.stack) }),
      );
    });
    stream.on('error', (error) => done('worker.attach_failed', { code: error.code, error: error.details }));
    stream.on('end', () => done('worker.detached', {}));
  });
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  logFormat = options.logFormat;
  let rules = { faults: [], testFaults: [] };
  try {
    if (options.simFaults) rules = loadFaults(options.simFaults);
  } catch (error) {
    fail(error.message);
  }
  const sim = { stepDelay: options.stepDelay, seed: options.seed, ...rules };
  const NetworkService = loadService();
  const client = new NetworkService(options.server, credentialsOf(options));
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
  for (;;) {
    await attachOnce(client, options, sim);
    await sleep(options.reconnectDelay);
  }
}

main();
