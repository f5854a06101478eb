// Tests for the post-login Action with a stand-in `event` and `api`: `node --test actions/`.
// The `event.user` objects have the shapes Auth0 gives each connection type.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { onExecutePostLogin } = require('./post-login.js');

const BASE = 'https://visage.example.com';
const SECRETS = { VISAGE_PUBLIC_URL: BASE };
// sha256 of "jane.doe@example.com" and of "jane.doe@gmail.com", computed with sha256sum.
const JANE = '86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d';
const JANE_GMAIL = '831f6494ad6be4fcb3a724c3d5fef22d3ceffa3c62ef3a7984e45a0ea177f982';
const JANE_AVATAR = `${BASE}/avatar/${JANE}?name=Jane%20Doe`;
// Auth0's default picture for jane.doe@example.com (md5 of the address, initials "ja").
const AUTH0_DEFAULT =
  'https://s.gravatar.com/avatar/0cba00ca3da1b283a57287bcceb17e35?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fja.png';
const GOOGLE_PHOTO = 'https://lh3.googleusercontent.com/a/ACg8ocKx3wQZ5mJ0Yv7Hq1nR2sT4uV6wX8yZ0aB1cD2eF3gH4iJ=s96-c';
const GITHUB_PHOTO = 'https://avatars.githubusercontent.com/u/583231?v=4';

/** Runs the Action and returns the claims it set on the ID token. */
async function run(user, secrets = SECRETS) {
  const claims = {};
  const api = {
    idToken: { setCustomClaim: (name, value) => { claims[name] = value; } },
    accessToken: { setCustomClaim: () => assert.fail('the access token is left alone') },
  };
  await onExecutePostLogin({ secrets, user }, api);
  return claims;
}

/** The claims the Action sets for `picture`: the standard name and the namespaced one. */
const claimsOf = (picture, base = BASE) => ({ picture, [`${base}/picture`]: picture });

const identity = (provider, connection, userId, isSocial) => ({ provider, connection, user_id: userId, isSocial });

/** A database-connection user as Auth0 stores one: `name` is the email, the default picture. */
const databaseUser = (extra = {}) => ({
  user_id: 'auth0|5f7c8ec7c33c6c004bbafe82',
  email: 'jane.doe@example.com',
  email_verified: true,
  name: 'jane.doe@example.com',
  nickname: 'jane.doe',
  picture: AUTH0_DEFAULT,
  identities: [identity('auth0', 'Username-Password-Authentication', '5f7c8ec7c33c6c004bbafe82', false)],
  created_at: '2024-03-01T09:12:44.120Z',
  updated_at: '2026-11-27T07:40:02.311Z',
  last_login: '2026-11-27T07:40:02.301Z',
  logins_count: 14,
  user_metadata: {},
  app_metadata: {},
  ...extra,
});

const googleUser = (extra = {}) => ({
  user_id: 'google-oauth2|109876543210987654321',
  email: 'jane.doe@gmail.com',
  email_verified: true,
  name: 'Jane Doe',
  given_name: 'Jane',
  family_name: 'Doe',
  nickname: 'jane.doe',
  locale: 'en',
  picture: GOOGLE_PHOTO,
  identities: [identity('google-oauth2', 'google-oauth2', '109876543210987654321', true)],
  user_metadata: {},
  app_metadata: {},
  ...extra,
});

const githubUser = (extra = {}) => ({
  user_id: 'github|583231',
  email: 'jane@users.noreply.github.com',
  email_verified: true,
  name: 'Jane Doe',
  nickname: 'janedoe',
  picture: GITHUB_PHOTO,
  identities: [identity('github', 'github', '583231', true)],
  user_metadata: {},
  app_metadata: {},
  ...extra,
});

/** Passwordless by email: a verified address, `name` is the address, Auth0's default picture. */
const passwordlessEmailUser = (extra = {}) => ({
  user_id: 'email|6566f5a2b4e8c1d0a9f3e2b1',
  email: 'jane.doe@example.com',
  email_verified: true,
  name: 'jane.doe@example.com',
  nickname: 'jane.doe',
  picture: AUTH0_DEFAULT,
  identities: [identity('email', 'email', '6566f5a2b4e8c1d0a9f3e2b1', false)],
  user_metadata: {},
  app_metadata: {},
  ...extra,
});

/** Passwordless by SMS: no email at all, the phone number as name and nickname. */
const smsUser = (extra = {}) => ({
  user_id: 'sms|6566f61bb4e8c1d0a9f3e2c7',
  phone_number: '+14155550100',
  phone_verified: true,
  name: '+14155550100',
  nickname: '+14155550100',
  picture: 'https://cdn.auth0.com/avatars/default.png',
  identities: [identity('sms', 'sms', '6566f61bb4e8c1d0a9f3e2c7', false)],
  user_metadata: {},
  app_metadata: {},
  ...extra,
});

test('an uploaded picture of this visage wins, from app_metadata, user_metadata or the root', async () => {
  const uploaded = `${BASE}/pictures/u/1f/abc.jpg`;
  const older = `${BASE}/pictures/u/1f/old.jpg`;
  assert.deepEqual(await run(databaseUser({ user_metadata: { picture: uploaded } })), claimsOf(uploaded));
  assert.deepEqual(
    await run(databaseUser({ app_metadata: { picture: uploaded }, user_metadata: { picture: older } })),
    claimsOf(uploaded),
  );
  // Over a Google photo too, and whether or not the override is on.
  const google = googleUser({ user_metadata: { picture: uploaded } });
  assert.deepEqual(await run(google), claimsOf(uploaded));
  assert.deepEqual(await run(google, { ...SECRETS, VISAGE_OVERRIDE_IDP_PICTURE: 'true' }), claimsOf(uploaded));
  // auth0.management.field = root: visage wrote the root picture itself.
  assert.deepEqual(await run(databaseUser({ picture: uploaded })), claimsOf(uploaded));
});

test('a verified database user without an upload gets the avatar URL instead of Auth0’s default', async () => {
  assert.deepEqual(await run(databaseUser()), claimsOf(`${BASE}/avatar/${JANE}?name=jane.doe`));
});

test('an unverified email is never hashed: the initials URL instead', async () => {
  const unverified = databaseUser({ email_verified: false });
  assert.deepEqual(await run(unverified), claimsOf(`${BASE}/initials/jane.doe.png`));
  // Missing counts as unverified, and so does a truthy non-boolean.
  for (const email_verified of [undefined, 'true', 1]) {
    assert.deepEqual(
      await run(databaseUser({ email_verified, name: 'Jane Doe' })),
      claimsOf(`${BASE}/initials/Jane%20Doe.png`),
      String(email_verified),
    );
  }
});

test('the identity provider’s own picture is kept (Google, GitHub)', async () => {
  assert.deepEqual(await run(googleUser()), claimsOf(GOOGLE_PHOTO));
  assert.deepEqual(await run(githubUser()), claimsOf(GITHUB_PHOTO));
  for (const off of ['false', '', 'yes']) {
    assert.deepEqual(await run(googleUser(), { ...SECRETS, VISAGE_OVERRIDE_IDP_PICTURE: off }), claimsOf(GOOGLE_PHOTO), off);
  }
});

test('VISAGE_OVERRIDE_IDP_PICTURE=true replaces the provider’s picture with visage’s', async () => {
  const secrets = { ...SECRETS, VISAGE_OVERRIDE_IDP_PICTURE: 'true' };
  assert.deepEqual(await run(googleUser(), secrets), claimsOf(`${BASE}/avatar/${JANE_GMAIL}?name=Jane%20Doe`));
  const unverifiedGithub = githubUser({ email_verified: false });
  assert.deepEqual(await run(unverifiedGithub, secrets), claimsOf(`${BASE}/initials/Jane%20Doe.png`));
});

test('passwordless: email users get the avatar URL, SMS users neutral initials without their number', async () => {
  assert.deepEqual(await run(passwordlessEmailUser()), claimsOf(`${BASE}/avatar/${JANE}?name=jane.doe`));
  const sms = await run(smsUser());
  assert.deepEqual(sms, claimsOf(`${BASE}/initials/%3F.png`));
  assert.ok(!JSON.stringify(sms).includes('4155550100'), 'the phone number stays out of the URL');
});

test('Auth0’s default picture is recognised in its forms, other pictures are not', async () => {
  const { isAuth0Default } = require('./post-login.js')._internals;
  const defaults = [
    AUTH0_DEFAULT,
    'https://s.gravatar.com/avatar/0cba00ca3da1b283a57287bcceb17e35?s=480&r=pg&d=https://cdn.auth0.com/avatars/ja.png',
    'https://secure.gravatar.com/avatar/0cba00ca3da1b283a57287bcceb17e35?default=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fja.png',
    'https://cdn.auth0.com/avatars/ja.png',
  ];
  for (const picture of defaults) assert.ok(isAuth0Default(picture), picture);
  const others = [
    GOOGLE_PHOTO,
    GITHUB_PHOTO,
    'https://s.gravatar.com/avatar/0cba00ca3da1b283a57287bcceb17e35?s=480&d=identicon',
    'https://evil.example/avatar?d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fja.png',
    'https://cdn.auth0.com.evil.example/avatars/ja.png',
    '',
    undefined,
  ];
  for (const picture of others) assert.ok(!isAuth0Default(picture), String(picture));
});

test('a foreign or malformed uploaded URL is ignored', async () => {
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
    const user = databaseUser({ name: 'Jane Doe', user_metadata: { picture } });
    assert.deepEqual(await run(user), claimsOf(JANE_AVATAR), String(picture));
  }
  // A non-URL root picture is no picture.
  assert.deepEqual(await run(databaseUser({ name: 'Jane Doe', picture: 'not a url' })), claimsOf(JANE_AVATAR));
});

test('the email is trimmed and lower-cased before hashing, and the name is encoded', async () => {
  const user = databaseUser({ email: '  Jane.Doe@Example.COM ', name: 'Jane Doe' });
  assert.deepEqual(await run(user), claimsOf(JANE_AVATAR));
  const odd = databaseUser({ name: 'Zoë & Ana/?#' });
  assert.deepEqual(await run(odd), claimsOf(`${BASE}/avatar/${JANE}?name=Zo%C3%AB%20%26%20Ana%2F%3F%23`));
});

test('without a verified email the picture is the initials of the name', async () => {
  const cases = [
    [{ name: 'Jane Doe' }, `${BASE}/initials/Jane%20Doe.png`],
    [{ given_name: 'Li', family_name: 'Wei' }, `${BASE}/initials/Li%20Wei.png`],
    [{ nickname: 'jd/x' }, `${BASE}/initials/jd%2Fx.png`],
    [{ name: 'jane.doe@example.com' }, `${BASE}/initials/jane.doe.png`],
    [{}, `${BASE}/initials/%3F.png`],
  ];
  for (const [fields, expected] of cases) {
    const user = { user_id: 'oidc|123', user_metadata: {}, ...fields };
    assert.deepEqual(await run(user), claimsOf(expected), JSON.stringify(fields));
  }
});

test('the public URL may carry a trailing slash or a path', async () => {
  const user = databaseUser({ name: 'Jane Doe' });
  assert.deepEqual(await run(user, { VISAGE_PUBLIC_URL: `${BASE}/` }), claimsOf(JANE_AVATAR));
  const base = `${BASE}/visage`;
  const ours = `${base}/pictures/x.jpg`;
  const secrets = { VISAGE_PUBLIC_URL: `${base}//` };
  assert.deepEqual(await run(databaseUser({ user_metadata: { picture: ours } }), secrets), claimsOf(ours, base));
  for (const picture of [`${BASE}/other/x.jpg`, `${base}/../other/x.jpg`, `${base}/%2e%2e/other/x.jpg`]) {
    assert.deepEqual(
      await run(databaseUser({ name: 'Jane Doe', user_metadata: { picture } }), secrets),
      claimsOf(`${base}/avatar/${JANE}?name=Jane%20Doe`, base),
      picture,
    );
  }
});

test('pictures on the configured picture base URL are accepted too', async () => {
  const cdn = 'https://cdn.example.net/pictures';
  const picture = `${cdn}/u/1f/abc.jpg`;
  const user = databaseUser({ name: 'Jane Doe', user_metadata: { picture } });
  const secrets = { VISAGE_PUBLIC_URL: BASE, VISAGE_PICTURE_BASE_URL: `${cdn}/` };
  assert.deepEqual(await run(user, secrets), claimsOf(picture));
  assert.deepEqual(await run(user), claimsOf(JANE_AVATAR));
});

test('a missing or malformed secret leaves the claim alone instead of failing the login', async () => {
  for (const secrets of [{}, { VISAGE_PUBLIC_URL: '' }, { VISAGE_PUBLIC_URL: 'visage.example.com' }, { VISAGE_PUBLIC_URL: 'ftp://x.example' }]) {
    assert.deepEqual(await run(databaseUser(), secrets), {}, JSON.stringify(secrets));
  }
});
