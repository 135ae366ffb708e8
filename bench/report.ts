import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { fmt, renderSvg } from './report-svg.ts';
import { goalsTable, latencyTable, profileSection, realTable, row } from './report-tables.ts';
import type { Scenario } from './types.ts';

// bench/results/latest.json → docs/performance.md + docs/performance.svg. Everything in the
// markdown is regenerated except the hand-written section between the two markers below, which is
// carried over from the existing file. Run on its own with `tsx bench/report.ts` after editing it.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOC = join(ROOT, 'docs', 'performance.md');
const SVG = join(ROOT, 'docs', 'performance.svg');

const pathLabel: Record<string, string> = {
    'pipeline': 'pipeline, default batch (Message.create → hook → render → emit)',
    'floor': 'socket.io floor (io.to(room).emit of pre-rendered HTML)',
    'ws': 'raw ws floor (send loop)',
    'pipeline-unbatched': 'pipeline, batch: false (one emit per broadcast)',
    'pipeline-window10': 'pipeline, batch: { window: 10 }'
};


export const HAND_START = '<!-- hand-written:start (kept by bench/report.ts) -->';
export const HAND_END = '<!-- hand-written:end -->';

const DEFAULT_HAND = `_Fill in per optimisation: what changed, the commit, and the before/after numbers from
bench/results/latest.json (p50/p99 at each N, the knee, renders and queries per broadcast)._

| change | commit | before | after |
| --- | --- | --- | --- |
| | | | |`;

interface Knee {
    path: string;
    n: number;
    sustained_rate: number | null;
    sustained_deliveries_per_s: number | null;
    passed_rate?: number | null;
    knee_rate: number | null;
    knee_reason: string | null;
    knee_valid?: boolean | null;
    knee_invalid_reason?: string | null;
    all_valid: boolean;
}

interface MemoryVariant {
    variant: string;
    points: { n: number; heapUsed: number; rss: number }[];
    heap_kb_per_subscriber: number | null;
    rss_kb_per_subscriber: number | null;
}

export interface Results {
    meta: {
        date: string;
        total_s: number;
        pinned: boolean;
        cpu: string;
        cores: number;
        node: string;
        versions: Record<string, string>;
        git: { commit: string; dirty: boolean };
        payload_bytes: number;
        batch_option_supported: boolean;
        client_cpu_limit: number;
        foreign_cpu_limit?: number;
        knee: { p99_ms: number; loop_lag_ms: number };
    };
    scenarios: Scenario[];
    knees: Knee[];
    memory: null | { library: MemoryVariant; bare: MemoryVariant; library_own_heap_kb_per_subscriber: number | null; library_own_rss_kb_per_subscriber: number | null };
}

interface ProfileSummaryFile {
    busy_ms: number;
    gc_ms: number;
    functions: { name: string; where: string; self_ms: number; pct: number }[];
    areas: { area: string; self_ms: number; pct: number }[];
}

export interface ProfileFile extends ProfileSummaryFile {
    scenario: { path: string; n: number; rate: number; count: number };
    date: string;
    phases?: (ProfileSummaryFile & { label: string; server_busy_ms_per_broadcast: number; p50_ms: number | null; p99_ms: number | null })[];
    clients?: ProfileSummaryFile;
}




// Idle memory: absent from a partial run (--only)
const memorySection = function (memory: Results['memory'] | null): string[] {

    if (!memory) {
        return ['No memory run in these results.'];
    }

    return [
        `Slope between N=${memory.library.points[1]?.n} and N=${memory.library.points[2]?.n} subscribed sockets, after \`gc()\`, each variant in a fresh server process.`,
        '',
        row(['variant', 'heap KB / subscriber', 'RSS KB / subscriber', ...memory.library.points.map((p) => `heap MB at ${p.n}`)]),
        row(Array(3 + memory.library.points.length).fill('---')),
        row(['hapi-turbo (subscribe through the plugin)', fmt(memory.library.heap_kb_per_subscriber, 2), fmt(memory.library.rss_kb_per_subscriber, 2), ...memory.library.points.map((p) => fmt(p.heapUsed / 1048576))]),
        row(['bare socket.io (join in a plain handler)', fmt(memory.bare.heap_kb_per_subscriber, 2), fmt(memory.bare.rss_kb_per_subscriber, 2), ...memory.bare.points.map((p) => fmt(p.heapUsed / 1048576))]),
        row(['**the plugin\'s own share**', `**${fmt(memory.library_own_heap_kb_per_subscriber, 2)}**`, `${fmt(memory.library_own_rss_kb_per_subscriber, 2)}`, ...memory.library.points.map(() => '')]),
    ];
};


export const renderMarkdown = function (results: Results, handWritten: string): string {

    const { meta } = results;
    const latency = results.scenarios.filter((s) => s.kind === 'latency');
    const steps = results.scenarios.filter((s) => s.kind === 'throughput');
    const cross = results.scenarios.filter((s) => s.kind === 'crosscheck');
    const splitRows = latency.filter((s) => s.path === 'pipeline');
    const floors = new Map(latency.filter((s) => s.path === 'floor').map((s) => [s.n, s]));
    const invalid = results.scenarios.filter((s) => !s.valid);

    const out = [
        '# Performance',
        '',
        '<!-- Generated by `npm run bench` (bench/report.ts) from bench/results/latest.json. Edit only the hand-written',
        '     section; everything else is rewritten on the next run. -->',
        '',
        `Measured ${meta.date.slice(0, 16).replace('T', ' ')} UTC on ${meta.cores} × ${meta.cpu}, Node ${meta.node}, ` +
        `socket.io ${meta.versions['socket.io']} (engine.io ${meta.versions['engine.io']}, ws ${meta.versions.ws}), sequelize ${meta.versions.sequelize} + sqlite3 ${meta.versions.sqlite3} (WAL), ` +
        `handlebars ${meta.versions.handlebars}; commit ${meta.git.commit}${meta.git.dirty ? ' with uncommitted changes in lib/' : ''}. ` +
        `Server and clients ${meta.pinned ? 'pinned to cores 0 and 1' : '**not pinned** (taskset missing)'}; the whole run took ${fmt(meta.total_s / 60)} minutes. ` +
        `Payload: one ${meta.payload_bytes}-byte \`<turbo-stream>\` per broadcast.`,
        '',
        invalid.length ?
            `**${invalid.length} of ${results.scenarios.length} scenarios invalid** (marked below): the client process passed ${meta.client_cpu_limit} % of its core, ` +
            `other processes used more than ${meta.foreign_cpu_limit ?? 15} % of a core meanwhile, or connections were lost. Their numbers measure the clients or the neighbours, not the library.` :
            `Every scenario is valid: the client process stayed under ${meta.client_cpu_limit} % of its core, other processes under ${meta.foreign_cpu_limit ?? 15} % of a core, and no connection was lost.`,
        '',
        '![latency per path and N; throughput steps](performance.svg)',
        '',
        '## The chat as users run it: submit → windows',
        '',
        'The chat started through its own code (`createServer` of lib/chat/server.ts with the options `npm start` passes: its sqlite file, crumb, ' +
        'visitor cookies, form parsing), one HTTP POST of the send form per message as Turbo makes it (urlencoded, the CSRF cookie and ' +
        '`X-CSRF-Token`, Turbo\'s Accept and `X-Turbo-Request-Id`, a kept-alive connection), answered with the chat\'s 303. The time runs from just ' +
        'before the request is written to the first and the last subscribed window (the id and t0 travel in the message text). The floor is a ' +
        'hand-written hapi + socket.io server (bench/real-server.ts) that parses the same POST, emits the same markup, pre-rendered, to the room and ' +
        'answers 303: the same clients, one after the other in the same run, each server in a process of its own on core 0. Queries per message ' +
        'are the route\'s room lookup and the INSERT; the broadcast adds none.',
        '',
        ...realTable(results),
        '',
        '## Goals (pipeline, reference §0)',
        '',
        ...goalsTable(results),
        '',
        '## Fan-out latency',
        '',
        'Save → **last** subscriber, per broadcast, over the measured broadcasts (after 20 warm-up). `× floor` is the ratio to the socket.io floor ' +
        'of the same N in the same run. "first p50" is save → first subscriber. Per broadcast (`/b`): template render passes, DB queries and frames sent. ' +
        '"server µs / delivery" is the server process\'s CPU time (user + system) over the run divided by the messages the clients received: ' +
        'what the server spent per delivery, whatever the clients could take; `× floor CPU` compares it with the floor\'s.',
        '',
        ...latencyTable(latency),
        '',
        'Server-side split of the pipeline (medians, ms after t0): the ModelStream hook runs once the INSERT is done (`hook`); the message reaches the ' +
        'transport after render, sequencing and batching (`publish`); `emit` is the synchronous fan-out of one frame, which is also ' +
        'the event-loop stall it causes. The floor\'s `emit` is the same call without the library.',
        '',
        row(['N', 'hook (DB) ms', 'publish ms', 'emit ms p50 / p99', 'floor emit ms p50 / p99', 'DB time /b ms']),
        row(Array(6).fill('---')),
        ...splitRows.map((s) => row([s.n, fmt(s.split.hook_p50_ms, 2), fmt(s.split.publish_p50_ms, 2), `${fmt(s.split.emit_p50_ms, 2)} / ${fmt(s.split.emit_p99_ms, 2)}`,
            `${fmt(floors.get(s.n)?.split.emit_p50_ms, 2)} / ${fmt(floors.get(s.n)?.split.emit_p99_ms, 2)}`, fmt(s.db_ms_per_broadcast, 2)])),
        '',
        '## Throughput at N=1000',
        '',
        `Offered rate steps, all broadcasts to one room, ${steps[0] ? Math.round(steps[0].broadcasts / steps[0].rate) : 3} s or more per step, one broadcast per event-loop turn. ` +
        'Latency here counts from when each broadcast was *due*, so a sender that falls behind under overload shows as latency (no coordinated omission). The knee is the first step where ' +
        `p99 > ${meta.knee.p99_ms} ms, loop lag p99 > ${meta.knee.loop_lag_ms} ms or a delivery is lost; stepping stops there.` +
        (meta.batch_option_supported ? '' : ' **The library in this run has no `batch` option: the "batch: false" rows ran with its default.**'),
        '',
        row(['path', 'sustained, valid step (broadcasts/s)', 'deliveries/s', 'passed, any step', 'knee at', 'why']),
        row(Array(6).fill('---')),
        ...results.knees.map((knee) => row([pathLabel[knee.path] ?? knee.path, knee.sustained_rate ?? '< first step', fmt(knee.sustained_deliveries_per_s, 0),
            knee.passed_rate ?? '–',
            knee.knee_rate ?? `none up to ${Math.max(...steps.filter((s) => s.path === knee.path).map((s) => s.rate))}`, (knee.knee_reason ?? '–') + (knee.knee_valid === false ? ` (that step is invalid: ${knee.knee_invalid_reason})` : knee.all_valid ? '' : ' (some steps invalid, see below)')])),
        '',
        '"Passed" counts steps that met the criteria but are invalid (the client process above its CPU limit, or neighbours on the box). ' +
        'The clients read WebSocket frames straight off TCP and only scan for the markers, a few µs per message, so the server core saturates first.',
        '',
        ...latencyTable(steps),
        '',
        '## Idle memory per subscriber',
        '',
        ...memorySection(results.memory),
        '',
        'Goal (reference §0): ≤ 15 KB heap and ≤ 30 KB RSS per subscribed socket, of which the plugin\'s own state ≤ 1 KB. RSS slopes are noisy (allocator high-water marks); the heap slope is the one to compare.',
        '',
        '## Cross-check with the real socket.io-client (N=100)',
        '',
        'The same server and paths with `socket.io-client` 4 instead of the raw-ws harness clients. Its decode and event dispatch cost more per message on the ' +
        'client core, so its latencies are expected to be a little higher; the point is that delivery, order and the pipeline/floor ratio agree.',
        '',
        ...latencyTable(cross),
        '',
        '## CPU profile',
        '',
        ...profileSection(),
        '',
        '## What each optimisation bought',
        '',
        HAND_START,
        handWritten.trim(),
        HAND_END,
        '',
        '## How to reproduce',
        '',
        '```sh',
        'npm run bench                  # the full run: writes bench/results/latest.json, this file and docs/performance.svg (~7 minutes, at most 10)',
        'npm run bench -- --quick       # a shorter run (N=100 and 1000, fewer broadcasts) into bench/results/quick.json; the docs are left alone',
        'npm run bench -- --only real   # one part (real, latency, throughput, variants, memory) into bench/results/only-PART.json; add --quick for fewer messages',
        'npm run bench -- --profile     # floor, pipeline, floor at N=1000, 25/s, under --cpu-prof; summary in bench/results/profile.json',
        'npx tsx bench/report.ts        # regenerate this file and the SVG from latest.json (keeps the hand-written section)',
        'npx tsx bench/profile.ts FILE  # self time per function of any .cpuprofile',
        '```',
        '',
        'Method (reference §5): the server (hapi + hapi-turbo + Sequelize/sqlite in WAL mode in a temp dir) runs in one process pinned to core 0 with ' +
        '`--expose-gc`; all load clients run in another pinned to core 1, both started by `bench/run.ts`, which drives them over IPC. Load is generated in the server ' +
        'process by a timer, so no HTTP request enters those numbers (the real path above has its own). Clients are TCP sockets that did the WebSocket handshake ' +
        'by hand and read frames straight off the stream (no `ws`, no JSON.parse), speaking Engine.IO v4 / Socket.IO v5 by hand: they join `/turbo`, ' +
        'subscribe with the signed stream name and an ack, answer pings, and read only the broadcast id, `t0` and `seq` out of each frame as bytes. ' +
        '`t0` is stamped just before `Message.create` (for the floors: just before the emit) and rendered into the fragment (`data-t0`); a client stamps `t1` on arrival; ' +
        'both clocks are `performance.timeOrigin + performance.now()` on the same host. The three latency paths use the same clients and the same socket.io server, ' +
        'namespace and room (the raw ws floor has its own server and its clients speak plain ws). A scenario is marked invalid when the client process used more than ' +
        `${meta.client_cpu_limit} % of its core (then the clients are what is measured), when other processes on the box used more than ${meta.foreign_cpu_limit ?? 15} % of a core ` +
        'meanwhile (read from /proc; such a phase is run once more while the time budget allows) or when connections were lost. ' +
        'Numbers drift by up to ~20 % between runs on this VM even when it is quiet; compare runs, not single digits. ' +
        "Renders come from `server.turbo.stats`, queries from Sequelize's " +
        '`afterQuery` hook, event-loop lag from `monitorEventLoopDelay`, and the server-side split from a bench-only wrapper around the transport\'s `publish`.',
        ''
    ];

    return out.join('\n');
};


export const writeReport = function (file: string): void {

    const results = JSON.parse(readFileSync(file, 'utf8')) as Results;
    let handWritten = DEFAULT_HAND;
    if (existsSync(DOC)) {
        const current = readFileSync(DOC, 'utf8');
        const start = current.indexOf(HAND_START);
        const end = current.indexOf(HAND_END);
        if (start !== -1 && end > start) {
            handWritten = current.slice(start + HAND_START.length, end);
        }
    }

    writeFileSync(DOC, renderMarkdown(results, handWritten));
    writeFileSync(SVG, renderSvg(results));
};


if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
    writeReport(process.argv[2] ?? join(ROOT, 'bench', 'results', 'latest.json'));
    console.log(`wrote ${DOC} and ${SVG}`);
}
