import { spawn, type ChildProcess } from 'node:child_process';

import { createClient } from 'redis';

import { freePort } from '../../scripts/free-port.ts';

// A throw-away redis-server for tests: loopback only, a free port, nothing written to disk.

export interface RedisInstance {
    url: string;
    port: number;
    /** Kills the server (as a crash would); `start()` brings a new, empty one up on the same port. */
    stop(): Promise<void>;
    start(): Promise<void>;
}


export const startRedis = async function (): Promise<RedisInstance> {

    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    let child: ChildProcess | null = null;

    const instance: RedisInstance = {
        url,
        port,
        async start() {

            child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: 'ignore' });
            const client = createClient({ url, socket: { reconnectStrategy: (retries) => retries > 50 ? new Error('redis-server did not start') : 50 } });
            client.on('error', () => undefined);
            await client.connect();
            await client.ping();
            await client.quit();
        },
        async stop() {

            const running = child;
            child = null;
            if (running && running.exitCode === null) {
                const exited = new Promise((resolve) => running.once('exit', resolve));
                running.kill('SIGKILL');
                await exited;
            }
        }
    };

    await instance.start();
    return instance;
};
