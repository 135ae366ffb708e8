// `npm run broadcast -- <stream> <action> --target … --text …`: sends a Turbo Stream to the chat's
// browsers from outside the web server, through the Redis the servers share (REDIS_URL).
//
//   REDIS_URL=redis://127.0.0.1:6379 npm run broadcast -- chat:BroadcastStream update --target broadcast_box --text "Hello"
import { fileURLToPath } from 'node:url';

import Handlebars from 'handlebars';

import { createBroadcaster } from 'hapi-turbo';
import { runBroadcastCli } from 'hapi-turbo/cli';

import { formatTime } from '../lib/chat/time.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

if (!process.env.REDIS_URL) {
    console.error('REDIS_URL is not set: the chat servers and this command must share a Redis (see docs/scaling.md)');
    process.exit(2);
}

process.exitCode = await runBroadcastCli(process.argv.slice(2), async () => createBroadcaster({
    redis: process.env.REDIS_URL!,
    views: { engines: { html: Handlebars.create() }, relativeTo: ROOT, path: 'views', partialsPath: 'views' },
    helpers: { time: formatTime },
    streams: { chat: await import('../lib/chat/streams.ts') }
}));
