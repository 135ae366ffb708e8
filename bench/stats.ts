// Small numeric helpers shared by the bench processes and the quick spec.

const ORIGIN = performance.timeOrigin;


/** Wall-clock milliseconds with sub-ms resolution, comparable between processes on one host. */
export const now = function (): number {

    return ORIGIN + performance.now();
};


/** Nearest-rank percentile of unsorted samples; null when there are none. */
export const percentile = function (samples: ArrayLike<number>, p: number): number | null {

    if (!samples.length) {
        return null;
    }

    const sorted = Float64Array.from(samples).sort();
    const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p / 100 * sorted.length)));
    return sorted[rank - 1]!;
};


/** Rounds for the report: three significant decimals are more than the noise allows. */
export const round = function (value: number | null | undefined, digits = 2): number | null {

    if (value === null || value === undefined || !Number.isFinite(value)) {
        return null;
    }

    const scale = 10 ** digits;
    return Math.round(value * scale) / scale;
};


export const sleep = function (ms: number): Promise<void> {

    return new Promise((resolve) => setTimeout(resolve, ms));
};
