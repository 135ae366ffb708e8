import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { fmt } from './report-svg.ts';
import type { ProfileFile, Results } from './results.ts';
import { POINTS } from './timeline.ts';
import type { Scenario } from './types.ts';

// The tables of docs/performance.md, each from bench/results/*.json.

const PROFILE = join(fileURLToPath(new URL('..', import.meta.url)), 'bench', 'results', 'profile.json');


export const row = function (cells: (string | number)[]): string {

    return `| ${cells.join(' | ')} |`;
};


export const latencyTable = function (scenarios: Scenario[]): string[] {

    const lines = [
        row(['path', 'N', 'rate /s', 'p50 ms', 'p99 ms', '× floor p50', '× floor p99', 'first p50 ms', 'per-delivery p50 / p99 ms', 'delivered', 'renders /b', 'queries /b', 'frames /b', 'loop lag p99 ms', 'server CPU', 'server µs / delivery', '× floor CPU', 'client CPU', 'valid']),
        row(Array(19).fill('---'))
    ];
    for (const s of scenarios) {
        lines.push(row([
            s.path, s.n, s.rate, fmt(s.p50_ms), fmt(s.p99_ms), fmt(s.ratio_p50, 2), fmt(s.ratio_p99, 2), fmt(s.first_p50_ms),
            `${fmt(s.delivery_p50_ms)} / ${fmt(s.delivery_p99_ms)}`, `${s.delivered}/${s.expected}`,
            fmt(s.renders_per_broadcast, 2), fmt(s.queries_per_broadcast, 2), fmt(s.frames_per_broadcast, 2), fmt(s.loop_lag_p99_ms),
            `${fmt(s.server_cpu, 0)}%`, fmt(s.server_us_per_delivery, 1), fmt(s.cpu_ratio, 2), `${fmt(s.client_cpu, 0)}%`, s.valid ? 'yes' : `**no**: ${s.invalid_reason}`
        ]));
    }

    return lines;
};


export const goalsTable = function (results: Results): string[] {

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


// Issue 13's bar for the chat as users run it: submit → last window against the hand-written floor
export const realTable = function (results: Results): string[] {

    const real = results.scenarios.filter((s) => s.kind === 'real');
    if (!real.length) {
        return ['No real-path scenario in this run.'];
    }

    const lines = [
        row(['N', 'chat p50 / p99 ms', 'floor p50 / p99 ms', 'p50: × floor (goal)', 'p99: × floor (goal ≤ 1.20)', 'server µs / delivery: chat, floor, × (goal ≤ 1.10 at 1000)',
            'floor with the INSERT: p50 / p99 ms, chat p50 ×', 'delivered', 'valid']),
        row(Array(9).fill('---'))
    ];
    const mark = (ok: boolean) => ok ? '✓' : '✗';
    for (const chat of real.filter((s) => s.path === 'chat')) {
        const floor = real.find((s) => s.path === 'floor' && s.n === chat.n);
        const floorDb = real.find((s) => s.path === 'floor-db' && s.n === chat.n);
        const extra = chat.p50_ms !== null && floor?.p50_ms ? chat.p50_ms - floor.p50_ms : null;
        const p50Ok = chat.n <= 100 ? extra !== null && extra <= 1 : (chat.ratio_p50 ?? Infinity) <= 1.1;
        lines.push(row([
            chat.n,
            `${fmt(chat.p50_ms)} / ${fmt(chat.p99_ms)}`,
            `${fmt(floor?.p50_ms)} / ${fmt(floor?.p99_ms)}`,
            `${fmt(chat.ratio_p50, 2)} (${extra === null ? '–' : `${extra >= 0 ? '+' : ''}${fmt(extra)} ms`}; ${chat.n <= 100 ? '≤ +1 ms' : '≤ 1.10'}) ${mark(p50Ok)}`,
            `${fmt(chat.ratio_p99, 2)} ${mark((chat.ratio_p99 ?? Infinity) <= 1.2)}`,
            `${fmt(chat.server_us_per_delivery)}, ${fmt(floor?.server_us_per_delivery)}, ${fmt(chat.cpu_ratio, 2)}${chat.n >= 1000 ? ` ${mark((chat.cpu_ratio ?? Infinity) <= 1.1)}` : ''}`,
            floorDb ? `${fmt(floorDb.p50_ms)} / ${fmt(floorDb.p99_ms)}, ${chat.p50_ms !== null && floorDb.p50_ms ? fmt(chat.p50_ms / floorDb.p50_ms, 2) : '–'}` : '–',
            `${(chat.delivered / Math.max(1, chat.expected) * 100).toFixed(2)} % ${mark(chat.delivered === chat.expected)}`,
            chat.valid && floor?.valid && floorDb?.valid !== false ? 'yes' : 'no (see below)'
        ]));
    }

    return [...lines, '', ...splitTable(real), '', ...latencyTable(real)];
};


// Where one message's time went inside each server, point by point (bench/timeline.ts)
const splitTable = function (real: Scenario[]): string[] {

    const withSplit = real.filter((s) => s.real_split);
    if (!withSplit.length) {
        return [];
    }

    const lines = [
        'Inside the server, medians in ms after hapi saw the request: the handler starts after the payload, auth and CSRF check; the chat\'s INSERT ' +
        'is sent (`query`) and answered (`queried`, after Sequelize has read the result); the message reaches the transport (`publish`, after the hook, ' +
        'render and sequencing) and its frame is written to every socket (`emitted`); the 303 is sent (`response`).',
        '',
        row(['N', 'server', ...POINTS, 'publish: chat − floor, − floor with the INSERT']),
        row(Array(POINTS.length + 3).fill('---'))
    ];
    for (const s of withSplit) {
        const gap = (path: string) => {

            const own = s.real_split!.publish;
            const other = withSplit.find((candidate) => candidate.path === path && candidate.n === s.n)?.real_split?.publish;
            return typeof own === 'number' && other ? `+${fmt(own - other, 2)}` : '–';
        };

        lines.push(row([s.n, s.path, ...POINTS.map((point) => fmt(s.real_split![point], 2)), s.path === 'chat' ? `${gap('floor')}, ${gap('floor-db')}` : '']));
    }

    return lines;
};


export const profileSection = function (): string[] {

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
