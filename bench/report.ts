import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import type { Scenario } from './types.ts';

// bench/results/latest.json → docs/performance.md + docs/performance.svg. Everything in the
// markdown is regenerated except the hand-written section between the two markers below, which is
// carried over from the existing file. Run on its own with `tsx bench/report.ts` after editing it.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOC = join(ROOT, 'docs', 'performance.md');
const SVG = join(ROOT, 'docs', 'performance.svg');
const PROFILE = join(ROOT, 'bench', 'results', 'profile.json');

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

interface Results {
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
    memory: { library: MemoryVariant; bare: MemoryVariant; library_own_heap_kb_per_subscriber: number | null; library_own_rss_kb_per_subscriber: number | null };
}

interface ProfileSummaryFile {
    busy_ms: number;
    gc_ms: number;
    functions: { name: string; where: string; self_ms: number; pct: number }[];
    areas: { area: string; self_ms: number; pct: number }[];
}

interface ProfileFile extends ProfileSummaryFile {
    scenario: { path: string; n: number; rate: number; count: number };
    date: string;
    phases?: (ProfileSummaryFile & { label: string; server_busy_ms_per_broadcast: number; p50_ms: number | null; p99_ms: number | null })[];
    clients?: ProfileSummaryFile;
}


const fmt = function (value: number | null | undefined, digits = 1): string {

    if (value === null || value === undefined) {
        return '–';
    }

    return value.toFixed(digits).replace(/\.0+$/, '');
};


const escapeXml = function (text: string): string {

    return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
};


const pathLabel: Record<string, string> = {
    'pipeline': 'pipeline (Message.create → hook → render → emit)',
    'floor': 'socket.io floor (io.to(room).emit of pre-rendered HTML)',
    'ws': 'raw ws floor (send loop)',
    'pipeline-unbatched': 'pipeline, batch: false (one emit per broadcast)',
    'pipeline-window10': 'pipeline, batch: { window: 10 }'
};

const SHORT: Record<string, string> = {
    'pipeline': 'pipeline (batched)',
    'floor': 'socket.io floor',
    'ws': 'raw ws floor',
    'pipeline-unbatched': 'batch: false',
    'pipeline-window10': 'window: 10 ms'
};

const COLORS: Record<string, string> = { 'pipeline': '#d9480f', 'floor': '#1c7ed6', 'ws': '#2b8a3e', 'pipeline-unbatched': '#9c36b5', 'pipeline-window10': '#0c8599' };


// A log axis: value → pixel
const logScale = function (min: number, max: number, from: number, to: number) {

    const lo = Math.log10(min);
    const hi = Math.log10(max);
    return (value: number) => from + (Math.log10(Math.max(min, Math.min(max, value))) - lo) / (hi - lo) * (to - from);
};


const TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000];


/** Two panels: last-subscriber p50/p99 per path per N, and p99 against offered rate at N=1000. */
export const renderSvg = function (results: Results): string {

    const width = 1000;
    const height = 470;
    const out: string[] = [];
    out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
    out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);

    // Panel 1: grouped bars, log y
    const latency = results.scenarios.filter((s) => s.kind === 'latency');
    const ns = [...new Set(latency.map((s) => s.n))].sort((a, b) => a - b);
    const paths = ['pipeline', 'floor', 'ws'];
    const maxMs = Math.max(10, ...latency.map((s) => s.p99_ms ?? 0)) * 1.3;
    const p1 = { x: 60, y: 50, w: 400, h: 320 };
    const y1 = logScale(1, maxMs, p1.y + p1.h, p1.y);
    out.push(`<text x="${p1.x}" y="24" font-size="14" font-weight="bold">Save → last subscriber latency (ms, log scale)</text>`);
    out.push(`<text x="${p1.x}" y="40" fill="#555">solid: p50, light: p99; ${escapeXml(`${results.meta.cores} cores, server and clients pinned: ${results.meta.pinned}`)}</text>`);
    for (const tick of TICKS.filter((t) => t <= maxMs)) {
        const y = y1(tick);
        out.push(`<line x1="${p1.x}" x2="${p1.x + p1.w}" y1="${y}" y2="${y}" stroke="#e9ecef"/>`);
        out.push(`<text x="${p1.x - 6}" y="${y + 4}" text-anchor="end" fill="#555">${tick}</text>`);
    }

    const groupW = p1.w / Math.max(1, ns.length);
    const barW = Math.min(34, (groupW - 30) / paths.length);
    ns.forEach((n, gi) => {

        const gx = p1.x + gi * groupW + (groupW - barW * paths.length) / 2;
        paths.forEach((path, pi) => {

            const scenario = latency.find((s) => s.n === n && s.path === path);
            const x = gx + pi * barW;
            if (!scenario || scenario.p50_ms === null) {
                return;
            }

            const base = p1.y + p1.h;
            const y99 = y1(scenario.p99_ms ?? scenario.p50_ms);
            const y50 = y1(scenario.p50_ms);
            out.push(`<rect x="${x + 2}" y="${y99}" width="${barW - 4}" height="${base - y99}" fill="${COLORS[path]}" opacity="0.3"/>`);
            out.push(`<rect x="${x + 2}" y="${y50}" width="${barW - 4}" height="${base - y50}" fill="${COLORS[path]}"${scenario.valid ? '' : ' stroke="#000" stroke-dasharray="3,2"'}/>`);
            out.push(`<text x="${x + barW / 2}" y="${y99 - 4}" text-anchor="middle" font-size="10" fill="#333">${fmt(scenario.p99_ms, 0)}</text>`);
        });
        out.push(`<text x="${p1.x + gi * groupW + groupW / 2}" y="${p1.y + p1.h + 18}" text-anchor="middle">N = ${n}</text>`);
    });
    out.push(`<line x1="${p1.x}" x2="${p1.x + p1.w}" y1="${p1.y + p1.h}" y2="${p1.y + p1.h}" stroke="#333"/>`);
    paths.forEach((path, i) => {

        const lx = p1.x + i * 135;
        out.push(`<rect x="${lx}" y="${height - 44}" width="12" height="12" fill="${COLORS[path]}"/>`);
        out.push(`<text x="${lx + 16}" y="${height - 34}">${path === 'pipeline' ? 'pipeline' : SHORT[path]}</text>`);
    });

    // Panel 2: p99 against offered rate, log-log
    const steps = results.scenarios.filter((s) => s.kind === 'throughput');
    const variants = [...new Set(steps.map((s) => s.path))];
    const rates = steps.map((s) => s.rate);
    const p2 = { x: 580, y: 50, w: 380, h: 320 };
    const maxRate = Math.max(100, ...rates) * 1.1;
    const x2 = logScale(Math.min(10, ...rates) / 1.2, maxRate, p2.x, p2.x + p2.w);
    const maxP99 = Math.max(results.meta.knee.p99_ms * 2, ...steps.map((s) => s.p99_ms ?? 0)) * 1.2;
    const y2 = logScale(1, maxP99, p2.y + p2.h, p2.y);
    out.push(`<text x="${p2.x}" y="24" font-size="14" font-weight="bold">Throughput at N=${steps[0]?.n ?? 1000}: p99 vs broadcasts/s</text>`);
    out.push(`<text x="${p2.x}" y="40" fill="#555">dashed: ${results.meta.knee.p99_ms} ms knee; ✕ lost or loop lag &gt; ${results.meta.knee.loop_lag_ms} ms; ○ invalid step</text>`);
    for (const tick of TICKS.filter((t) => t <= maxP99)) {
        const y = y2(tick);
        out.push(`<line x1="${p2.x}" x2="${p2.x + p2.w}" y1="${y}" y2="${y}" stroke="#e9ecef"/>`);
        out.push(`<text x="${p2.x - 6}" y="${y + 4}" text-anchor="end" fill="#555">${tick}</text>`);
    }

    for (const rate of [...new Set(rates)].sort((a, b) => a - b)) {
        out.push(`<text x="${x2(rate)}" y="${p2.y + p2.h + 18}" text-anchor="middle" fill="#555">${rate}</text>`);
    }

    out.push(`<line x1="${p2.x}" x2="${p2.x + p2.w}" y1="${p2.y + p2.h}" y2="${p2.y + p2.h}" stroke="#333"/>`);
    out.push(`<text x="${p2.x + p2.w}" y="${p2.y + p2.h + 32}" text-anchor="end" fill="#555">offered broadcasts/s (log)</text>`);
    const kneeY = y2(results.meta.knee.p99_ms);
    out.push(`<line x1="${p2.x}" x2="${p2.x + p2.w}" y1="${kneeY}" y2="${kneeY}" stroke="#c92a2a" stroke-dasharray="6,4"/>`);
    variants.forEach((variant, i) => {

        const list = steps.filter((s) => s.path === variant).sort((a, b) => a.rate - b.rate);
        const color = COLORS[variant] ?? '#495057';
        const points = list.map((s) => `${x2(s.rate)},${y2(s.p99_ms ?? maxP99)}`).join(' ');
        out.push(`<polyline points="${points}" fill="none" stroke="${color}" stroke-width="2"/>`);
        for (const s of list) {
            const [cx, cy] = [x2(s.rate), y2(s.p99_ms ?? maxP99)];
            const bad = s.delivered < s.expected || (s.loop_lag_p99_ms ?? 0) > results.meta.knee.loop_lag_ms;
            out.push(bad ?
                `<path d="M${cx - 5},${cy - 5}L${cx + 5},${cy + 5}M${cx - 5},${cy + 5}L${cx + 5},${cy - 5}" stroke="${color}" stroke-width="2"/>` :
                `<circle cx="${cx}" cy="${cy}" r="3.5" fill="${s.valid ? color : '#fff'}" stroke="${color}" stroke-width="1.5"/>`);
        }

        const lx = p2.x + (i % 2) * 190;
        const ly = height - 44 + Math.floor(i / 2) * 16;
        out.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${color}"/>`);
        out.push(`<text x="${lx + 16}" y="${ly + 10}">${escapeXml(SHORT[variant] ?? variant)}</text>`);
    });

    out.push('</svg>');
    return out.join('\n') + '\n';
};


const row = function (cells: (string | number)[]): string {

    return `| ${cells.join(' | ')} |`;
};


const latencyTable = function (scenarios: Scenario[]): string[] {

    const lines = [
        row(['path', 'N', 'rate /s', 'p50 ms', 'p99 ms', '× floor p50', '× floor p99', 'first p50 ms', 'per-delivery p50 / p99 ms', 'delivered', 'renders /b', 'queries /b', 'frames /b', 'loop lag p99 ms', 'server CPU', 'client CPU', 'valid']),
        row(Array(17).fill('---'))
    ];
    for (const s of scenarios) {
        lines.push(row([
            s.path, s.n, s.rate, fmt(s.p50_ms), fmt(s.p99_ms), fmt(s.ratio_p50, 2), fmt(s.ratio_p99, 2), fmt(s.first_p50_ms),
            `${fmt(s.delivery_p50_ms)} / ${fmt(s.delivery_p99_ms)}`, `${s.delivered}/${s.expected}`,
            fmt(s.renders_per_broadcast, 2), fmt(s.queries_per_broadcast, 2), fmt(s.frames_per_broadcast, 2), fmt(s.loop_lag_p99_ms),
            `${fmt(s.server_cpu, 0)}%`, `${fmt(s.client_cpu, 0)}%`, s.valid ? 'yes' : `**no**: ${s.invalid_reason}`
        ]));
    }

    return lines;
};


const goalsTable = function (results: Results): string[] {

    // The goals of reference §0, for the pipeline on this box
    const goals = [
        { n: 100, p50: 10, p99: 25 },
        { n: 1000, p50: 40, p99: 100 },
        { n: 5000, p50: 175, p99: 300 }
    ];
    const lines = [row(['N', 'p50 (goal)', 'p99 (goal)', 'overhead vs floor p50 (goal)', 'delivered', 'valid']), row(Array(6).fill('---'))];
    for (const goal of goals) {
        const pipe = results.scenarios.find((s) => s.kind === 'latency' && s.path === 'pipeline' && s.n === goal.n);
        const floor = results.scenarios.find((s) => s.kind === 'latency' && s.path === 'floor' && s.n === goal.n);
        if (!pipe) {
            continue;
        }

        const mark = (ok: boolean) => ok ? '✓' : '✗';
        const overhead = pipe.p50_ms !== null && floor?.p50_ms ? pipe.p50_ms - floor.p50_ms : null;
        const overheadGoal = goal.n === 100 ? '≤ +2 ms' : '≤ +10 %';
        const overheadOk = overhead !== null && (goal.n === 100 ? overhead <= 2 : overhead <= floor!.p50_ms! * 0.1);
        lines.push(row([
            goal.n,
            `${fmt(pipe.p50_ms)} ms (≤ ${goal.p50}) ${mark((pipe.p50_ms ?? Infinity) <= goal.p50)}`,
            `${fmt(pipe.p99_ms)} ms (≤ ${goal.p99}) ${mark((pipe.p99_ms ?? Infinity) <= goal.p99)}`,
            `${overhead === null ? '–' : `${overhead >= 0 ? '+' : ''}${fmt(overhead)} ms (${fmt(overhead / floor!.p50_ms! * 100, 0)} %)`} (${overheadGoal}) ${mark(overheadOk)}`,
            `${(pipe.delivered / Math.max(1, pipe.expected) * 100).toFixed(2)} % ${mark(pipe.delivered === pipe.expected)}`,
            pipe.valid && floor?.valid ? 'yes' : 'no (see below)'
        ]));
    }

    return lines;
};


const profileSection = function (): string[] {

    if (!existsSync(PROFILE)) {
        return ['No profile yet: run `npm run bench -- --profile`.'];
    }

    const profile = JSON.parse(readFileSync(PROFILE, 'utf8')) as ProfileFile;
    const { n, rate, count } = profile.scenario;
    const lines = [
        `\`npm run bench -- --profile\` (${profile.date.slice(0, 10)}): one fresh server process under \`--cpu-prof\`, N=${n}, ${rate} broadcasts/s, ` +
        `${count} broadcasts per phase; each summary is cut to its phase's time window, so start-up and connects are left out.`,
        ''
    ];

    if (profile.phases) {
        lines.push(row(['phase', 'server busy ms / broadcast', 'p50 ms', 'p99 ms', 'async_hooks share']), row(['---', '---:', '---:', '---:', '---:']));
        for (const item of profile.phases) {
            const hooks = item.areas.filter((area) => area.area.includes('async_hooks')).reduce((sum, area) => sum + area.pct, 0);
            lines.push(row([item.label, fmt(item.server_busy_ms_per_broadcast, 2), fmt(item.p50_ms), fmt(item.p99_ms), `${fmt(hooks)} %`]));
        }

        lines.push('');
    }

    lines.push(
        `Pipeline phase, server self time by area (${fmt(profile.busy_ms, 0)} ms busy, GC ${fmt(profile.gc_ms, 0)} ms):`,
        '',
        row(['area', 'self ms', '% of busy']), row(['---', '---:', '---:']),
        ...profile.areas.slice(0, 12).map((area) => row([`\`${area.area}\``, fmt(area.self_ms, 0), fmt(area.pct)])),
        '',
        'Top functions by self time (`writev` is the kernel write to the sockets, loopback TCP included):',
        '',
        row(['function', 'where', 'self ms', '% of busy']), row(['---', '---', '---:', '---:']),
        ...profile.functions.slice(0, 15).map((fn) => row([`\`${fn.name}\``, fn.where ? `\`${fn.where}\`` : '', fmt(fn.self_ms, 0), fmt(fn.pct)]))
    );

    if (profile.clients) {
        lines.push(
            '',
            `The client process in the same phase (${fmt(profile.clients.busy_ms, 0)} ms busy): ` +
            profile.clients.areas.slice(0, 6).map((area) => `\`${area.area}\` ${fmt(area.pct)} %`).join(', ') + '.'
        );
    }

    return lines;
};


export const renderMarkdown = function (results: Results, handWritten: string): string {

    const { meta } = results;
    const latency = results.scenarios.filter((s) => s.kind === 'latency');
    const steps = results.scenarios.filter((s) => s.kind === 'throughput');
    const cross = results.scenarios.filter((s) => s.kind === 'crosscheck');
    const mem = results.memory;
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
        '## Goals (pipeline, reference §0)',
        '',
        ...goalsTable(results),
        '',
        '## Fan-out latency',
        '',
        'Save → **last** subscriber, per broadcast, over the measured broadcasts (after 20 warm-up). `× floor` is the ratio to the socket.io floor ' +
        'of the same N in the same run. "first p50" is save → first subscriber. Per broadcast (`/b`): template render passes, DB queries and frames sent.',
        '',
        ...latencyTable(latency),
        '',
        'Server-side split of the pipeline (medians, ms after t0): the ModelStream hook runs once the INSERT is done (`hook`); the message reaches the ' +
        'transport after render, sequencing and the batching turn (`publish`); `emit` is the synchronous fan-out of one frame, which is also ' +
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
        '"Passed" counts steps that met the criteria but are invalid, mostly because the single client process (one core, ~10 µs per received message in `ws`) ' +
        'saturates near 50,000 messages/s, about where one server core does: above that the harness, not the server, sets the limit.',
        '',
        ...latencyTable(steps),
        '',
        '## Idle memory per subscriber',
        '',
        `Slope between N=${mem.library.points[1]?.n} and N=${mem.library.points[2]?.n} subscribed sockets, after \`gc()\`, each variant in a fresh server process.`,
        '',
        row(['variant', 'heap KB / subscriber', 'RSS KB / subscriber', ...mem.library.points.map((p) => `heap MB at ${p.n}`)]),
        row(Array(3 + mem.library.points.length).fill('---')),
        row(['hapi-turbo (subscribe through the plugin)', fmt(mem.library.heap_kb_per_subscriber, 2), fmt(mem.library.rss_kb_per_subscriber, 2), ...mem.library.points.map((p) => fmt(p.heapUsed / 1048576))]),
        row(['bare socket.io (join in a plain handler)', fmt(mem.bare.heap_kb_per_subscriber, 2), fmt(mem.bare.rss_kb_per_subscriber, 2), ...mem.bare.points.map((p) => fmt(p.heapUsed / 1048576))]),
        row(['**the plugin\'s own share**', `**${fmt(mem.library_own_heap_kb_per_subscriber, 2)}**`, `${fmt(mem.library_own_rss_kb_per_subscriber, 2)}`, ...mem.library.points.map(() => '')]),
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
        'npm run bench -- --profile     # floor, pipeline, floor at N=1000, 25/s, under --cpu-prof; summary in bench/results/profile.json',
        'npx tsx bench/report.ts        # regenerate this file and the SVG from latest.json (keeps the hand-written section)',
        'npx tsx bench/profile.ts FILE  # self time per function of any .cpuprofile',
        '```',
        '',
        'Method (reference §5): the server (hapi + hapi-turbo + Sequelize/sqlite in WAL mode in a temp dir) runs in one process pinned to core 0 with ' +
        '`--expose-gc`; all load clients run in another pinned to core 1, both started by `bench/run.ts`, which drives them over IPC. Load is generated in the server ' +
        'process by a timer, so no HTTP request enters the numbers. Clients are plain `ws` sockets speaking Engine.IO v4 / Socket.IO v5 by hand: they join `/turbo`, ' +
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
