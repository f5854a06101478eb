// What this example needs to know: your Auth0 tenant and application, visage's API identifier
// (its `auth.audience`) and address, and where auth0-spa-js comes from. The only file to edit.
export default {
  // Your tenant's domain (or custom domain), and a "Single Page Application" of it whose
  // Allowed Callback URLs, Allowed Logout URLs and Allowed Web Origins list this page's address.
  domain: 'YOUR_TENANT.eu.auth0.com',
  clientId: 'YOUR_SPA_CLIENT_ID',
  // visage's API in Auth0 (APIs → Identifier), the same as visage's `auth.audience`.
  audience: 'https://avatars.example.com/api',
  // visage itself; its `server.cors_allowed_origins` must list this page's origin.
  visage: 'https://avatars.example.com',
  // auth0-spa-js as an ES module, from a CDN or a copy of your own.
  auth0SpaJs: 'https://cdn.jsdelivr.net/npm/@auth0/auth0-spa-js@2.28.3/dist/auth0-spa-js.production.esm.js',
};
