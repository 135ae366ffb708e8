// {{time message.createdAt}}: "2026-11-28 15:04", in UTC so every reader and every broadcast shows
// the same text whatever the server's time zone.

const pad = (value: number) => String(value).padStart(2, '0');


export const formatTime = function (value: unknown): string {

    const date = value instanceof Date ? value : new Date(typeof value === 'string' || typeof value === 'number' ? value : NaN);
    if (Number.isNaN(date.getTime())) {
        return '';
    }

    return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}`;
};
