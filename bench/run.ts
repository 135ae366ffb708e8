import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

import { elapsedS, foreignCpu, log, machineSample, PINNED, ROOT, spawnChild, stopChild } from './children.ts';
import { CLIENT_CPU_LIMIT, FOREIGN_CPU_LIMIT, KNEE_LAG_MS, KNEE_P99_MS, ONLY, PROFILE, QUICK, runs, WINDOW_MS } from './config.ts';
import { canAfford, knees, stageDone, withRatios } from './measure.ts';
import { profileDir, profileRun, writeProfiles } from './profiling.ts';
import { writeReport } from './report.ts';
import { mainRun, memoryRun, realRun, variantRun } from './stages.ts';
import { round, sleep } from './stats.ts';
import type { Scenario } from './types.ts';

// `npm run bench`: the orchestrator of reference §5. It starts the servers (core 0) and the load
// clients (core 1) as separate processes, drives every phase over IPC, writes
// bench/results/latest.json and regenerates docs/performance.md and docs/performance.svg from it.
// Flags: bench/config.ts.

const RESULTS = join(ROOT, 'bench', 'results');


const versionOf = function (name: string): string {

    try {
        return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    }
    catch {
        return 'unknown';
    }
};


const gitState = function (): { commit: string; dirty: boolean } {

    try {
        const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
        const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
        return { commit, dirty };
    }
    catch {
        return { commit: 'unknown', dirty: false };
    }
};


const memoryOf = async function (clients: Parameters<typeof memoryRun>[0]) {

    if (!runs('memory')) {
        return null;
    }

    const memory = [await memoryRun(clients, 'library'), await memoryRun(clients, 'bare')];
    return {
        library: memory[0],
        bare: memory[1],
        library_own_heap_kb_per_subscriber: round((memory[0]!.heap_kb_per_subscriber ?? 0) - (memory[1]!.heap_kb_per_subscriber ?? 0), 2),
        library_own_rss_kb_per_subscriber: round((memory[0]!.rss_kb_per_subscriber ?? 0) - (memory[1]!.rss_kb_per_subscriber ?? 0), 2)
    };
};


const main = async function (): Promise<void> {

    if (!PINNED) {
        console.warn('bench: WARNING: taskset is missing or this machine has fewer than 2 cores; running unpinned, numbers will drift (§5.1)');
    }

    // Other work on the box invalidates phases (see machineSample); say so up front
    const idle0 = machineSample([]);
    await sleep(2000);
    const busy = foreignCpu(idle0, machineSample([]));
    if (busy !== null && busy > FOREIGN_CPU_LIMIT) {
        console.warn(`bench: WARNING: other processes are using ${busy.toFixed(0)}% of a core right now; phases run while they do are marked invalid`);
    }

    mkdirSync(RESULTS, { recursive: true });
    const clientProfile = PROFILE ? profileDir('clients') : '';
    const clients = spawnChild('clients.ts', 1, PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${clientProfile}`] : []);
    process.once('SIGINT', () => {

        clients.process.kill('SIGKILL');
        process.exit(130);
    });

    try {
        if (PROFILE) {
            const serverProfile = await profileRun(clients);
            await stopChild(clients);
            writeProfiles(serverProfile.dir, clientProfile, serverProfile.phases);
            return;
        }

        const scenarios: Scenario[] = [];
        if (runs('real')) {
            log('the chat through HTTP, beside its floor');
            await realRun(clients, scenarios);
        }

        stageDone('real');
        const info = runs('latency') || runs('throughput') ? await mainRun(clients, scenarios) : null;
        let batchSupported = true;
        if (runs('variants')) {
            batchSupported = await variantRun(clients, scenarios, false, 'pipeline-unbatched');
            stageDone('unbatched');
            stageDone('window');
            if (batchSupported && !QUICK) {
                if (canAfford(35)) {
                    await variantRun(clients, scenarios, { window: WINDOW_MS }, `pipeline-window${WINDOW_MS}`);
                }
                else {
                    log('skipping the batch window variant: it would not fit in the time limit');
                }
            }
        }

        const memory = await memoryOf(clients);
        withRatios(scenarios);

        const totalS = round(elapsedS(), 1);
        const result = {
            meta: {
                date: new Date().toISOString(),
                quick: QUICK,
                only: ONLY,
                total_s: totalS,
                pinned: PINNED,
                cpu: cpus()[0]?.model ?? 'unknown',
                cores: cpus().length,
                node: process.version,
                versions: Object.fromEntries(['socket.io', 'engine.io', 'ws', 'sequelize', 'sqlite3', 'handlebars', '@hapi/hapi'].map((name) => [name, versionOf(name)])),
                git: gitState(),
                payload_bytes: info?.sample.length ?? null,
                batch_option_supported: batchSupported,
                client_cpu_limit: CLIENT_CPU_LIMIT,
                foreign_cpu_limit: FOREIGN_CPU_LIMIT,
                knee: { p99_ms: KNEE_P99_MS, loop_lag_ms: KNEE_LAG_MS }
            },
            scenarios,
            knees: knees(scenarios),
            memory
        };

        // Only a full run is the project's record; the others are for trying a change
        const full = !QUICK && ONLY === null;
        const file = join(RESULTS, full ? 'latest.json' : ONLY ? `only-${ONLY}${QUICK ? '-quick' : ''}.json` : 'quick.json');
        writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
        log(`wrote ${file}`);
        if (full) {
            writeReport(file);
            log('wrote docs/performance.md and docs/performance.svg');
        }

        log(`total ${totalS} s`);
    }
    finally {
        await stopChild(clients);
    }
};


await main();
