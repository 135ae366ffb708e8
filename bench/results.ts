import type { Scenario } from './types.ts';

// The shape of bench/results/*.json, read by the report's three modules (report.ts, report-svg.ts,
// report-tables.ts), which then import one another in one direction only.

export interface Knee {
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

export interface MemoryVariant {
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

export interface ProfileSummaryFile {
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
