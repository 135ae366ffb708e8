// `npm run test:postgres`: starts a throw-away PostgreSQL server, runs the command given after it
// with TEST_DATABASE_URL set to the server's URL, then stops the server and removes its files, on
// Ctrl+C too. For one spec: node --import tsx scripts/with-postgres.ts node --import tsx --test <spec>
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

import { startPostgres } from './postgres.ts';

const [command, ...args] = process.argv.slice(2);
if (!command) {
    process.stderr.write('Usage: with-postgres.ts <command> [args...]\n');
    process.exit(2);
}

const children = new Set<ChildProcess>();
const since = Date.now();

// A signal sent to this process alone (not to the terminal's whole group) must reach the specs too
const server = await startPostgres({ onSignal: (signal) => children.forEach((child) => child.kill(signal)) });
process.stdout.write(`PostgreSQL ${server.version} started on ${server.url} in ${Date.now() - since} ms\n`);

const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, TEST_DATABASE_URL: server.url } });
children.add(child);
const code = await new Promise<number>((resolve) => {

    child.once('error', (error) => {

        process.stderr.write(`${command}: ${error.message}\n`);
        resolve(127);
    });

    child.once('exit', (status, signal) => resolve(status ?? 128 + (signal ? constants.signals[signal] : 0)));
});

const stopping = Date.now();
server.stop();
process.stdout.write(`PostgreSQL stopped and removed in ${Date.now() - stopping} ms\n`);
process.exit(code);
