/**
 * visage post-login Action: gives every ID token a picture (Auth0 Actions, Node 22 runtime).
 *
 * The picture, in this order (the contract, docs/API.md):
 *  1. the uploaded picture: app_metadata.picture, then user_metadata.picture, then the root
 *     picture, only when the URL lies under this visage (VISAGE_PUBLIC_URL, or
 *     VISAGE_PICTURE_BASE_URL when pictures are served from a CDN) — users can edit their own
 *     user_metadata, so a foreign URL never reaches the token;
 *  2. the identity provider's own picture (Google, GitHub, Microsoft… in event.user.picture),
 *     kept as it is unless the secret VISAGE_OVERRIDE_IDP_PICTURE is "true";
 *  3. otherwise (no picture, or Auth0's default: a Gravatar URL whose `d` is
 *     https://cdn.auth0.com/avatars/…) visage's /avatar/{sha256(email)}?name=… when
 *     event.user.email_verified is true, else /initials/{name}.png: nobody gets the Gravatar
 *     of an address they have not proven to own.
 *
 * The claim is set as `picture` and, because Auth0 may refuse to change standard OIDC claims
 * from an Action, also under the namespaced name `{VISAGE_PUBLIC_URL}/picture`.
 * No dependencies: only Node's built-in crypto.
 */
'use strict';

const crypto = require('crypto');

/** The URL without trailing slashes, or null when it is not a plain http(s) URL. */
function baseUrl(value) {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim().replace(/\/+$/, '');
  let url;
  try {
    url = new URL(trimmed);
  } catch (_) {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  if (url.search || url.hash || url.username || url.password) return null;
  return trimmed;
}

/**
 * True when `picture` is a URL under `base`: same origin, and a path below base's path.
 * Parsing (not a string prefix alone) defeats `https://visage.example.com.evil.com/...`,
 * `https://visage.example.com@evil.com/...` and `/../` tricks.
 */
function isUnder(picture, base) {
  if (typeof picture !== 'string' || !picture.startsWith(base + '/')) return false;
  let url;
  let root;
  try {
    url = new URL(picture);
    root = new URL(base + '/');
  } catch (_) {
    return false;
  }
  return (
    url.origin === root.origin &&
    !url.username &&
    !url.password &&
    url.pathname.startsWith(root.pathname)
  );
}

/** The URL when `value` is an absolute https (or http) URL, else null. */
function httpUrl(value) {
  if (typeof value !== 'string' || !value.trim()) return null;
  try {
    const url = new URL(value.trim());
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : null;
  } catch (_) {
    return null;
  }
}

/**
 * True for the picture Auth0 gives users whose connection has none (database, passwordless,
 * enterprise without a photo): a Gravatar URL whose `d` fallback is cdn.auth0.com/avatars/…,
 * or that fallback itself.
 */
function isAuth0Default(picture) {
  const url = httpUrl(picture);
  if (!url) return false;
  const isAuth0Avatar = (u) => u && u.hostname === 'cdn.auth0.com' && u.pathname.startsWith('/avatars/');
  if (isAuth0Avatar(url)) return true;
  const gravatar = url.hostname === 'gravatar.com' || url.hostname.endsWith('.gravatar.com');
  const fallback = url.searchParams.get('d') || url.searchParams.get('default');
  return gravatar && isAuth0Avatar(httpUrl(fallback));
}

/**
 * The name visage draws initials from. Database and passwordless users have their email (or
 * phone number) as `name`: only an email's local part is used, and a candidate without a
 * letter (a phone number) is skipped, so no address or number lands in a picture URL.
 */
function displayName(user) {
  const fullName = [user.given_name, user.family_name].filter((part) => typeof part === 'string').join(' ');
  for (const candidate of [user.name, fullName, user.nickname]) {
    if (typeof candidate !== 'string') continue;
    const text = (candidate.includes('@') ? candidate.split('@')[0] : candidate).trim();
    if (/\p{L}/u.test(text)) return text;
  }
  return '?';
}

/**
 * The picture claim for `user`. `bases` are the URLs uploaded pictures may live under (the
 * public URL first); `overrideIdp` replaces an identity provider's own picture too.
 */
function pictureFor(user, bases, overrideIdp) {
  const [base] = bases;
  const ours = (picture) => bases.some((prefix) => isUnder(picture, prefix));
  for (const metadata of [user.app_metadata, user.user_metadata]) {
    const uploaded = metadata && metadata.picture;
    if (ours(uploaded)) return uploaded;
  }
  // With auth0.management.field = root, visage writes the root picture itself.
  if (ours(user.picture)) return user.picture;
  if (!overrideIdp && httpUrl(user.picture) && !isAuth0Default(user.picture)) {
    return user.picture;
  }
  const name = encodeURIComponent(displayName(user));
  const email = typeof user.email === 'string' ? user.email.trim().toLowerCase() : '';
  if (email && user.email_verified === true) {
    const hash = crypto.createHash('sha256').update(email, 'utf8').digest('hex');
    return `${base}/avatar/${hash}?name=${name}`;
  }
  return `${base}/initials/${name}.png`;
}

exports.onExecutePostLogin = async (event, api) => {
  const secrets = event.secrets || {};
  const base = baseUrl(secrets.VISAGE_PUBLIC_URL);
  if (!base) {
    // A missing or malformed secret must not block logins: leave the claim as Auth0 set it.
    console.log('visage: secret VISAGE_PUBLIC_URL is missing or not an http(s) URL; picture claim unchanged');
    return;
  }
  const pictureBase = baseUrl(secrets.VISAGE_PICTURE_BASE_URL);
  const bases = pictureBase ? [base, pictureBase] : [base];
  const overrideIdp = String(secrets.VISAGE_OVERRIDE_IDP_PICTURE || '').trim().toLowerCase() === 'true';
  const picture = pictureFor(event.user || {}, bases, overrideIdp);
  api.idToken.setCustomClaim('picture', picture);
  api.idToken.setCustomClaim(`${base}/picture`, picture);
};

// For the tests; Auth0 only calls onExecutePostLogin.
exports._internals = { baseUrl, isUnder, isAuth0Default, pictureFor, displayName };
