import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

// Sums self time per function (and per package) from a V8 .cpuprofile, as written by
// `node --cpu-prof`. Usage: tsx bench/profile.ts <file.cpuprofile> [top]

interface ProfileNode {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
    startTime: number;
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
}

export interface ProfileSummary {
    total_ms: number;
    busy_ms: number;
    idle_ms: number;
    gc_ms: number;
    functions: { name: string; where: string; self_ms: number; pct: number }[];
    areas: { area: string; self_ms: number; pct: number }[];
    text: string;
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);


/** Which part of the stack a function belongs to: a package, the library, node itself. */
const areaOf = function (url: string, name: string): string {

    if (SPECIAL.has(name)) {
        return name;
    }

    if (!url) {
        return '(native / builtins)';
    }

    if (url.startsWith('node:')) {
        return `node:${url.slice(5).split('/').slice(0, 2).join('/')}`;
    }

    const modules = url.lastIndexOf('/node_modules/');
    if (modules !== -1) {
        const parts = url.slice(modules + '/node_modules/'.length).split('/');
        return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
    }

    if (url.includes('/lib/turbo/')) {
        return 'hapi-turbo (lib/turbo)';
    }

    if (url.includes('/bench/')) {
        return 'bench harness';
    }

    return url;
};


const shortWhere = function (url: string, line: number): string {

    if (!url) {
        return '';
    }

    const modules = url.lastIndexOf('/node_modules/');
    const short = modules !== -1 ? url.slice(modules + '/node_modules/'.length) : url.replace(/^file:\/\/.*?\/(lib|bench|specs)\//, '$1/');
    return `${short}:${line + 1}`;
};


/**
 * `window` (µs on the monotonic clock, as `process.hrtime.bigint() / 1000n`, which V8's profiler
 * timestamps share) keeps only the samples of one phase, leaving out start-up and connects.
 */
export const summariseProfile = function (file: string, top = 25, window?: { from: number; to: number }): ProfileSummary {

    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const selfUs = new Map<number, number>();
    let at = profile.startTime;
    for (let i = 0; i < profile.samples.length; ++i) {
        const delta = profile.timeDeltas[i] ?? 0;
        at += delta;
        if (window && (at < window.from || at > window.to)) {
            continue;
        }

        const id = profile.samples[i]!;
        selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
    }

    const functions = new Map<string, { name: string; where: string; us: number }>();
    const areas = new Map<string, number>();
    let total = 0;
    let idle = 0;
    let gc = 0;
    for (const [id, us] of selfUs) {
        const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
        const name = functionName || '(anonymous)';
        total += us;
        if (name === '(idle)') {
            idle += us;
            continue;
        }

        if (name === '(garbage collector)') {
            gc += us;
        }

        const where = shortWhere(url, lineNumber);
        const key = `${name}@${where}`;
        const entry = functions.get(key) ?? { name, where, us: 0 };
        entry.us += us;
        functions.set(key, entry);
        const area = areaOf(url, name);
        areas.set(area, (areas.get(area) ?? 0) + us);
    }

    const busy = total - idle;
    const pct = (us: number) => Math.round(us / busy * 1000) / 10;
    const ms = (us: number) => Math.round(us / 100) / 10;
    const topFunctions = [...functions.values()].sort((a, b) => b.us - a.us).slice(0, top)
        .map((entry) => ({ name: entry.name, where: entry.where, self_ms: ms(entry.us), pct: pct(entry.us) }));
    const topAreas = [...areas].sort((a, b) => b[1] - a[1]).slice(0, 15)
        .map(([area, us]) => ({ area, self_ms: ms(us), pct: pct(us) }));

    const lines = [
        `profile: ${ms(total)} ms sampled, ${ms(busy)} ms busy (${ms(idle)} ms idle), GC ${ms(gc)} ms`,
        '',
        'self time by area (% of busy):',
        ...topAreas.map((area) => `  ${String(area.pct).padStart(5)}%  ${String(area.self_ms).padStart(8)} ms  ${area.area}`),
        '',
        'top functions by self time (% of busy):',
        ...topFunctions.map((fn) => `  ${String(fn.pct).padStart(5)}%  ${String(fn.self_ms).padStart(8)} ms  ${fn.name}  ${fn.where}`)
    ];

    return { total_ms: ms(total), busy_ms: ms(busy), idle_ms: ms(idle), gc_ms: ms(gc), functions: topFunctions, areas: topAreas, text: lines.join('\n') };
};


if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
    const file = process.argv[2];
    if (!file) {
        console.error('usage: tsx bench/profile.ts <file.cpuprofile> [top]');
        process.exit(2);
    }

    console.log(summariseProfile(file, Number(process.argv[3] ?? 25)).text);
}
