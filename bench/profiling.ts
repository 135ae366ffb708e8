import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { log, ROOT, spawnChild, stopChild, type Child } from './children.ts';
import { phase, windows, withSio } from './measure.ts';
import { summariseProfile } from './profile.ts';
import { round } from './stats.ts';
import type { Scenario, ServerRun, Started } from './types.ts';

// `npm run bench -- --profile`: the floor, the pipeline and the floor again in one server process
// under --cpu-prof, each summary cut to its phase's time window.

const RESULTS = join(ROOT, 'bench', 'results');
const PROFILE_SCENARIO = { n: 1000, rate: 25, count: 300 };

interface ProfiledPhase {
    label: string;
    window: ServerRun['window'];
    scenario: Scenario;
}


// Each process profiles into its own folder; with tsx's loader thread there is one file per thread
export const profileDir = function (name: string): string {

    const dir = join(RESULTS, 'profile', name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    return dir;
};


/** The main thread's profile: thread id 0 in node's default file name, else the largest file. */
const mainThreadProfile = function (dir: string): string {

    const files = readdirSync(dir).filter((file) => file.endsWith('.cpuprofile'));
    const main = files.find((file) => /\.\d+\.0\.\d+\.cpuprofile$/.test(file)) ??
        files.sort((a, b) => statSync(join(dir, b)).size - statSync(join(dir, a)).size)[0];
    if (!main) {
        throw new Error(`no .cpuprofile in ${dir}`);
    }

    return join(dir, main);
};


// The floor first, in a fresh process, then the pipeline, then the floor again: the second floor
// shows what the library costs the whole process once it has run (AsyncLocalStorage, when used,
// turns on async_hooks for every async operation), which the first does not pay.
export const profileRun = async function (clients: Child): Promise<{ dir: string; phases: ProfiledPhase[] }> {

    const dir = profileDir('server');
    const server = spawnChild('server.ts', 0, ['--expose-gc', '--cpu-prof', `--cpu-prof-dir=${dir}`]);
    const info = await server.call<Started>('start', {});
    const phases: ProfiledPhase[] = [];
    log(`profiling at N=${PROFILE_SCENARIO.n}, ${PROFILE_SCENARIO.rate}/s, ${PROFILE_SCENARIO.count} broadcasts: floor, pipeline, floor`);
    await withSio(clients, info.port, info.signed, PROFILE_SCENARIO.n, async () => {

        for (const [path, label] of [['floor', 'floor (fresh process)'], ['pipeline', 'pipeline'], ['floor', 'floor (after the pipeline)']] as const) {
            const scenario = await phase(server, clients, { kind: 'latency', path, label: path, client: 'sio', ...PROFILE_SCENARIO, warmup: 20 });
            phases.push({ label, window: windows.get(scenario)!, scenario });
        }
    });
    await stopChild(server);
    return { dir, phases };
};


// Both processes share the monotonic clock, so each run's window cuts both profiles
export const writeProfiles = function (serverDir: string, clientDir: string, phases: ProfiledPhase[]): void {

    const serverFile = mainThreadProfile(serverDir);
    const clientFile = mainThreadProfile(clientDir);
    const summaries = phases.map((item) => {

        const server = summariseProfile(serverFile, 30, item.window);
        return {
            label: item.label,
            server_busy_ms_per_broadcast: round(server.busy_ms / PROFILE_SCENARIO.count, 3),
            p50_ms: item.scenario.p50_ms,
            p99_ms: item.scenario.p99_ms,
            ...server
        };
    });
    const pipeline = phases.find((item) => item.label === 'pipeline')!;
    const clients = summariseProfile(clientFile, 15, pipeline.window);
    const file = join(RESULTS, 'profile.json');
    const main = summaries.find((item) => item.label === 'pipeline')!;
    writeFileSync(file, JSON.stringify({ scenario: { path: 'pipeline', ...PROFILE_SCENARIO }, date: new Date().toISOString(), ...main, phases: summaries, clients }, null, 2) + '\n');
    for (const item of summaries) {
        console.log(`\n== server, ${item.label}: ${item.server_busy_ms_per_broadcast} ms busy per broadcast, p50 ${item.p50_ms} ms\n${item.text}`);
    }

    console.log(`\n== clients, pipeline\n${clients.text}`);
    log(`profiles in ${join(RESULTS, 'profile')}; summary in ${file}`);
};
