// Must not compile: each line marked "misuse" gets wrong what hapi-turbo adds to hapi's types.
import Hapi from '@hapi/hapi';
import 'hapi-turbo';

const server = Hapi.server();
export const signed: number = server.turbo.sign('room/1');                                          // misuse: a signed name is a string
server.route({ method: 'GET', path: '/', handler: (request, h) => h.turboStream({ action: 42 }) });   // misuse: not a fragment
export const accepts: string = server.turbo.stats.renders;                                          // misuse: a count is a number
