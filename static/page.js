// visage's upload page: file picker and drag-and-drop, preview, progress, the API's own messages.
// Served from /static/page.js under a CSP without inline scripts; no dependencies, no build step.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const dev = document.body.dataset.dev === 'true';
  const form = $('upload-form');
  const input = $('file');
  const drop = $('drop');
  const preview = $('preview');
  const progress = $('progress');
  const status = $('status');
  const error = $('error');
  const buttons = [$('upload-button'), $('delete-button')];
  let chosen = null;
  let previewUrl = null;

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
    status.textContent = '';
  }

  function clearMessages() {
    error.hidden = true;
    error.textContent = '';
    status.textContent = '';
  }

  function choose(file) {
    clearMessages();
    chosen = file || null;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    preview.hidden = true;
    if (!chosen) return;
    status.textContent = `${chosen.name} (${Math.ceil(chosen.size / 1024)} KiB) is ready to upload.`;
    if (chosen.type.startsWith('image/')) {
      previewUrl = URL.createObjectURL(chosen);
      preview.src = previewUrl;
      preview.hidden = false;
    }
  }

  function showPicture(url) {
    $('result').src = url;
    const link = $('result-link');
    link.href = url;
    link.textContent = url;
    $('result-figure').hidden = false;
  }

  /** The pasted access token without a "Bearer " prefix; null in dev mode or when empty. */
  function token() {
    const field = $('token');
    if (dev || !field) return null;
    const value = field.value.trim().replace(/^Bearer\s+/i, '');
    return value || null;
  }

  /** Sends a request to visage and calls back with (status, parsed JSON body or null). */
  function send(method, body, done) {
    const xhr = new XMLHttpRequest();
    xhr.open(method, '/v1/me/picture');
    const bearer = token();
    if (bearer) xhr.setRequestHeader('Authorization', `Bearer ${bearer}`);
    xhr.responseType = 'text';
    xhr.upload.addEventListener('progress', (event) => {
      if (!event.lengthComputable) return;
      progress.hidden = false;
      progress.value = Math.round((event.loaded / event.total) * 100);
      progress.textContent = `${progress.value}%`;
    });
    xhr.addEventListener('load', () => {
      let json = null;
      try {
        json = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch (_) {
        json = null;
      }
      finish();
      done(xhr.status, json);
    });
    xhr.addEventListener('error', () => {
      finish();
      showError('visage could not be reached; check the connection and try again.');
    });
    buttons.forEach((b) => { b.disabled = true; });
    xhr.send(body);
  }

  function finish() {
    buttons.forEach((b) => { b.disabled = false; });
    progress.hidden = true;
  }

  function failure(code, json) {
    const message = json && typeof json.message === 'string'
      ? json.message
      : `The request failed (HTTP ${code}).`;
    showError(message);
    // 502 metadata_update_failed: the picture is stored; show it anyway.
    if (json && typeof json.picture === 'string') showPicture(json.picture);
  }

  input.addEventListener('change', () => choose(input.files[0]));

  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    const files = event.dataTransfer && event.dataTransfer.files;
    if (!files || files.length === 0) return;
    input.files = files;
    choose(files[0]);
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearMessages();
    if (!chosen) {
      showError('Choose a picture first.');
      return;
    }
    if (!dev && !token()) {
      showError('Paste an access token first.');
      return;
    }
    const body = new FormData();
    body.append('picture', chosen, chosen.name);
    progress.value = 0;
    progress.hidden = false;
    status.textContent = 'Uploading…';
    send('POST', body, (code, json) => {
      if (code === 201 && json && typeof json.picture === 'string') {
        status.textContent = `Stored: ${json.width}×${json.height} ${json.content_type}, ${json.bytes} bytes.`;
        showPicture(json.picture);
      } else {
        failure(code, json);
      }
    });
  });

  $('delete-button').addEventListener('click', () => {
    clearMessages();
    if (!dev && !token()) {
      showError('Paste an access token first.');
      return;
    }
    status.textContent = 'Removing…';
    send('DELETE', null, (code, json) => {
      if (code === 204) {
        status.textContent = 'Your pictures were removed.';
        $('result-figure').hidden = true;
      } else {
        failure(code, json);
      }
    });
  });
})();
