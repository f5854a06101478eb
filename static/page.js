// visage's own page: a thin host of <visage-avatar-editor> (/editor.js). It hands the editor the
// pasted access token (none in dev mode) and shows the example URLs at the page's own address.
// Served from /static/page.js under a CSP without inline scripts; no dependencies, no build step.
'use strict';

(() => {
  const body = document.body;
  const editor = document.getElementById('editor');
  const field = document.getElementById('token');

  // Outside dev mode the token is pasted: the editor asks for it before each request, and when
  // there is none the focus goes to the field that fixes it.
  if (body.dataset.dev !== 'true' && field) {
    editor.strings = { no_token: 'Paste an access token first.' };
    editor.getToken = async () => field.value.trim().replace(/^Bearer\s+/i, '') || null;
    editor.addEventListener('visage-error', (event) => {
      if (event.detail.error === 'no_token') field.focus();
    });
  }

  // With the default public URL (a first run, or a server reached by another name), the
  // examples show the address this page was loaded from, which is the one that works here.
  if (body.dataset.publicUrlDefault === 'true') {
    const configured = body.dataset.publicUrl;
    document.querySelectorAll('code.url').forEach((code) => {
      if (code.textContent.startsWith(configured)) {
        code.textContent = window.location.origin + code.textContent.slice(configured.length);
      }
    });
  }
})();
