// visage's upload page: choose or drop a picture, pick the square (drag, pinch, wheel, keys),
// see it at 128 and 32 px, send a scaled-down copy with the crop, show the API's own messages.
// Served from /static/page.js under a CSP without inline scripts; no dependencies, no build step.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const dev = body.dataset.dev === 'true';
  const form = $('upload-form');
  const input = $('file');
  const drop = $('drop');
  const editor = $('editor');
  const stage = $('stage');
  const zoomInput = $('zoom');
  const cropInfo = $('crop-info');
  const progress = $('progress');
  const status = $('status');
  const error = $('error');
  const buttons = [$('upload-button'), $('delete-button')];
  const previews = ['preview-128-round', 'preview-128-square', 'preview-32-round', 'preview-32-square'].map($);

  /** Longest edge of what is sent; larger pictures are scaled down in the browser first. */
  const MAX_SENT_EDGE = 2048;
  /** Pictures at most this long-edged and this heavy are sent as they are. */
  const SEND_AS_IS_BYTES = 1024 * 1024;
  /** The API refuses crops under 16 px; keep a margin for rounding after scaling. */
  const MIN_SENT_CROP = 20;
  const JPEG_QUALITY = 0.88;
  const STAGE_MAX = { width: 480, height: 360 };

  let chosen = null; // the File
  // The upright picture and the square: centre (cx, cy) and side, in the bitmap's pixels.
  let picture = null; // { bitmap, width, height }
  let crop = null; // { cx, cy, side }
  let view = null; // { scale } CSS px per bitmap px on the stage

  // --- messages ------------------------------------------------------------------------
  function showError(message, focusTarget) {
    error.textContent = message;
    error.hidden = false;
    status.textContent = '';
    if (focusTarget) focusTarget.focus();
  }

  function clearMessages() {
    error.hidden = true;
    error.textContent = '';
    status.textContent = '';
  }

  // --- the example URLs ----------------------------------------------------------------
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

  // --- the editor ----------------------------------------------------------------------
  function minSide() {
    if (!picture) return 16;
    const scale = sentScale(picture.width, picture.height);
    return Math.min(Math.min(picture.width, picture.height), Math.ceil(MIN_SENT_CROP / scale));
  }

  function maxZoom() {
    if (!picture) return 1;
    return Math.max(1, Math.min(picture.width, picture.height) / minSide());
  }

  /** Keeps the square inside the picture and at least the minimum size. */
  function clampCrop() {
    const limit = Math.min(picture.width, picture.height);
    crop.side = Math.max(minSide(), Math.min(limit, crop.side));
    const half = crop.side / 2;
    crop.cx = Math.max(half, Math.min(picture.width - half, crop.cx));
    crop.cy = Math.max(half, Math.min(picture.height - half, crop.cy));
  }

  function setZoom(zoom) {
    const z = Math.max(1, Math.min(maxZoom(), zoom));
    crop.side = Math.min(picture.width, picture.height) / z;
    clampCrop();
    render();
  }

  function currentZoom() {
    return Math.min(picture.width, picture.height) / crop.side;
  }

  function moveBy(dx, dy) {
    crop.cx += dx;
    crop.cy += dy;
    clampCrop();
    render();
  }

  function layoutStage() {
    const available = Math.min(STAGE_MAX.width, stage.parentElement.clientWidth || STAGE_MAX.width);
    const scale = Math.min(available / picture.width, STAGE_MAX.height / picture.height);
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(picture.width * scale));
    const height = Math.max(1, Math.round(picture.height * scale));
    stage.width = Math.round(width * ratio);
    stage.height = Math.round(height * ratio);
    stage.style.width = `${width}px`;
    stage.style.height = `${height}px`;
    view = { scale, ratio };
  }

  function render() {
    if (!picture || !crop) return;
    const g = stage.getContext('2d');
    const k = view.scale * view.ratio;
    g.imageSmoothingQuality = 'high';
    g.clearRect(0, 0, stage.width, stage.height);
    g.drawImage(picture.bitmap, 0, 0, stage.width, stage.height);
    const x = (crop.cx - crop.side / 2) * k;
    const y = (crop.cy - crop.side / 2) * k;
    const s = crop.side * k;
    // Dim what is cut away, then outline the square and its inscribed circle.
    g.save();
    g.fillStyle = 'rgba(0, 0, 0, 0.55)';
    g.beginPath();
    g.rect(0, 0, stage.width, stage.height);
    g.rect(x, y, s, s);
    g.fill('evenodd');
    g.lineWidth = Math.max(2, 2 * view.ratio);
    g.strokeStyle = '#fff';
    g.strokeRect(x, y, s, s);
    g.setLineDash([4 * view.ratio, 4 * view.ratio]);
    g.beginPath();
    g.arc(x + s / 2, y + s / 2, s / 2, 0, 2 * Math.PI);
    g.stroke();
    g.restore();
    const sx = crop.cx - crop.side / 2;
    const sy = crop.cy - crop.side / 2;
    for (const canvas of previews) {
      const p = canvas.getContext('2d');
      p.imageSmoothingQuality = 'high';
      p.clearRect(0, 0, canvas.width, canvas.height);
      p.drawImage(picture.bitmap, sx, sy, crop.side, crop.side, 0, 0, canvas.width, canvas.height);
    }
    zoomInput.max = String(maxZoom());
    zoomInput.value = String(currentZoom());
    zoomInput.setAttribute('aria-valuetext', `${currentZoom().toFixed(1)} times`);
    const sent = sentCrop();
    cropInfo.textContent = `Keeping ${Math.round(crop.side)}×${Math.round(crop.side)} pixels from (${Math.round(sx)}, ${Math.round(sy)}) of ${picture.width}×${picture.height}` +
      (sent.scale < 1 ? `; sent scaled to ${sent.width}×${sent.height}.` : '.');
    editor.dataset.crop = `${Math.round(sx)},${Math.round(sy)},${Math.round(crop.side)}`;
  }

  function closeEditor() {
    if (picture) picture.bitmap.close();
    picture = null;
    crop = null;
    editor.hidden = true;
    delete editor.dataset.ready;
  }

  async function openEditor(file) {
    // SVG stays what it is: the API refuses it, and the page shows why.
    if (file.type === 'image/svg+xml') return false;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
    } catch (_) {
      return false; // not a picture this browser decodes: sent as it is, the API decides
    }
    if (chosen !== file) {
      bitmap.close();
      return false;
    }
    picture = { bitmap, width: bitmap.width, height: bitmap.height };
    const side = Math.min(bitmap.width, bitmap.height);
    crop = { cx: bitmap.width / 2, cy: bitmap.height / 2, side };
    editor.hidden = false;
    layoutStage();
    clampCrop();
    render();
    editor.dataset.ready = 'true';
    return true;
  }

  async function choose(file) {
    clearMessages();
    closeEditor();
    chosen = file || null;
    if (!chosen) return;
    const size = chosen.size >= 1024 * 1024
      ? `${(chosen.size / 1024 / 1024).toFixed(1)} MB`
      : `${Math.ceil(chosen.size / 1024)} KiB`;
    const opened = await openEditor(chosen);
    if (chosen !== file) return;
    status.textContent = opened
      ? `${chosen.name} (${size}): move and zoom the square, then upload.`
      : `${chosen.name} (${size}) is ready to upload.`;
  }

  // Pointer: drag with one pointer, pinch with two; the wheel zooms.
  const pointers = new Map();
  let pinch = null;

  stage.addEventListener('pointerdown', (event) => {
    if (!picture) return;
    stage.setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    stage.classList.add('dragging');
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y) || 1, side: crop.side };
    }
  });

  stage.addEventListener('pointermove', (event) => {
    const last = pointers.get(event.pointerId);
    if (!last || !picture) return;
    const now = { x: event.clientX, y: event.clientY };
    pointers.set(event.pointerId, now);
    if (pointers.size >= 2 && pinch) {
      const [a, b] = [...pointers.values()];
      const distance = Math.hypot(a.x - b.x, a.y - b.y) || 1;
      crop.side = pinch.side * (pinch.distance / distance);
      clampCrop();
      render();
    } else if (pointers.size === 1) {
      moveBy((now.x - last.x) / view.scale, (now.y - last.y) / view.scale);
    }
  });

  function release(event) {
    pointers.delete(event.pointerId);
    if (pointers.size < 2) pinch = null;
    if (pointers.size === 0) stage.classList.remove('dragging');
  }
  stage.addEventListener('pointerup', release);
  stage.addEventListener('pointercancel', release);

  stage.addEventListener('wheel', (event) => {
    if (!picture) return;
    event.preventDefault();
    setZoom(currentZoom() * Math.exp(-event.deltaY / 500));
  }, { passive: false });

  stage.addEventListener('keydown', (event) => {
    if (!picture) return;
    const step = Math.max(1, Math.round((event.shiftKey ? 0.1 : 0.02) * Math.min(picture.width, picture.height)));
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) {
      moveBy(...moves[event.key]);
    } else if (event.key === '+' || event.key === '=') {
      setZoom(currentZoom() * 1.1);
    } else if (event.key === '-' || event.key === '_') {
      setZoom(currentZoom() / 1.1);
    } else {
      return;
    }
    event.preventDefault();
  });

  zoomInput.addEventListener('input', () => {
    if (picture) setZoom(Number(zoomInput.value));
  });

  window.addEventListener('resize', () => {
    if (!picture) return;
    layoutStage();
    render();
  });

  // --- what is sent ----------------------------------------------------------------------
  function sentScale(width, height) {
    return Math.min(1, MAX_SENT_EDGE / Math.max(width, height));
  }

  /** The crop in the pixels of the picture that is sent: whole pixels, a square, inside it. */
  function sentCrop() {
    const scale = sentScale(picture.width, picture.height);
    const width = Math.max(1, Math.round(picture.width * scale));
    const height = Math.max(1, Math.round(picture.height * scale));
    const side = Math.min(width, height, Math.floor(crop.side * scale));
    const x = Math.max(0, Math.min(width - side, Math.round((crop.cx - crop.side / 2) * scale)));
    const y = Math.max(0, Math.min(height - side, Math.round((crop.cy - crop.side / 2) * scale)));
    return { scale, width, height, x, y, side };
  }

  function hasTransparency(context, width, height) {
    const data = context.getImageData(0, 0, width, height).data;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return true;
    return false;
  }

  /** The file to send and its crop: the original when small, else a scaled JPEG (PNG with transparency). */
  async function prepare() {
    const sent = sentCrop();
    const crop = `${sent.x},${sent.y},${sent.side},${sent.side}`;
    const sendable = /^image\/(jpeg|png|webp|gif)$/.test(chosen.type);
    if (sent.scale === 1 && chosen.size <= SEND_AS_IS_BYTES && sendable) {
      return { blob: chosen, name: chosen.name, crop };
    }
    const canvas = typeof OffscreenCanvas === 'function'
      ? new OffscreenCanvas(sent.width, sent.height)
      : Object.assign(document.createElement('canvas'), { width: sent.width, height: sent.height });
    const g = canvas.getContext('2d');
    g.imageSmoothingQuality = 'high';
    g.drawImage(picture.bitmap, 0, 0, sent.width, sent.height);
    const transparent = chosen.type !== 'image/jpeg' && hasTransparency(g, sent.width, sent.height);
    const type = transparent ? 'image/png' : 'image/jpeg';
    const options = transparent ? { type } : { type, quality: JPEG_QUALITY };
    const blob = canvas.convertToBlob
      ? await canvas.convertToBlob(options)
      : await new Promise((resolve) => canvas.toBlob(resolve, type, options.quality));
    const name = chosen.name.replace(/\.[^.]*$/, '') + (transparent ? '.png' : '.jpg');
    return { blob, name, crop };
  }

  // --- the stored picture, with its ThumbHash as a placeholder --------------------------
  /** Decodes a ThumbHash (https://evanw.github.io/thumbhash/) to { w, h, rgba }. */
  function thumbHashToRGBA(hash) {
    const { PI, cos, max, min, round } = Math;
    const header24 = hash[0] | (hash[1] << 8) | (hash[2] << 16);
    const header16 = hash[3] | (hash[4] << 8);
    const lDc = (header24 & 63) / 63;
    const pDc = ((header24 >> 6) & 63) / 31.5 - 1;
    const qDc = ((header24 >> 12) & 63) / 31.5 - 1;
    const lScale = ((header24 >> 18) & 31) / 31;
    const hasAlpha = header24 >> 23;
    const pScale = ((header16 >> 3) & 63) / 63;
    const qScale = ((header16 >> 9) & 63) / 63;
    const isLandscape = header16 >> 15;
    const lMax = hasAlpha ? 5 : 7;
    const lx = max(3, isLandscape ? lMax : header16 & 7);
    const ly = max(3, isLandscape ? header16 & 7 : lMax);
    const aDc = hasAlpha ? (hash[5] & 15) / 15 : 1;
    const aScale = (hash[5] >> 4) / 15;
    let index = hasAlpha ? 6 : 5;
    let nibble = 0;
    const channel = (nx, ny, scale) => {
      const ac = [];
      for (let cy = 0; cy < ny; cy++) {
        for (let cx = cy ? 0 : 1; cx * ny < nx * (ny - cy); cx++, nibble++) {
          const bits = (hash[index + (nibble >> 1)] >> ((nibble & 1) << 2)) & 15;
          ac.push((bits / 7.5 - 1) * scale);
        }
      }
      return ac;
    };
    const lAc = channel(lx, ly, lScale);
    const pAc = channel(3, 3, pScale * 1.25); // saturation boost, as the reference decoder
    const qAc = channel(3, 3, qScale * 1.25);
    const aAc = hasAlpha ? channel(5, 5, aScale) : null;
    const ratio = lx / ly;
    const w = round(ratio > 1 ? 32 : 32 * ratio);
    const h = round(ratio > 1 ? 32 / ratio : 32);
    const rgba = new Uint8ClampedArray(w * h * 4);
    const fx = [];
    const fy = [];
    const sum = (ac, nx, ny, base) => {
      let value = base;
      for (let cy = 0, j = 0; cy < ny; cy++) {
        for (let cx = cy ? 0 : 1; cx * ny < nx * (ny - cy); cx++, j++) value += ac[j] * fx[cx] * fy[cy] * 2;
      }
      return value;
    };
    for (let y = 0, i = 0; y < h; y++) {
      for (let x = 0; x < w; x++, i += 4) {
        const n = max(lx, ly, hasAlpha ? 5 : 3);
        for (let c = 0; c < n; c++) {
          fx[c] = cos((PI / w) * (x + 0.5) * c);
          fy[c] = cos((PI / h) * (y + 0.5) * c);
        }
        const l = sum(lAc, lx, ly, lDc);
        const p = sum(pAc, 3, 3, pDc);
        const q = sum(qAc, 3, 3, qDc);
        const a = hasAlpha ? sum(aAc, 5, 5, aDc) : 1;
        const b = l - (2 / 3) * p;
        const r = (3 * l - b + q) / 2;
        rgba[i] = max(0, 255 * min(1, r));
        rgba[i + 1] = max(0, 255 * min(1, r - q));
        rgba[i + 2] = max(0, 255 * min(1, b));
        rgba[i + 3] = max(0, 255 * min(1, a));
      }
    }
    return { w, h, rgba };
  }

  function drawPlaceholder(base64) {
    const canvas = $('result-placeholder');
    const g = canvas.getContext('2d');
    g.clearRect(0, 0, canvas.width, canvas.height);
    if (typeof base64 !== 'string') return;
    try {
      const hash = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      if (hash.length < 5) return;
      const { w, h, rgba } = thumbHashToRGBA(hash);
      canvas.width = w;
      canvas.height = h;
      canvas.getContext('2d').putImageData(new ImageData(rgba, w, h), 0, 0);
      canvas.dataset.thumbhash = base64;
    } catch (_) {
      // A placeholder is a nicety: without one the picture simply appears when loaded.
    }
  }

  function showPicture(url, thumbhash) {
    const img = $('result');
    img.classList.remove('loaded');
    img.hidden = false;
    drawPlaceholder(thumbhash);
    img.onload = () => img.classList.add('loaded');
    // A picture that does not load shows the placeholder, never a broken-image icon.
    img.onerror = () => { img.hidden = true; };
    img.src = url;
    const link = $('result-link');
    link.href = url;
    link.textContent = url;
    $('result-figure').hidden = false;
  }

  // --- talking to visage -----------------------------------------------------------------
  /** The pasted access token without a "Bearer " prefix; null in dev mode or when empty. */
  function token() {
    const field = $('token');
    if (dev || !field) return null;
    const value = field.value.trim().replace(/^Bearer\s+/i, '');
    return value || null;
  }

  /** Sends a request to visage and calls back with (status, parsed JSON body or null). */
  function send(method, payload, done) {
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
      showError('visage could not be reached; check the connection and try again.', buttons[0]);
    });
    buttons.forEach((b) => { b.disabled = true; });
    form.setAttribute('aria-busy', 'true');
    xhr.send(payload);
  }

  function finish() {
    buttons.forEach((b) => { b.disabled = false; });
    form.removeAttribute('aria-busy');
    progress.hidden = true;
  }

  function failure(code, json) {
    const message = json && typeof json.message === 'string'
      ? json.message
      : `The request failed (HTTP ${code}).`;
    showError(message);
    // 502 metadata_update_failed: the picture is stored; show it anyway.
    if (json && typeof json.picture === 'string') showPicture(json.picture, json.thumbhash);
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

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    if (!chosen) {
      showError('Choose a picture first.', input);
      return;
    }
    if (!dev && !token()) {
      showError('Paste an access token first.', $('token'));
      return;
    }
    const file = chosen;
    const payload = new FormData();
    status.textContent = 'Preparing…';
    if (picture) {
      const prepared = await prepare();
      if (chosen !== file) return;
      payload.append('crop', prepared.crop);
      payload.append('picture', prepared.blob, prepared.name);
    } else {
      payload.append('picture', file, file.name);
    }
    progress.value = 0;
    progress.hidden = false;
    status.textContent = 'Uploading…';
    send('POST', payload, (code, json) => {
      if (code === 201 && json && typeof json.picture === 'string') {
        status.textContent = `Stored: ${json.width}×${json.height} ${json.content_type}, ${json.bytes} bytes.`;
        showPicture(json.picture, json.thumbhash);
      } else {
        failure(code, json);
      }
    });
  });

  $('delete-button').addEventListener('click', () => {
    clearMessages();
    if (!dev && !token()) {
      showError('Paste an access token first.', $('token'));
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
