import { now } from './stats.ts';

// Sends `count` broadcasts at `rate`/s on a fixed schedule. When the loop falls behind (a long
// synchronous fan-out), the broadcasts already due go out back to back, one per macrotask: the
// offered load stays the target, and every path gets the same turn structure (one broadcast per
// turn, as if each came from its own request), so none is charged the harness's catch-up as loop lag.
export const schedule = function (rate: number, count: number, fire: (k: number, due: number) => void): Promise<{ lateMs: number[]; spanMs: number }> {

    const lateMs: number[] = [];
    return new Promise((resolve) => {

        const begin = performance.now();
        const beginAt = now();
        let sent = 0;
        const tick = () => {

            const elapsed = performance.now() - begin;
            if (sent < count && sent * 1000 / rate <= elapsed) {
                lateMs.push(elapsed - sent * 1000 / rate);
                fire(sent, beginAt + sent * 1000 / rate);
                ++sent;
                if (sent < count && sent * 1000 / rate <= elapsed) {
                    setImmediate(tick);
                    return;
                }
            }

            if (sent >= count) {
                resolve({ lateMs, spanMs: elapsed });
                return;
            }

            setTimeout(tick, Math.max(0, begin + sent * 1000 / rate - performance.now()));
        };

        tick();
    });
};
