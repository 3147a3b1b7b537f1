// A company OpenID provider for the sceau login tests: node-oidc-provider with one native
// (public, PKCE) client allowed the loopback redirect and the device flow, and accounts whose
// ID tokens carry a verified email. Usage: node provider.js PORT CLIENT_ID
// Any login/password is accepted by the provider's development login form; the login name is
// the account ID and the email is LOGIN (if it has an @) or LOGIN@example.test.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, clientId, deviceTtl] = process.argv.slice(2);
if (!port || !clientId) {
  console.error('usage: node provider.js PORT CLIENT_ID');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: 'test-idp' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1/callback'],
    grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: ['sceau-test-idp-cookie-key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  // Put the scope's claims in the ID token itself: Sigstore reads them from there.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  ttl: deviceTtl ? { DeviceCode: Number(deviceTtl) } : {},
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        const email = id.includes('@') ? id : `${id}@example.test`;
        return { sub: id, email, email_verified: true };
      },
    };
  },
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
