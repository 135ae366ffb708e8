import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { createServer } from '../lib/chat/server.ts';
import { percentile } from './stats.ts';

// One chat message at a time, in one process, without sockets: where the server's time goes between
// the request and the publish, point by point, the way the real path sends it (the send form through
// server.inject with the CSRF cookie and header and Turbo's headers). Messages `GAP` ms apart, as the
// bench sends them (caches cold by the next one), or back to back with GAP=0.
//
//   taskset -c 0 npx tsx bench/one-message.ts            # 100 ms apart
//   GAP=0 taskset -c 0 npx tsx bench/one-message.ts      # back to back

const COUNT = 200;
const WARMUP = 20;
const GAP_MS = Number(process.env.GAP ?? 100);

const dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-one-message-'));
const chat = await createServer({ databaseUrl: `sqlite:${join(dir, 'chat.sqlite')}`, port: 0, host: '127.0.0.1', secret: 'x'.repeat(40) });
const times = new Map<string, number[]>();
let start = 0;
const mark = function (point: string): void {

    times.set(point, [...times.get(point) ?? [], performance.now() - start]);
};

chat.server.ext('onRequest', (request, h) => {

    if (request.method === 'post') {
        start = performance.now();
    }

    return h.continue;
});
chat.server.ext('onPreHandler', (request, h) => {

    if (request.method === 'post') {
        mark('handler');
    }

    return h.continue;
});
for (const hook of ['beforeValidate', 'beforeCreate'] as const) {
    chat.Message.addHook(hook, () => mark(hook));
}

chat.sequelize.addHook('beforeQuery', () => mark('query'));
chat.sequelize.addHook('afterQuery', () => mark('queried'));
const transport = chat.server.turbo.transport as unknown as { publish: (records: unknown) => void };
const publish = transport.publish.bind(transport);
transport.publish = (records) => {

    mark('publish');
    publish(records);
};

await chat.server.start();
const page = await chat.server.inject({ url: '/' });
const crumb = /crumb=([^;]+)/.exec(String(page.headers['set-cookie']))![1]!;
for (let i = 0; i < COUNT; ++i) {
    const response = await chat.server.inject({
        method: 'POST', url: '/1/message_create', payload: `text=message+${i}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `crumb=${crumb}`, 'x-csrf-token': crumb, accept: 'text/vnd.turbo-stream.html, text/html', 'x-turbo-request-id': `request-${i}` }
    });
    mark('response');
    if (response.statusCode !== 303) {
        throw new Error(`POST answered ${response.statusCode}`);
    }

    await new Promise((resolve) => setTimeout(resolve, GAP_MS));
}

console.log(`µs after the request reached hapi, medians of ${COUNT - WARMUP} messages ${GAP_MS} ms apart:`);
const medians = [...times].map(([point, values]) => [point, Math.round(percentile(values.slice(WARMUP), 50)! * 1000)] as const);
for (const [point, median] of medians.sort((a, b) => a[1] - b[1])) {
    console.log(`  ${point.padEnd(16)} ${median}`);
}

await chat.server.stop();
await chat.sequelize.close();
await rm(dir, { recursive: true, force: true });
