import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createServer } from '../lib/chat/server.ts';
import { followQueries, followRequests, followTransport, Timeline } from './timeline.ts';

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
const timeline = new Timeline();
followRequests(chat.server, timeline);
followQueries(chat.sequelize, timeline);
followTransport(chat.server.turbo.transport, timeline);
// Two more points, inside Sequelize's create: the row built, then validated
chat.Message.addHook('beforeValidate', () => timeline.mark('built'));
chat.Message.addHook('beforeCreate', () => timeline.mark('validated'));

await chat.server.start();
const page = await chat.server.inject({ url: '/' });
const crumb = /crumb=([^;]+)/.exec(String(page.headers['set-cookie']))![1]!;
timeline.begin();
for (let i = 0; i < COUNT; ++i) {
    const response = await chat.server.inject({
        method: 'POST', url: '/1/message_create', payload: `text=message+${i}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `crumb=${crumb}`, 'x-csrf-token': crumb, accept: 'text/vnd.turbo-stream.html, text/html', 'x-turbo-request-id': `request-${i}` }
    });
    if (response.statusCode !== 303) {
        throw new Error(`POST answered ${response.statusCode}`);
    }

    await new Promise((resolve) => setTimeout(resolve, GAP_MS));
}

console.log(`µs after the request reached hapi, medians of ${COUNT - WARMUP} messages ${GAP_MS} ms apart:`);
const medians = Object.entries(timeline.end(WARMUP)).filter((entry): entry is [string, number] => entry[1] !== null);
for (const [point, median] of medians.sort((a, b) => a[1] - b[1])) {
    console.log(`  ${point.padEnd(16)} ${Math.round(median * 1000)}`);
}

await chat.server.stop();
await chat.sequelize.close();
await rm(dir, { recursive: true, force: true });
