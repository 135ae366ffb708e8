import type { Results } from './results.ts';

// The figure of docs/performance.md: last-subscriber latency per path and N, and p99 against the
// offered rate at N=1000.


export const fmt = function (value: number | null | undefined, digits = 1): string {

    if (value === null || value === undefined) {
        return '–';
    }

    return value.toFixed(digits).replace(/\.0+$/, '');
};


const escapeXml = function (text: string): string {

    return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
};


const SHORT: Record<string, string> = {
    'pipeline': 'pipeline (default batching)',
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
