// The redis option in an app that did not install the Redis packages.
import Hapi from '@hapi/hapi';
import Vision from '@hapi/vision';
import Handlebars from 'handlebars';
import HapiTurbo from 'hapi-turbo';

const server = Hapi.server({ host: '127.0.0.1', port: 0 });
await server.register(Vision);
server.views({ engines: { html: Handlebars }, relativeTo: import.meta.dirname, path: 'views' });
await server.register({ plugin: HapiTurbo, options: { secret: 'an-esm-app-secret-that-is-long-enough', streams: {}, redis: 'redis://127.0.0.1:9' } });
