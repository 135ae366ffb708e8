import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Server } from '@hapi/hapi';

import { createServer, type ChatServerOptions } from '../../lib/chat/server.ts';
import { testDatabase } from '../support/postgres.ts';

export const SECRET = 'a-chat-test-secret-that-is-long-enough-to-sign';
export const TURBO_ACCEPT = 'text/vnd.turbo-stream.html, text/html, application/xhtml+xml';      // What Turbo sends with a form


/**
 * The chat app on a fresh sqlite file (or PostgreSQL database, with TEST_DATABASE_URL), initialised
 * (helpers registered) but not listening.
 */
export const startChat = async function (options: ChatServerOptions = {}) {

    const dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-chat-'));
    const database = await testDatabase(join(dir, 'chat.sqlite'));
    const chat = await createServer({ databaseUrl: database.url, secret: SECRET, ...options });
    await chat.server.initialize();

    return {
        ...chat,
        dir,
        async close() {

            await chat.server.stop({ timeout: 1000 });
            await chat.sequelize.close();
            await database.drop();
            await rm(dir, { recursive: true, force: true });
        }
    };
};

export type Chat = Awaited<ReturnType<typeof startChat>>;


/** The crumb a browser gets with its first page: the cookie value, echoed in <meta name="csrf-token">. */
export const crumbOf = async function (server: Server): Promise<string> {

    const res = await server.inject('/');
    const cookie = [res.headers['set-cookie'] ?? []].flat().find((item) => item.startsWith('crumb='));
    if (!cookie) {
        throw new Error('GET / set no crumb cookie');
    }

    return cookie.slice('crumb='.length).split(';')[0]!;
};


export interface PostOptions {
    /** Sent as cookie and X-CSRF-Token; null sends neither. */
    crumb: string | null;
    /** A different X-CSRF-Token than the cookie. */
    header?: string;
    accept?: string;
    /** More request headers (X-Turbo-Socket-Id). */
    headers?: Record<string, string>;
}


/** A form submission the way Turbo makes it: urlencoded, with the crumb in X-CSRF-Token. */
export const submit = function (server: Server, url: string, fields: Record<string, string>, options: PostOptions) {

    const headers: Record<string, string> = {
        'content-type': 'application/x-www-form-urlencoded',
        accept: options.accept ?? TURBO_ACCEPT,
        ...options.headers
    };

    if (options.crumb !== null) {
        headers.cookie = `crumb=${options.crumb}`;
        headers['x-csrf-token'] = options.header ?? options.crumb;
    }

    return server.inject({ method: 'POST', url, payload: new URLSearchParams(fields).toString(), headers });
};


/** The text of an HTML page with tags dropped and whitespace folded, for "what does the reader see" checks. */
export const visibleText = (html: string) => html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();


/** Matches the stream source element a page prints for `signed`, with the position it was rendered at. */
export const sourceElement = function (signed: string): RegExp {

    const escaped = signed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return new RegExp(`<turbo-socket-stream-source signed-stream-name="${escaped}" epoch="[^"]+" seq="\\d+"></turbo-socket-stream-source>`);
};
