import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import Boom from '@hapi/boom';
import Hapi from '@hapi/hapi';

import { IdentityBridge } from '../../lib/turbo/identity.ts';
import { createFixture } from '../support/fixture.ts';

// Who a socket is, from its handshake headers, by the app's own hapi auth. That sockets then use it
// for userPassesTest is in transports/socket-io.spec.ts; here, what the bridge answers and when.

const USERS: Record<string, { name: string; admin: boolean }> = { alice: { name: 'alice', admin: false }, root: { name: 'root', admin: true } };
const PATH = '/_identity';


// Three strategies. `token` reads the Authorization header: a known token authenticates; an unknown
// one fails but passes credentials along (an admin's, so that using them would show), as @hapi/basic
// does for a wrong password; a broken one throws, as a database that is down would; none is missing. `session` reads a cookie.
// `key` reads X-Api-Key, a header a handshake does not forward.
const withStrategies = function (server: Hapi.Server) {

    server.state('session', { isSecure: false });
    server.auth.scheme('token', () => ({
        authenticate: (request, h) => {

            const token = /^Token (\w+)$/.exec(String(request.headers.authorization ?? ''))?.[1];
            if (token === 'broken') {
                throw new Error('the user table is not reachable');
            }

            if (!token) {
                return h.unauthenticated(Boom.unauthorized(null, 'Token'));
            }

            return USERS[token] ? h.authenticated({ credentials: USERS[token] }) : h.unauthenticated(Boom.unauthorized('unknown token'), { credentials: { name: token, admin: true } });
        }
    }));
    server.auth.scheme('session', () => ({
        authenticate: (request, h) => {

            const user = USERS[String(request.state.session)];
            return user ? h.authenticated({ credentials: user }) : h.unauthenticated(Boom.unauthorized(null, 'session'));
        }
    }));
    server.auth.scheme('key', () => ({
        authenticate: (request, h) => {

            const user = USERS[String(request.headers['x-api-key'])];
            return user ? h.authenticated({ credentials: user }) : h.unauthenticated(Boom.unauthorized(null, 'key'));
        }
    }));
    for (const name of ['token', 'session', 'key']) {
        server.auth.strategy(name, name);
    }

    return server;
};

const authServer = () => withStrategies(Hapi.server());


const bridgeOn = function (server: Hapi.Server, option?: string | false | object) {

    const bridge = new IdentityBridge(server, PATH, option as never);
    bridge.install();
    return bridge;
};


describe('IdentityBridge', () => {

    it('answers the credentials of the server\'s default auth, and null when authentication is missing, fails or throws', async () => {

        const server = authServer();
        server.auth.default('token');                                   // required: the bridge still only tries
        const { identify } = bridgeOn(server);

        assert.deepEqual(await identify({ authorization: 'Token alice' }), USERS.alice);
        assert.equal(await identify({}), null);
        assert.equal(await identify({ authorization: 'Token mallory' }), null, 'a failed authentication is anonymous, whatever credentials it carried');
        assert.equal(await identify({ authorization: 'Token broken' }), null);
    });

    it('forwards the cookie and the authorization headers, and no other', async () => {

        const server = authServer();
        server.auth.default({ strategies: ['token', 'session', 'key'] });
        const { identify } = bridgeOn(server);

        assert.deepEqual(await identify({ cookie: 'session=root' }), USERS.root);
        assert.deepEqual(await identify({ authorization: 'Token alice', cookie: 'session=root' }), USERS.alice, 'the strategies in their order');
        assert.equal(await identify({ 'x-api-key': 'root' }), null);
    });

    it('uses the strategy the auth option names, or the route auth config it gives, without a default', async () => {

        const server = authServer();
        const named = bridgeOn(server, 'session');
        assert.deepEqual(await named.identify({ cookie: 'session=alice' }), USERS.alice);
        assert.equal(await named.identify({ authorization: 'Token alice' }), null);

        const other = authServer();
        const configured = bridgeOn(other, { strategies: ['key', 'token'], mode: 'try' });
        assert.deepEqual(await configured.identify({ authorization: 'Token root' }), USERS.root);
    });

    it('leaves every socket anonymous, with no route, under auth: false, without any auth, and until installed', async () => {

        const refused = authServer();
        refused.auth.default('token');
        assert.equal(await bridgeOn(refused, false).identify({ authorization: 'Token alice' }), null);
        assert.equal(await bridgeOn(authServer()).identify({ authorization: 'Token alice' }), null);
        assert.deepEqual([...refused.table(), ...authServer().table()], []);

        const later = authServer();
        later.auth.default('token');
        const bridge = new IdentityBridge(later, PATH, undefined);
        assert.equal(await bridge.identify({ authorization: 'Token alice' }), null);
        bridge.install();
        bridge.install();                                               // onPreStart of a restarted server: one route
        assert.deepEqual(later.table().map((route) => route.path), [PATH]);
        assert.deepEqual(await bridge.identify({ authorization: 'Token alice' }), USERS.alice);
    });

    it('is how the plugin\'s sockets find their user, with the strategy its auth option names', async () => {

        const fixture = await createFixture({ auth: 'token' });
        try {
            withStrategies(fixture.server);
            await fixture.start();
            const notice = fixture.server.turbo.signedStreamName('blog:NoticeStream');     // Admins only
            const as = async (token: string) => await fixture.subscribe(await fixture.client({ headers: { authorization: `Token ${token}` } }), notice);
            assert.deepEqual(await as('root'), { ok: true, stream: 'blog:NoticeStream' });
            assert.deepEqual(await as('alice'), { ok: false, error: 'forbidden' });
            assert.deepEqual(await as('mallory'), { ok: false, error: 'forbidden' });
        }
        finally {
            await fixture.close();
        }
    });
});
