// Tests for the post-login Action with a stand-in `event` and `api`: `node --test actions/`.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { onExecutePostLogin } = require('./post-login.js');

const BASE = 'https://visage.example.com';
// sha256 of "jane.doe@example.com", computed with sha256sum.
const JANE = '86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d';
const JANE_AVATAR = `${BASE}/avatar/${JANE}?name=Jane%20Doe`;

/** Runs the Action and returns the claims it set. */
async function run(user, secrets = { VISAGE_PUBLIC_URL: BASE }) {
  const claims = {};
  const api = {
    idToken: { setCustomClaim: (name, value) => { claims[name] = value; } },
    accessToken: { setCustomClaim: () => assert.fail('the access token is left alone') },
  };
  await onExecutePostLogin({ secrets, user }, api);
  return claims;
}

const jane = (metadata = {}, extra = {}) => ({
  user_id: 'auth0|5f7c8ec7c33c6c004bbafe82',
  email: 'jane.doe@example.com',
  name: 'Jane Doe',
  user_metadata: metadata,
  app_metadata: {},
  ...extra,
});

test('an uploaded picture of this visage is used as is', async () => {
  const picture = `${BASE}/pictures/u/1f/abc.jpg`;
  assert.deepEqual(await run(jane({ picture })), { picture });
});

test('a picture written to app_metadata is used too, before user_metadata', async () => {
  const picture = `${BASE}/pictures/u/1f/def.jpg`;
  const user = jane({ picture: `${BASE}/pictures/u/1f/old.jpg` }, { app_metadata: { picture } });
  assert.deepEqual(await run(user), { picture });
});

test('anything else falls back to the avatar URL of the email', async () => {
  const refused = [
    undefined,
    null,
    42,
    '',
    'https://evil.example.com/me.png',
    `${BASE}.evil.com/pictures/x.jpg`, // prefix trick: another host
    `${BASE}@evil.com/pictures/x.jpg`, // userinfo trick
    `${BASE}evil/pictures/x.jpg`, // no slash after the base
    'http://visage.example.com/pictures/x.jpg', // another scheme
    `${BASE}:8443/pictures/x.jpg`, // another port
    `javascript:alert(1)//${BASE}/`,
    ` ${BASE}/pictures/x.jpg`,
  ];
  for (const picture of refused) {
    assert.deepEqual(await run(jane({ picture })), { picture: JANE_AVATAR }, String(picture));
  }
});

test('the email is trimmed and lower-cased before hashing, and the name is encoded', async () => {
  const user = jane({}, { email: '  Jane.Doe@Example.COM ', name: 'Jane Doe' });
  assert.deepEqual(await run(user), { picture: JANE_AVATAR });
  const odd = jane({}, { name: 'Zoë & Ana/?#' });
  assert.deepEqual(await run(odd), {
    picture: `${BASE}/avatar/${JANE}?name=Zo%C3%AB%20%26%20Ana%2F%3F%23`,
  });
});

test('without an email the picture is the initials of the name', async () => {
  const cases = [
    [{ name: 'Jane Doe' }, `${BASE}/initials/Jane%20Doe.png`],
    [{ given_name: 'Li', family_name: 'Wei' }, `${BASE}/initials/Li%20Wei.png`],
    [{ nickname: 'jd/x' }, `${BASE}/initials/jd%2Fx.png`],
    [{}, `${BASE}/initials/%3F.png`],
  ];
  for (const [fields, expected] of cases) {
    const user = { user_id: 'sms|123', user_metadata: {}, ...fields };
    assert.deepEqual(await run(user), { picture: expected }, JSON.stringify(fields));
  }
});

test('the public URL may carry a trailing slash or a path', async () => {
  assert.deepEqual(await run(jane(), { VISAGE_PUBLIC_URL: `${BASE}/` }), { picture: JANE_AVATAR });
  const base = `${BASE}/visage`;
  const ours = `${base}/pictures/x.jpg`;
  const secrets = { VISAGE_PUBLIC_URL: `${base}//` };
  assert.deepEqual(await run(jane({ picture: ours }), secrets), { picture: ours });
  for (const picture of [`${BASE}/other/x.jpg`, `${base}/../other/x.jpg`, `${base}/%2e%2e/other/x.jpg`]) {
    assert.deepEqual(await run(jane({ picture }), secrets), {
      picture: `${base}/avatar/${JANE}?name=Jane%20Doe`,
    }, picture);
  }
});

test('pictures on the configured picture base URL are accepted too', async () => {
  const cdn = 'https://cdn.example.net/pictures';
  const picture = `${cdn}/u/1f/abc.jpg`;
  const secrets = { VISAGE_PUBLIC_URL: BASE, VISAGE_PICTURE_BASE_URL: `${cdn}/` };
  assert.deepEqual(await run(jane({ picture }), secrets), { picture });
  assert.deepEqual(await run(jane({ picture })), { picture: JANE_AVATAR });
});

test('a missing or malformed secret leaves the claim alone instead of failing the login', async () => {
  for (const secrets of [{}, { VISAGE_PUBLIC_URL: '' }, { VISAGE_PUBLIC_URL: 'visage.example.com' }, { VISAGE_PUBLIC_URL: 'ftp://x.example' }]) {
    assert.deepEqual(await run(jane(), secrets), {}, JSON.stringify(secrets));
  }
});
