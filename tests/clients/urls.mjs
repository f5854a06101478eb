// Prints, one JSON object a line, the avatar URLs that real Gravatar client libraries build
// with every option they offer, and what visage must answer once the host is swapped:
// {"library", "options", "url", "status", "size"}. Run by tests/api/avatar.rs.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import gravatarUrl from 'gravatar-url';

const require = createRequire(import.meta.url);
const gravatar = require('gravatar');

// The stand-in Gravatar picks its behaviour by the hash's first hex digit: `a` has a picture,
// `0`-`8` has none. Find e-mails whose MD5 starts so.
const md5 = (text) => createHash('md5').update(text).digest('hex');
const emailWith = (test) => {
  for (let n = 0; ; n += 1) {
    const email = `user${n}@example.com`;
    if (test(md5(email))) return email;
  }
};
const pictured = emailWith((h) => h[0] === 'a');
const unknown = emailWith((h) => /^[0-8]/.test(h));

const defaults = [
  undefined, '404', 'mp', 'mm', 'identicon', 'monsterid', 'wavatar', 'retro', 'robohash',
  'blank', 'color', 'initials', 'https://cdn.auth0.com/avatars/jd.png', 'https://example.com/x.png',
];
const sizes = [undefined, 1, 16, 48, 80, 200, 480, 1024, 2048];
const ratings = [undefined, 'g', 'pg', 'r', 'x'];
const forces = [undefined, 'y', 'n'];

// Every value of each option with the others left out, plus every default forced and not.
const cases = [];
for (const email of [pictured, unknown]) {
  for (const size of sizes) cases.push({ email, size });
  for (const d of defaults) cases.push({ email, d, size: 64 });
  for (const rating of ratings) cases.push({ email, rating });
  for (const d of defaults) for (const f of forces) cases.push({ email, d, f });
}

const status = ({ email, d, f }) => (d === '404' && (email === unknown || f === 'y') ? 404 : 200);
const print = (library, options, url, c) =>
  console.log(JSON.stringify({ library, options, url, status: status(c), size: c.size ?? 80 }));

for (const c of cases) {
  // gravatar-url: size, default, rating (it has no forcedefault: added as an extra key, which
  // it passes through like any other).
  const urlOptions = { size: c.size, default: c.d, rating: c.rating };
  if (c.f) urlOptions.forcedefault = c.f;
  print('gravatar-url', urlOptions, gravatarUrl(c.email, urlOptions), c);

  // gravatar: short names, long names, protocols, and its `cdn` base (its own host swap).
  const short = { s: c.size, d: c.d, r: c.rating, f: c.f };
  for (const key of Object.keys(short)) if (short[key] === undefined) delete short[key];
  print('gravatar', short, gravatar.url(c.email, { ...short }), c);
  const long = { size: c.size, default: c.d, rating: c.rating, forcedefault: c.f, protocol: 'https' };
  for (const key of Object.keys(long)) if (long[key] === undefined) delete long[key];
  print('gravatar', long, gravatar.url(c.email, { ...long }), c);
  print('gravatar', { ...short, protocol: false }, gravatar.url(c.email, { ...short }, false), c);
  print('gravatar', { ...short, cdn: 'https://cdn.example' },
    gravatar.url(c.email, { ...short, cdn: 'https://cdn.example' }), c);
}
// An identifier that is already an MD5 (gravatar keeps it), and a username (gravatar-url
// hashes it as it is).
print('gravatar', { s: 100 }, gravatar.url(md5(pictured), { s: 100 }), { email: pictured, size: 100 });
print('gravatar-url', { size: 100 }, gravatarUrl('jane', { size: 100 }), { email: 'jane', size: 100 });
