import { BroadcastComponent, UserBroadcastComponent } from 'hapi-turbo';

// The components page: an alert that every window shows, and a counter per visitor. Their state
// lives in this process's memory, which is enough for a demo: a restart forgets it.

const MAX_VISITORS = 10_000;

let alertText = '';
const counts = new Map<string, number>();


/** The same alert in every window that has the components page open. */
export class AlertComponent extends BroadcastComponent {

    static override template = 'chat/components/alert';

    // A page opened later shows the alert already given
    override context() {

        return { text: alertText };
    }

    async show(text: string) {

        alertText = text;
        await this.render();
    }
}


/** One visitor's counter: `new CounterComponent(visitor)` reaches that visitor's windows and no one else's. */
export class CounterComponent extends UserBroadcastComponent {

    static override template = 'chat/components/counter';

    override context() {

        return { count: counts.get(String(this.userId)) ?? 0 };
    }
}


/** Adds one to a visitor's count and returns it; the least recently counted visitors are forgotten past 10,000. */
export const countClick = function (visitorId: string): number {

    const count = (counts.get(visitorId) ?? 0) + 1;
    counts.delete(visitorId);
    counts.set(visitorId, count);
    if (counts.size > MAX_VISITORS) {
        counts.delete(counts.keys().next().value!);
    }

    return count;
};
