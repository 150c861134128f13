'use strict';
// A small Node.js client of the LSO Interlude gRPC API, built at run time from the
// .proto files with @grpc/proto-loader (no generated code). It reuses the Python
// client's service config (deadlines and retries per method), sends the buyer and
// bearer token as metadata, turns failures into InterludeError with the ErrorInfo
// reason and every BadRequest field violation, and follows an order to its end
// through StreamEvents, resuming from the last token if the stream breaks.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const ROOT = path.resolve(__dirname, '..', '..');
const PROTO_DIR = path.join(ROOT, 'proto');
const PROTO_FILES = ['inventory', 'catalog', 'ordering', 'events'].map(
  (name) => `mef/lso/interlude/v1/${name}.proto`,
);
const SERVICE_CONFIG = path.join(ROOT, 'clients', 'python', 'interlude_client', 'service_config.json');
const TERMINAL = new Set([
  'SERVICE_ORDER_STATE_COMPLETED',
  'SERVICE_ORDER_STATE_FAILED',
  'SERVICE_ORDER_STATE_PARTIAL',
  'SERVICE_ORDER_STATE_REJECTED',
  'SERVICE_ORDER_STATE_CANCELLED',
]);

// google.rpc.Status and the details we read, as protobufjs JSON (field numbers from
// google/rpc/status.proto and error_details.proto), so no .proto needs vendoring.
const RPC = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: { nested: { Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } } } },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
              },
            },
            ErrorInfo: {
              fields: {
                reason: { type: 'string', id: 1 },
                domain: { type: 'string', id: 2 },
                metadata: { keyType: 'string', type: 'string', id: 3 },
              },
            },
            BadRequest: {
              fields: { field_violations: { rule: 'repeated', type: 'FieldViolation', id: 1 } },
              nested: {
                FieldViolation: {
                  fields: {
                    field: { type: 'string', id: 1 },
                    description: { type: 'string', id: 2 },
                    reason: { type: 'string', id: 3 },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
});

class InterludeError extends Error {
  constructor(error) {
    super(error.details || error.message);
    this.code = error.code;
    this.codeName = grpc.status[error.code] || 'UNKNOWN';
    this.reason = '';
    this.domain = '';
    this.errorMetadata = {};
    this.fieldViolations = [];
    const raw = error.metadata ? error.metadata.get('grpc-status-details-bin') : [];
    if (raw.length > 0) this.readDetails(raw[0]);
  }

  readDetails(bytes) {
    const status = RPC.lookupType('google.rpc.Status').decode(bytes);
    for (const detail of status.details) {
      const name = detail.type_url.split('/').pop();
      if (name === 'google.rpc.ErrorInfo') {
        const info = RPC.lookupType(name).decode(detail.value);
        this.reason = info.reason;
        this.domain = info.domain;
        this.errorMetadata = { ...info.metadata };
      } else if (name === 'google.rpc.BadRequest') {
        const bad = RPC.lookupType(name).decode(detail.value);
        for (const v of bad.field_violations) {
          this.fieldViolations.push({ field: v.field, description: v.description, reason: v.reason });
        }
      }
    }
  }
}

/** A google.protobuf.Struct from a plain JSON object (protobufjs names the well-known types' fields in camelCase). */
function toStruct(object) {
  const value = (v) => {
    if (v === null) return { nullValue: 'NULL_VALUE' };
    if (Array.isArray(v)) return { listValue: { values: v.map(value) } };
    switch (typeof v) {
      case 'number': return { numberValue: v };
      case 'string': return { stringValue: v };
      case 'boolean': return { boolValue: v };
      default: return { structValue: toStruct(v) };
    }
  };
  return { fields: Object.fromEntries(Object.entries(object).map(([k, v]) => [k, value(v)])) };
}

class InterludeClient {
  /** target "host:port"; options: credentials (grpc.credentials), buyer, token. */
  constructor(target, { credentials, buyer, token } = {}) {
    const definition = protoLoader.loadSync(PROTO_FILES, {
      keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR],
    });
    const v1 = grpc.loadPackageDefinition(definition).mef.lso.interlude.v1;
    const creds = credentials || grpc.credentials.createInsecure();
    this.channel = new grpc.Channel(target, creds, {
      'grpc.service_config': fs.readFileSync(SERVICE_CONFIG, 'utf8'),
    });
    const shared = { channelOverride: this.channel };
    this.inventory = new v1.ServiceInventoryService(target, creds, shared);
    this.catalog = new v1.ServiceCatalogService(target, creds, shared);
    this.ordering = new v1.ServiceOrderingService(target, creds, shared);
    this.events = new v1.EventService(target, creds, shared);
    this.buyer = buyer;
    this.token = token;
  }

  metadata() {
    const metadata = new grpc.Metadata();
    if (this.buyer) metadata.set('x-interlude-buyer', this.buyer);
    if (this.token) metadata.set('authorization', `Bearer ${this.token}`);
    return metadata;
  }

  /** A unary call as a promise; failures reject with InterludeError. */
  call(stub, method, request) {
    return new Promise((resolve, reject) => {
      stub[method](request, this.metadata(), (error, response) => {
        if (error) reject(new InterludeError(error));
        else resolve(response);
      });
    });
  }

  /** Every item of a List RPC, following next_page_token; `pages` counts the calls. */
  async listAll(stub, method, request, itemsField) {
    const items = [];
    let pages = 0;
    let page_token = '';
    do {
      const page = await this.call(stub, method, { ...request, page_token });
      pages += 1;
      items.push(...page[itemsField]);
      page_token = page.next_page_token;
    } while (page_token);
    return { items, pages };
  }

  /** A change with a request_id (a new UUID unless given), so retries create nothing twice. */
  change(method, request) {
    return this.call(this.ordering, method, { request_id: crypto.randomUUID(), ...request });
  }

  /**
   * Follow an order to a terminal state through StreamEvents: open the stream first,
   * read the order after its sync marker, then apply its events. `onUpdate(order)` sees
   * each state; resolves with the final order. Reconnects from the last token on UNAVAILABLE.
   */
  followOrder(orderId, onUpdate = () => {}) {
    return new Promise((resolve, reject) => {
      let token = '';
      let synced = false;
      let finished = false;
      const finish = (call, order) => {
        finished = true;
        call.cancel();
        resolve(order);
      };
      const seen = (call, order) => {
        onUpdate(order);
        if (TERMINAL.has(order.state)) finish(call, order);
      };
      const open = () => {
        const request = {
          filter: { resource_ids: [orderId], resource_types: ['RESOURCE_TYPE_SERVICE_ORDER'] },
          heartbeat_interval: { seconds: 5 },
        };
        if (token) request.resume_token = token;
        const call = this.events.StreamEvents(request, this.metadata());
        call.on('data', (response) => {
          const part = response[response.kind];
          token = (part && part.resume_token) || token;
          if (response.kind === 'sync' && !synced) {
            synced = true;
            this.call(this.ordering, 'GetServiceOrder', { id: orderId })
              .then((r) => { if (!finished) seen(call, r.service_order); }, reject);
          } else if (response.kind === 'event' && response.event.service_order && !finished) {
            seen(call, response.event.service_order);
          }
        });
        call.on('error', (error) => {
          if (finished) return;
          if (error.code === grpc.status.UNAVAILABLE) setTimeout(open, 200);
          else reject(new InterludeError(error));
        });
      };
      open();
    });
  }

  close() {
    this.channel.close();
  }
}

module.exports = { InterludeClient, InterludeError, toStruct, TERMINAL };
