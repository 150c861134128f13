'use strict';
// The polyglot proof, run by the test suite against a live server: list the services
// (every page), get one, create a connectivity order and follow it to completion
// through StreamEvents, then read a rich error. One JSON line per step on stdout.
//
//   node clients/node/demo.js --target 127.0.0.1:50051 --buyer sp-alpha

const { parseArgs } = require('node:util');
const { InterludeClient, InterludeError, toStruct } = require('./interlude');

const EVC = 'urn:mef:lso:spec:legato:carrier-ethernet-evc:v0.0.1:all';

function print(step, fields) {
  process.stdout.write(`${JSON.stringify({ step, ...fields })}\n`);
}

async function main() {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: '127.0.0.1:50051' },
      buyer: { type: 'string', default: 'sp-alpha' },
      a: { type: 'string', default: 'alpha-uni-1' },
      b: { type: 'string', default: 'alpha-uni-2' },
    },
  });
  const client = new InterludeClient(values.target, { buyer: values.buyer, token: process.env.INTERLUDE_TOKEN });
  try {
    const { items, pages } = await client.listAll(
      client.inventory, 'ListServices', { page_size: 5 }, 'services',
    );
    print('list', { count: items.length, pages, ids: items.map((s) => s.id) });

    const { service } = await client.call(client.inventory, 'GetService', { id: items[0].id });
    print('get', { id: service.id, state: service.state, type: service.service_configuration.type });

    const { service_order: order } = await client.change('CreateConnectivity', {
      connectivity_configuration: { type: EVC },
      end_points: [{ interface_service_id: values.a }, { interface_service_id: values.b }],
      external_id: 'node-demo',
    });
    print('order', { id: order.id, state: order.state, items: order.service_order_item.length });

    const final = await client.followOrder(order.id, (o) => print('progress', { id: o.id, state: o.state }));
    print('final', { id: final.id, state: final.state });

    try {
      await client.change('UpdateService', {
        service: {
          id: 'alpha-ovc-1-ep-1',
          service_configuration: {
            attributes: toStruct({ ingressBandwidthProfilePerOvcEndPoint: { cir: { irValue: 5000 } }, vlanId: 7 }),
          },
        },
        update_mask: {
          paths: [
            'service_configuration.attributes.ingressBandwidthProfilePerOvcEndPoint.cir.irValue',
            'service_configuration.attributes.vlanId',
          ],
        },
      });
      print('error', { code: 'OK' });
    } catch (error) {
      if (!(error instanceof InterludeError)) throw error;
      print('error', {
        code: error.codeName, reason: error.reason, domain: error.domain, fieldViolations: error.fieldViolations,
      });
    }
  } finally {
    client.close();
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
