// What `npm run bench` runs, from its command-line flags:
//
//   npm run bench                    full run (~8-9 minutes on 2 cores)
//   npm run bench -- --quick         fewer broadcasts and no N=5000, to try a change (~2 minutes)
//   npm run bench -- --only real     one part: real (the chat through HTTP), latency, throughput,
//                                    variants or memory; with --quick as well, the shorter plan
//   npm run bench -- --profile       floor, pipeline, floor at N=1000 under --cpu-prof, summarised

const ARGS = process.argv.slice(2);
const FLAGS = new Set(ARGS);

export const QUICK = FLAGS.has('--quick');
export const PROFILE = FLAGS.has('--profile');
const onlyAt = ARGS.indexOf('--only');
export const ONLY = onlyAt === -1 ? null : ARGS[onlyAt + 1] ?? null;
export const PARTS = ['real', 'latency', 'throughput', 'variants', 'memory'] as const;

if (ONLY !== null && !(PARTS as readonly string[]).includes(ONLY)) {
    throw new Error(`--only takes one of ${PARTS.join(', ')}`);
}

/** Whether a part of the plan runs. */
export const runs = function (part: typeof PARTS[number]): boolean {

    return ONLY === null || ONLY === part;
};

export const CLIENT_CPU_LIMIT = 70;                      // % of the client core: above it the clients, not the server, are measured
export const FOREIGN_CPU_LIMIT = 15;                     // % of a core used by other processes (or stolen by the hypervisor) during a phase
export const KNEE_P99_MS = 250;
export const KNEE_LAG_MS = 100;

// Steady rates low enough that broadcasts do not overlap (§5.4a); 20 warm-up broadcasts, then 200
export const LATENCY = QUICK ?
    [{ n: 100, rate: 20, count: 60, warmup: 10 }, { n: 1000, rate: 10, count: 60, warmup: 10 }] :
    [{ n: 100, rate: 20, count: 220, warmup: 20 }, { n: 1000, rate: 10, count: 220, warmup: 20 }, { n: 5000, rate: 4, count: 220, warmup: 20 }];
// The chat as users run it, one form submission per message, 100 ms apart (reference §5.1, the
// "real request path" variant)
export const REAL = QUICK ?
    [{ n: 100, rate: 10, count: 50, warmup: 10 }, { n: 1000, rate: 10, count: 50, warmup: 10 }] :
    [{ n: 100, rate: 10, count: 120, warmup: 20 }, { n: 1000, rate: 10, count: 120, warmup: 20 }];
export const THROUGHPUT_N = 1000;
export const STEPS = QUICK ? [25, 100, 400] : [10, 25, 50, 100, 200, 400, 800];
export const STEP_SECONDS = QUICK ? 2 : 3;
export const MEMORY_N = QUICK ? [200, 1000] : [1000, 5000];
// An extra throughput variant: a fixed batching window
export const WINDOW_MS = 10;

// `npm run bench` must end within 10 minutes even on a busy box. What is left of the plan, at its
// quiet-machine duration, is reserved; extras (a retry, one more step after a disturbed one, the
// batching-window variant) run only when they fit in what remains.
export const DEADLINE_S = 570;
export const PLAN_S: Record<string, number> = QUICK ?
    { 'real': 30, 'n=100': 25, 'n=1000': 45, 'unbatched': 15, 'memory': 20 } :
    { 'real': 60, 'n=100': 65, 'n=1000': 105, 'n=5000': 180, 'unbatched': 25, 'window': 35, 'memory': 30 };

// Shared-box tolerance: before a phase, wait a little for other processes to go quiet; a phase
// they disturbed anyway is run once more while the retry budget lasts. Both are totals over the run.
export const QUIET_BUDGET_MS = 40_000;
export const RETRY_BUDGET_MS = 100_000;
