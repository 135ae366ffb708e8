// The shapes the bench processes and the report share: what the server reports per run and what
// one measured scenario comes to in bench/results/*.json.

import type { Split } from './timeline.ts';

export interface ServerRun {
    sent: number;
    window: { from: number; to: number };
    errors: number;
    achieved_rate: number;
    server_cpu: number;
    server_cpu_sys: number;
    /** user + system CPU of the server process over the run, ms */
    server_cpu_ms: number;
    elu: number;
    loop_lag_p99_ms: number;
    loop_lag_max_ms: number;
    queries_per_broadcast: number;
    db_ms_per_broadcast: number;
    renders_per_broadcast: number;
    templates_per_broadcast: number;
    frames_per_broadcast: number;
    hook_p50_ms: number | null;
    publish_p50_ms: number | null;
    publish_p99_ms: number | null;
    emit_p50_ms: number | null;
    emit_p99_ms: number | null;
    schedule_late_p99_ms: number | null;
    /** Real path only: where one message's time went inside the server (bench/timeline.ts). */
    real_split?: Split;
}

export type Kind = 'latency' | 'throughput' | 'crosscheck' | 'real';

export interface Scenario {
    name: string;
    kind: Kind;
    path: string;
    client: string;
    n: number;
    rate: number;
    broadcasts: number;
    p50_ms: number | null;
    p99_ms: number | null;
    ratio_p50: number | null;
    ratio_p99: number | null;
    first_p50_ms: number | null;
    first_p99_ms: number | null;
    delivery_p50_ms: number | null;
    delivery_p99_ms: number | null;
    delivered: number;
    expected: number;
    renders_per_broadcast: number;
    templates_per_broadcast: number;
    queries_per_broadcast: number;
    frames_per_broadcast: number;
    db_ms_per_broadcast: number;
    loop_lag_p99_ms: number | null;
    server_cpu: number | null;
    /** the kernel share of server_cpu / client_cpu (on loopback each side runs part of the other's TCP work) */
    server_cpu_sys: number | null;
    /**
     * Server CPU time (user + system) over the run per message delivered to a client, µs: what the
     * server spent per delivery whatever the clients could take; the harness does not enter it.
     */
    server_us_per_delivery: number | null;
    /** server_us_per_delivery over the floor's of the same N (and rate) in the same run */
    cpu_ratio: number | null;
    client_cpu: number | null;
    client_cpu_sys: number | null;
    /** CPU other processes used meanwhile, % of one core; above FOREIGN_CPU_LIMIT the scenario is invalid. */
    foreign_cpu: number | null;
    achieved_rate: number | null;
    /** How late the sender fired broadcasts against their schedule (p99): > 0 means it fell behind. */
    schedule_late_p99_ms: number | null;
    split: { hook_p50_ms: number | null; publish_p50_ms: number | null; emit_p50_ms: number | null; emit_p99_ms: number | null };
    /** Real path only: medians, ms after the request reached hapi, of each point of its timeline. */
    real_split?: Split;
    order_errors: number;
    /** Measured a second time because other processes disturbed the first run. */
    retried?: boolean;
    valid: boolean;
    invalid_reason?: string;
}

/** What bench/server.ts answers to `start`. */
export interface Started {
    port: number;
    wsPort: number;
    signed: string;
    stream: string;
    batch: { requested: unknown; supported: boolean };
    sample: string;
}

export type Path = 'pipeline' | 'floor' | 'ws';

export interface PhaseArgs {
    kind: Kind;
    path: Path;
    label: string;
    client: string;
    n: number;
    rate: number;
    count: number;
    warmup: number;
}
