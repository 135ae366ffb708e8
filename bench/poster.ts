import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';

import { schedule } from './schedule.ts';
import { now, percentile } from './stats.ts';

// The sender of the real path, in the clients' process (core 1): the chat's send form submitted
// the way Turbo submits it from a page, one POST per message on a kept-alive connection, with the
// CSRF cookie and X-CSRF-Token, Turbo's Accept and X-Turbo-Request-Id. t0 is stamped just before
// the request is written and travels in the message text, which both servers put in the markup.

const TURBO_ACCEPT = 'text/vnd.turbo-stream.html, text/html, application/xhtml+xml';

const agent = new Agent({ keepAlive: true, maxSockets: 8 });


/** The crumb a browser gets with its first page (GET /): the cookie value, or null when none is set. */
export const crumbOf = function (args: { port: number }): Promise<string | null> {

    return new Promise((resolve, reject) => {

        const req = request({ host: '127.0.0.1', port: args.port, path: '/', agent }, (res) => {

            res.resume();
            const cookie = [res.headers['set-cookie'] ?? []].flat().find((item) => item.startsWith('crumb='));
            resolve(cookie ? cookie.slice('crumb='.length).split(';')[0]! : null);
        });
        req.once('error', reject);
        req.end();
    });
};


export interface PostArgs {
    port: number;
    path: string;
    crumb: string | null;
    rate: number;
    count: number;
    base: number;
}


/** Submits `count` messages at `rate`/s; resolves once every response is in. */
export const post = async function (args: PostArgs) {

    const statuses: Record<string, number> = {};
    const answered: Promise<void>[] = [];
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: TURBO_ACCEPT };
    if (args.crumb) {
        headers.cookie = `crumb=${args.crumb}`;
        headers['x-csrf-token'] = args.crumb;
    }

    const send = (k: number) => {

        const t0 = now();
        const body = new URLSearchParams({ text: `bench-id:${args.base + k} bench-t0:${t0}` }).toString();
        answered.push(new Promise<void>((resolve) => {

            const req = request({ host: '127.0.0.1', port: args.port, path: args.path, method: 'POST', agent,
                headers: { ...headers, 'x-turbo-request-id': randomUUID(), 'content-length': String(Buffer.byteLength(body)) } }, (res) => {

                res.resume();
                res.once('end', () => {

                    statuses[res.statusCode!] = (statuses[res.statusCode!] ?? 0) + 1;
                    resolve();
                });
            });
            req.once('error', (error) => {

                statuses[error.message] = (statuses[error.message] ?? 0) + 1;
                resolve();
            });
            req.end(body);
        }));
    };

    const { lateMs, spanMs } = await schedule(args.rate, args.count, send);
    await Promise.all(answered);
    return {
        statuses,
        errors: args.count - (statuses[303] ?? 0),
        achieved_rate: args.count > 1 ? (args.count - 1) / spanMs * 1000 : args.rate,
        late_p99_ms: percentile(lateMs, 99)
    };
};
