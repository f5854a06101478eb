/**
 * visage post-login Action: puts a picture in every ID token.
 *
 * The `picture` claim becomes `user_metadata.picture` when that URL was handed out by this
 * visage (it starts with VISAGE_PUBLIC_URL + "/"; users can edit their own user_metadata, so a
 * foreign URL never reaches the token), otherwise visage's Gravatar proxy for the user's email
 * (which falls back to initials), or an initials picture when there is no email.
 *
 * Secrets: VISAGE_PUBLIC_URL, e.g. "https://visage.example.com" (the service's server.public_url);
 * optional VISAGE_PICTURE_BASE_URL when pictures are served elsewhere (storage.public_base_url).
 * No dependencies: only Node's built-in crypto, which Auth0 Actions provide.
 */
'use strict';

const crypto = require('crypto');

/** The public URL without trailing slashes, or null when it is not an http(s) URL. */
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
function isOurs(picture, base) {
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

/** The name visage should draw initials from: the profile's name, else the email's local part. */
function displayName(user) {
  const fullName = [user.given_name, user.family_name].filter((part) => typeof part === 'string').join(' ');
  for (const candidate of [user.name, fullName, user.nickname]) {
    // Auth0 sets `name` to the email for database users; initials of the email are fine too.
    if (typeof candidate === 'string' && candidate.trim()) return candidate.trim();
  }
  if (typeof user.email === 'string' && user.email.includes('@')) return user.email.split('@')[0];
  return '?';
}

/**
 * The picture URL for a user under visage at `base`. `app_metadata.picture` (written when
 * visage's auth0.management.field is app_metadata) is read first, then `user_metadata.picture`;
 * `pictureBases` are the extra origins pictures may be served from (storage.public_base_url).
 */
function pictureFor(user, base, pictureBases = []) {
  const allowed = [base, ...pictureBases];
  for (const metadata of [user.app_metadata, user.user_metadata]) {
    const uploaded = metadata && metadata.picture;
    if (allowed.some((prefix) => isOurs(uploaded, prefix))) return uploaded;
  }
  const name = displayName(user);
  const email = typeof user.email === 'string' ? user.email.trim().toLowerCase() : '';
  if (email) {
    const hash = crypto.createHash('sha256').update(email, 'utf8').digest('hex');
    return `${base}/avatar/${hash}?name=${encodeURIComponent(name)}`;
  }
  return `${base}/initials/${encodeURIComponent(name)}.png`;
}

exports.onExecutePostLogin = async (event, api) => {
  const base = baseUrl(event.secrets && event.secrets.VISAGE_PUBLIC_URL);
  if (!base) {
    // A missing or malformed secret must not block logins: leave the claim as Auth0 set it.
    console.log('visage: secret VISAGE_PUBLIC_URL is missing or not an http(s) URL; picture claim unchanged');
    return;
  }
  const pictureBase = baseUrl(event.secrets.VISAGE_PICTURE_BASE_URL);
  const pictureBases = pictureBase ? [pictureBase] : [];
  api.idToken.setCustomClaim('picture', pictureFor(event.user || {}, base, pictureBases));
};

// For the tests; Auth0 only calls onExecutePostLogin.
exports._internals = { baseUrl, isOurs, pictureFor, displayName };
