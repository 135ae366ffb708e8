// A throw-away PostgreSQL server for a test run (startPostgres, used by `npm run test:postgres`
// through scripts/with-postgres.ts), and where its binaries are (findPostgresBin). The specs' own
// database per fixture is specs/support/postgres.ts.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { chown, mkdtemp, readFile } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

import { freePort } from './free-port.ts';

const DEBIAN = '/usr/lib/postgresql';
const TOOLS = ['initdb', 'pg_ctl', 'postgres'];
const PREFIX = 'hapi-turbo-pg-';
const OWNER_FILE = 'owner.pid';
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const START_ATTEMPTS = 3;
const RAM_DISK = '/dev/shm';
const RAM_DISK_MIN_BYTES = 512 * 1024 * 1024;


const quietly = function (command: string, args: string[]): string | null {

    try {
        return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    }
    catch {
        return null;
    }
};


/**
 * The directory with initdb, pg_ctl and postgres: `pg_config --bindir`, then Debian's
 * /usr/lib/postgresql/<version>/bin (newest first; Debian keeps them off PATH), then PATH. pg_config
 * alone is not enough: libpq-dev ships one that names the server's directory without the server.
 */
export const findPostgresBin = function (): string | null {

    const candidates: string[] = [];
    const configured = quietly('pg_config', ['--bindir']);
    if (configured) {
        candidates.push(configured);
    }

    if (existsSync(DEBIAN)) {
        const versions = readdirSync(DEBIAN).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a));
        candidates.push(...versions.map((version) => join(DEBIAN, version, 'bin')));
    }

    candidates.push(...(process.env.PATH ?? '').split(delimiter).filter(Boolean));
    return candidates.find((dir) => TOOLS.every((tool) => existsSync(join(dir, tool)))) ?? null;
};


// PostgreSQL refuses to run as root. As root, its files belong to the "postgres" user (Debian's
// package makes one) or "nobody", and its tools run as that user.
const serverUser = function (): { name: string; uid: number; gid: number } | null {

    if (process.getuid?.() !== 0) {
        return null;
    }

    for (const name of ['postgres', 'nobody']) {
        const uid = quietly('id', ['-u', name]);
        const gid = quietly('id', ['-g', name]);
        if (uid && gid) {
            return { name, uid: Number(uid), gid: Number(gid) };
        }
    }

    throw new Error('Running as root, PostgreSQL needs an unprivileged user to run as: there is no "postgres" or "nobody" user');
};


// Where the server's files go. CREATE DATABASE copies a few megabytes, even with fsync off: measured
// here, 60 to 400 ms on disk depending on the load, 10 to 30 ms in memory, and the specs make one
// database per test. A small /dev/shm (Docker's default is 64 MiB) would fill up: use the disk then.
const parentDirectory = function (): string {

    try {
        const { bavail, bsize } = statfsSync(RAM_DISK);
        if (bavail * bsize >= RAM_DISK_MIN_BYTES) {
            accessSync(RAM_DISK, fsConstants.W_OK);
            return RAM_DISK;
        }
    }
    catch {
        // No RAM disk here
    }

    return tmpdir();
};


const isAlive = function (pid: number): boolean {

    try {
        process.kill(pid, 0);
        return true;
    }
    catch (error) {
        return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
};


// A run killed outright (SIGKILL, a closed CI job) cannot stop its server. The next run stops
// those whose owner is gone, so they do not pile up; directories without an owner file are still
// being set up by a live run and are left alone.
const reapOrphans = function (bin: string, user: ReturnType<typeof serverUser>): void {

    const dirs = [...new Set([RAM_DISK, tmpdir()])].flatMap((parent) => {

        try {
            return readdirSync(parent).filter((entry) => entry.startsWith(PREFIX)).map((entry) => join(parent, entry));
        }
        catch {
            return [];
        }
    });

    for (const dir of dirs) {
        try {
            const owner = Number(readFileSync(join(dir, OWNER_FILE), 'utf8'));
            if (owner && !isAlive(owner)) {
                stopAndRemove(bin, user, dir);
            }
        }
        catch {
            // Not ours to read, or gone already
        }
    }
};


const asUser = function (user: ReturnType<typeof serverUser>, command: string, args: string[]): [string, string[]] {

    return user ? ['runuser', ['-u', user.name, '--', command, ...args]] : [command, args];
};


// Synchronous, so it also works from an 'exit' listener. "immediate" skips the shutdown checkpoint:
// the data is thrown away anyway.
const stopAndRemove = function (bin: string, user: ReturnType<typeof serverUser>, dir: string): void {

    const data = join(dir, 'data');
    if (existsSync(join(data, 'postmaster.pid'))) {
        spawnSync(...asUser(user, join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '30']), { cwd: dir, stdio: 'ignore' });
    }

    rmSync(dir, { recursive: true, force: true });
};


// Run from the server's directory: the user the tools run as may not be allowed into ours
const run = function (user: ReturnType<typeof serverUser>, dir: string, command: string, args: string[]): { ok: boolean; output: string } {

    const [file, argv] = asUser(user, command, args);
    const result = spawnSync(file, argv, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}` };
};


export interface PostgresServer {
    /** postgres://postgres@127.0.0.1:<port>/postgres: no password, trust authentication on loopback only. */
    url: string;
    /** The server's major version, as initdb reports it. */
    version: string;
    /** Stops the server and removes its files; safe to call more than once. */
    stop(): void;
}

export interface StartOptions {
    /** Where initdb, pg_ctl and postgres are; default findPostgresBin(). */
    bin?: string;
    /** Called on SIGINT, SIGTERM and SIGHUP before the server is stopped and the process exits. */
    onSignal?: (signal: NodeJS.Signals) => void;
}


/**
 * Starts a throw-away PostgreSQL server on a free loopback port: initdb into a temp directory
 * (trust authentication, user "postgres", durability off for speed), pg_ctl -w start. It is stopped
 * and its directory removed by stop(), when the process exits, and on SIGINT, SIGTERM and SIGHUP.
 */
export const startPostgres = async function (options: StartOptions = {}): Promise<PostgresServer> {

    const bin = options.bin ?? findPostgresBin();
    if (!bin) {
        throw new Error('No PostgreSQL server found (initdb, pg_ctl, postgres): install one (Debian: apt-get install postgresql)');
    }

    const user = serverUser();
    reapOrphans(bin, user);

    const dir = await mkdtemp(join(parentDirectory(), PREFIX));
    writeFileSync(join(dir, OWNER_FILE), String(process.pid));
    if (user) {
        await chown(dir, user.uid, user.gid);
    }

    let stopped = false;
    const stop = function () {

        if (stopped) {
            return;
        }

        stopped = true;
        process.off('exit', stop);
        for (const [signal, listener] of listeners) {
            process.off(signal, listener);
        }

        stopAndRemove(bin, user, dir);
    };

    // The 'exit' listener covers a normal end, process.exit() and an uncaught error; a signal ends
    // the process without 'exit' unless someone listens, so listen and exit the way it would have
    const listeners = SIGNALS.map((signal) => [signal, () => {

        options.onSignal?.(signal);
        stop();
        process.exit(128 + constants.signals[signal]);
    }] as const);

    process.on('exit', stop);
    for (const [signal, listener] of listeners) {
        process.on(signal, listener);
    }

    try {
        const data = join(dir, 'data');
        const init = run(user, dir, join(bin, 'initdb'), ['-D', data, '--auth=trust', '--username=postgres', '--encoding=UTF8', '--locale=C', '--no-sync']);
        if (!init.ok) {
            throw new Error(`initdb failed:\n${init.output}`);
        }

        const version = (await readFile(join(data, 'PG_VERSION'), 'utf8')).trim();

        // Another process may take the free port before the server binds it: try another one
        for (let attempt = 1; ; ++attempt) {
            const port = await freePort();
            const log = join(dir, `postgres-${port}.log`);
            const settings = [
                '-c listen_addresses=127.0.0.1', `-c port=${port}`, `-k '${dir}'`,
                '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'
            ];

            const start = run(user, dir, join(bin, 'pg_ctl'), ['start', '-D', data, '-w', '-t', '30', '-l', log, '-o', settings.join(' ')]);
            if (start.ok) {
                return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, version, stop };
            }

            if (attempt === START_ATTEMPTS) {
                const logged = existsSync(log) ? readFileSync(log, 'utf8') : '';
                throw new Error(`pg_ctl start failed ${START_ATTEMPTS} times, the last time with:\n${start.output}${logged}`);
            }
        }
    }
    catch (error) {
        stop();
        throw error;
    }
};
