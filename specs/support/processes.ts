import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The chat app as separate processes, the way it runs behind a load balancer.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ChatProcess {
    url: string;
    port: number;
    /** Everything the process printed. */
    output(): string;
    kill(signal?: NodeJS.Signals): Promise<void>;
}

export const CHAT_SECRET = 'a-cluster-secret-that-is-long-enough-to-sign';


/** Starts `lib/chat/main.ts` on a free loopback port and waits until it serves. */
export const startChat = async function (env: { REDIS_URL: string; DATABASE_URL: string }): Promise<ChatProcess> {

    const child = spawn(process.execPath, ['--import', 'tsx', 'lib/chat/main.ts'], {
        cwd: ROOT,
        env: { ...process.env, ...env, HOST: '127.0.0.1', PORT: '0', SECRET: CHAT_SECRET, NODE_ENV: 'test' },
        stdio: ['ignore', 'pipe', 'pipe']
    });

    let output = '';
    child.stdout.on('data', (chunk) => output += chunk);
    child.stderr.on('data', (chunk) => output += chunk);

    const url = await new Promise<string>((resolve, reject) => {

        const timer = setTimeout(() => reject(new Error(`the chat did not start:\n${output}`)), 30_000);
        const look = () => {

            const match = /Chat is running at (http:\/\/\S+)/.exec(output);
            if (match) {
                clearTimeout(timer);
                resolve(match[1]!);
            }
        };

        child.stdout.on('data', look);
        child.once('exit', (code) => reject(new Error(`the chat exited with ${code}:\n${output}`)));
    });

    return {
        url,
        port: Number(new URL(url).port),
        output: () => output,
        kill: async (signal = 'SIGTERM') => {

            if (child.exitCode === null && child.signalCode === null) {
                const exited = new Promise((resolve) => child.once('exit', resolve));
                child.kill(signal);
                await exited;
            }
        }
    };
};


/** Reads the crumb cookie and CSRF token a page hands out, for form posts. */
export const csrf = async function (url: string): Promise<{ cookie: string; token: string }> {

    const res = await fetch(url);
    const cookie = res.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');
    const token = /<meta name="csrf-token" content="([^"]+)">/.exec(await res.text())?.[1];
    if (!token) {
        throw new Error(`no csrf-token on ${url}`);
    }

    return { cookie, token };
};
