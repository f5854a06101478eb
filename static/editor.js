// <visage-avatar-editor>: visage's upload and crop editor as a custom element for any app's page.
// Choose or drop a picture, pick the square (drag, pinch, wheel, keys), see it round and square,
// send a scaled-down copy with the crop to visage with the app's access token, show the stored
// picture; strings in several languages. Served by visage as GET /editor.js: an ES module with
// no dependencies and no build step. API.md, "The embeddable editor", is its contract.

/** Longest edge of what is sent; larger pictures are scaled down in the browser first. */
const MAX_SENT_EDGE = 2048;
/** Pictures at most this long-edged and this heavy are sent as they are. */
const SEND_AS_IS_BYTES = 1024 * 1024;
/** The API refuses crops under 16 px; keep a margin for rounding after scaling. */
const MIN_SENT_CROP = 20;
const JPEG_QUALITY = 0.88;
const STAGE_MAX = { width: 480, height: 360 };
/** The small previews' edge: how the picture looks in a list or a comment. */
const SMALL_PREVIEW = 32;
const DEFAULT_SIZE = 128;

// Built-in strings. `{name}` is filled in. Keys named like the API's error codes replace the
// API's (English) message for that code; English has none, so it shows the API's own words.
const STRINGS = {
  en: {
    drop: 'Drop an image here, or choose a file (PNG, JPEG, WebP or GIF).',
    legend: 'Choose the square',
    help: 'Drag the square, or focus the picture and use the arrow keys to move it (Shift for bigger steps); zoom with the slider, the wheel, a pinch, or the + and − keys.',
    stage: 'Crop editor: the chosen picture and the square that will be kept',
    previews: 'Previews',
    preview: 'Preview, {size} pixels, {shape}',
    round: 'round',
    square: 'square',
    zoom: 'Zoom',
    zoomValue: '{zoom} times',
    cropInfo: 'Keeping {side}×{side} pixels from ({x}, {y}) of {width}×{height}.',
    cropInfoScaled: 'Keeping {side}×{side} pixels from ({x}, {y}) of {width}×{height}; sent scaled to {sentWidth}×{sentHeight}.',
    progress: 'Upload progress',
    upload: 'Upload',
    delete: 'Remove my picture',
    chosenEditable: '{name} ({size}): move and zoom the square, then upload.',
    chosen: '{name} ({size}) is ready to upload.',
    preparing: 'Preparing…',
    uploading: 'Uploading…',
    stored: 'Stored: {width}×{height} {type}, {bytes} bytes.',
    removing: 'Removing…',
    removed: 'Your pictures were removed.',
    result: 'Your picture as visage serves it',
    no_file: 'Choose a picture first.',
    no_token: 'Sign in first: there is no access token.',
    network_error: 'visage could not be reached; check the connection and try again.',
    http_error: 'The request failed (HTTP {status}).',
  },
  fr: {
    drop: 'Déposez une image ici, ou choisissez un fichier (PNG, JPEG, WebP ou GIF).',
    legend: 'Choisissez le carré',
    help: 'Faites glisser le carré, ou placez le focus sur l’image et déplacez-le avec les flèches (Maj pour de plus grands pas) ; zoomez avec le curseur, la molette, en pinçant, ou avec les touches + et −.',
    stage: 'Éditeur de recadrage : l’image choisie et le carré qui sera conservé',
    previews: 'Aperçus',
    preview: 'Aperçu, {size} pixels, {shape}',
    round: 'rond',
    square: 'carré',
    zoom: 'Zoom',
    zoomValue: '{zoom} fois',
    cropInfo: 'Carré conservé : {side}×{side} pixels à partir de ({x}, {y}) sur {width}×{height}.',
    cropInfoScaled: 'Carré conservé : {side}×{side} pixels à partir de ({x}, {y}) sur {width}×{height} ; envoyé réduit à {sentWidth}×{sentHeight}.',
    progress: 'Progression de l’envoi',
    upload: 'Envoyer',
    delete: 'Supprimer ma photo',
    chosenEditable: '{name} ({size}) : déplacez le carré ou changez le zoom, puis envoyez.',
    chosen: '{name} ({size}) est prêt à être envoyé.',
    preparing: 'Préparation…',
    uploading: 'Envoi…',
    stored: 'Enregistrée : {width}×{height} {type}, {bytes} octets.',
    removing: 'Suppression…',
    removed: 'Vos photos ont été supprimées.',
    result: 'Votre photo telle que visage la sert',
    no_file: 'Choisissez d’abord une image.',
    no_token: 'Connectez-vous d’abord : il n’y a pas de jeton d’accès.',
    network_error: 'visage est injoignable ; vérifiez la connexion et réessayez.',
    http_error: 'La requête a échoué (HTTP {status}).',
    unauthorized: 'Votre session a expiré ou n’est pas valide ; reconnectez-vous.',
    forbidden: 'Vous n’avez pas le droit de modifier cette photo.',
    payload_too_large: 'Ce fichier est trop lourd.',
    unsupported_media_type: 'Ce type de fichier n’est pas accepté : choisissez une image PNG, JPEG, WebP ou GIF.',
    invalid_image: 'Cette image est illisible, trop grande ou trop petite.',
    invalid_parameter: 'Le carré choisi n’est pas valide ; choisissez-en un autre.',
    bad_request: 'La requête était mal formée ; réessayez.',
    request_timeout: 'L’envoi a pris trop de temps ; réessayez.',
    too_many_requests: 'Trop d’envois d’un coup ; réessayez dans une minute.',
    storage_unavailable: 'Le stockage est indisponible pour le moment ; réessayez plus tard.',
    metadata_update_failed: 'La photo est enregistrée, mais votre profil n’est pas encore à jour ; réessayez.',
  },
  de: {
    drop: 'Legen Sie ein Bild hier ab oder wählen Sie eine Datei (PNG, JPEG, WebP oder GIF).',
    legend: 'Quadrat wählen',
    help: 'Ziehen Sie das Quadrat, oder fokussieren Sie das Bild und verschieben Sie es mit den Pfeiltasten (mit Umschalt in größeren Schritten); zoomen Sie mit dem Schieberegler, dem Mausrad, mit zwei Fingern oder mit den Tasten + und −.',
    stage: 'Zuschnitt-Editor: das gewählte Bild und das Quadrat, das behalten wird',
    previews: 'Vorschau',
    preview: 'Vorschau, {size} Pixel, {shape}',
    round: 'rund',
    square: 'quadratisch',
    zoom: 'Zoom',
    zoomValue: '{zoom}-fach',
    cropInfo: 'Behalten werden {side}×{side} Pixel ab ({x}, {y}) von {width}×{height}.',
    cropInfoScaled: 'Behalten werden {side}×{side} Pixel ab ({x}, {y}) von {width}×{height}; gesendet verkleinert auf {sentWidth}×{sentHeight}.',
    progress: 'Fortschritt des Hochladens',
    upload: 'Hochladen',
    delete: 'Mein Bild entfernen',
    chosenEditable: '{name} ({size}): Quadrat verschieben und zoomen, dann hochladen.',
    chosen: '{name} ({size}) ist bereit zum Hochladen.',
    preparing: 'Wird vorbereitet…',
    uploading: 'Wird hochgeladen…',
    stored: 'Gespeichert: {width}×{height} {type}, {bytes} Bytes.',
    removing: 'Wird entfernt…',
    removed: 'Ihre Bilder wurden entfernt.',
    result: 'Ihr Bild, wie visage es ausliefert',
    no_file: 'Wählen Sie zuerst ein Bild.',
    no_token: 'Melden Sie sich zuerst an: Es gibt kein Zugriffstoken.',
    network_error: 'visage ist nicht erreichbar; prüfen Sie die Verbindung und versuchen Sie es erneut.',
    http_error: 'Die Anfrage ist fehlgeschlagen (HTTP {status}).',
    unauthorized: 'Ihre Sitzung ist abgelaufen oder ungültig; melden Sie sich erneut an.',
    forbidden: 'Sie dürfen dieses Bild nicht ändern.',
    payload_too_large: 'Diese Datei ist zu groß.',
    unsupported_media_type: 'Dieser Dateityp wird nicht angenommen: Wählen Sie ein PNG-, JPEG-, WebP- oder GIF-Bild.',
    invalid_image: 'Dieses Bild ist nicht lesbar, zu groß oder zu klein.',
    invalid_parameter: 'Das gewählte Quadrat ist ungültig; wählen Sie ein anderes.',
    bad_request: 'Die Anfrage war fehlerhaft; versuchen Sie es erneut.',
    request_timeout: 'Das Hochladen hat zu lange gedauert; versuchen Sie es erneut.',
    too_many_requests: 'Zu viele Uploads auf einmal; versuchen Sie es in einer Minute erneut.',
    storage_unavailable: 'Der Speicher ist gerade nicht verfügbar; versuchen Sie es später erneut.',
    metadata_update_failed: 'Das Bild ist gespeichert, aber Ihr Profil ist noch nicht aktualisiert; versuchen Sie es erneut.',
  },
  es: {
    drop: 'Suelta una imagen aquí o elige un archivo (PNG, JPEG, WebP o GIF).',
    legend: 'Elige el cuadrado',
    help: 'Arrastra el cuadrado, o enfoca la imagen y muévelo con las flechas (Mayús para pasos más grandes); haz zoom con el control deslizante, la rueda, pellizcando o con las teclas + y −.',
    stage: 'Editor de recorte: la imagen elegida y el cuadrado que se conservará',
    previews: 'Vistas previas',
    preview: 'Vista previa, {size} píxeles, {shape}',
    round: 'redonda',
    square: 'cuadrada',
    zoom: 'Zoom',
    zoomValue: '{zoom} veces',
    cropInfo: 'Se conservan {side}×{side} píxeles desde ({x}, {y}) de {width}×{height}.',
    cropInfoScaled: 'Se conservan {side}×{side} píxeles desde ({x}, {y}) de {width}×{height}; se envía reducida a {sentWidth}×{sentHeight}.',
    progress: 'Progreso de la subida',
    upload: 'Subir',
    delete: 'Eliminar mi foto',
    chosenEditable: '{name} ({size}): mueve el cuadrado o cambia el zoom y después pulsa Subir.',
    chosen: 'El archivo {name} ({size}) está listo para subir.',
    preparing: 'Preparando…',
    uploading: 'Subiendo…',
    stored: 'Guardada: {width}×{height} {type}, {bytes} bytes.',
    removing: 'Eliminando…',
    removed: 'Tus fotos se han eliminado.',
    result: 'Tu foto tal como la sirve visage',
    no_file: 'Primero elige una imagen.',
    no_token: 'Primero inicia sesión: no hay token de acceso.',
    network_error: 'No se pudo conectar con visage; revisa la conexión e inténtalo de nuevo.',
    http_error: 'La solicitud falló (HTTP {status}).',
    unauthorized: 'Tu sesión caducó o no es válida; vuelve a iniciar sesión.',
    forbidden: 'No tienes permiso para cambiar esta foto.',
    payload_too_large: 'Este archivo es demasiado grande.',
    unsupported_media_type: 'Este tipo de archivo no se acepta: elige una imagen PNG, JPEG, WebP o GIF.',
    invalid_image: 'Esta imagen no se puede leer, o es demasiado grande o demasiado pequeña.',
    invalid_parameter: 'El cuadrado elegido no es válido; elige otro.',
    bad_request: 'La solicitud estaba mal formada; inténtalo de nuevo.',
    request_timeout: 'La subida tardó demasiado; inténtalo de nuevo.',
    too_many_requests: 'Demasiadas subidas seguidas; inténtalo de nuevo dentro de un minuto.',
    storage_unavailable: 'El almacenamiento no está disponible ahora; inténtalo más tarde.',
    metadata_update_failed: 'La foto está guardada, pero tu perfil aún no se ha actualizado; inténtalo de nuevo.',
  },
  ja: {
    drop: 'ここに画像をドロップするか、ファイルを選択してください（PNG、JPEG、WebP、GIF）。',
    legend: '正方形を選ぶ',
    help: '正方形をドラッグするか、画像にフォーカスして矢印キーで動かします（Shift キーで大きく移動）。スライダー、ホイール、ピンチ、または + / − キーで拡大・縮小できます。',
    stage: 'トリミングエディター：選んだ画像と、残す正方形',
    previews: 'プレビュー',
    preview: 'プレビュー、{size} ピクセル、{shape}',
    round: '円形',
    square: '正方形',
    zoom: 'ズーム',
    zoomValue: '{zoom} 倍',
    cropInfo: '{width}×{height} のうち ({x}, {y}) から {side}×{side} ピクセルを残します。',
    cropInfoScaled: '{width}×{height} のうち ({x}, {y}) から {side}×{side} ピクセルを残します。{sentWidth}×{sentHeight} に縮小して送信します。',
    progress: 'アップロードの進行状況',
    upload: 'アップロード',
    delete: '自分の画像を削除',
    chosenEditable: '{name}（{size}）：正方形を動かしたり拡大・縮小したりしてから、アップロードしてください。',
    chosen: '{name}（{size}）をアップロードできます。',
    preparing: '準備中…',
    uploading: 'アップロード中…',
    stored: '保存しました：{width}×{height} {type}、{bytes} バイト。',
    removing: '削除中…',
    removed: '画像を削除しました。',
    result: 'visage が配信するあなたの画像',
    no_file: 'まず画像を選んでください。',
    no_token: 'まずログインしてください（アクセストークンがありません）。',
    network_error: 'visage に接続できません。接続を確認して、もう一度お試しください。',
    http_error: 'リクエストに失敗しました（HTTP {status}）。',
    unauthorized: 'セッションの有効期限が切れているか、無効です。もう一度ログインしてください。',
    forbidden: 'この画像を変更する権限がありません。',
    payload_too_large: 'ファイルが大きすぎます。',
    unsupported_media_type: 'この種類のファイルは使えません。PNG、JPEG、WebP、GIF の画像を選んでください。',
    invalid_image: 'この画像は読み込めないか、大きすぎるか小さすぎます。',
    invalid_parameter: '選んだ正方形が正しくありません。選び直してください。',
    bad_request: 'リクエストの形式が正しくありません。もう一度お試しください。',
    request_timeout: 'アップロードに時間がかかりすぎました。もう一度お試しください。',
    too_many_requests: 'アップロードが多すぎます。1 分ほど待ってから、もう一度お試しください。',
    storage_unavailable: '現在ストレージを利用できません。しばらくしてから、もう一度お試しください。',
    metadata_update_failed: '画像は保存されましたが、プロフィールはまだ更新されていません。もう一度お試しください。',
  },
  'pt-BR': {
    drop: 'Solte uma imagem aqui ou escolha um arquivo (PNG, JPEG, WebP ou GIF).',
    legend: 'Escolha o quadrado',
    help: 'Arraste o quadrado, ou coloque o foco na imagem e mova-o com as setas (Shift para passos maiores); ajuste o zoom com o controle deslizante, a roda do mouse, o gesto de pinça ou as teclas + e −.',
    stage: 'Editor de recorte: a imagem escolhida e o quadrado que será mantido',
    previews: 'Prévias',
    preview: 'Prévia, {size} pixels, {shape}',
    round: 'redonda',
    square: 'quadrada',
    zoom: 'Zoom',
    zoomValue: '{zoom} vezes',
    cropInfo: 'Mantendo {side}×{side} pixels a partir de ({x}, {y}) de {width}×{height}.',
    cropInfoScaled: 'Mantendo {side}×{side} pixels a partir de ({x}, {y}) de {width}×{height}; enviada reduzida para {sentWidth}×{sentHeight}.',
    progress: 'Progresso do envio',
    upload: 'Enviar',
    delete: 'Remover minha foto',
    chosenEditable: '{name} ({size}): mova o quadrado ou ajuste o zoom e depois clique em Enviar.',
    chosen: 'O arquivo {name} ({size}) está pronto para ser enviado.',
    preparing: 'Preparando…',
    uploading: 'Enviando…',
    stored: 'Salva: {width}×{height} {type}, {bytes} bytes.',
    removing: 'Removendo…',
    removed: 'Suas fotos foram removidas.',
    result: 'Sua foto como o visage a serve',
    no_file: 'Escolha uma imagem primeiro.',
    no_token: 'Entre primeiro: não há token de acesso.',
    network_error: 'Não foi possível contatar o visage; verifique a conexão e tente de novo.',
    http_error: 'A solicitação falhou (HTTP {status}).',
    unauthorized: 'Sua sessão expirou ou é inválida; entre novamente.',
    forbidden: 'Você não tem permissão para alterar esta foto.',
    payload_too_large: 'Este arquivo é grande demais.',
    unsupported_media_type: 'Este tipo de arquivo não é aceito: escolha uma imagem PNG, JPEG, WebP ou GIF.',
    invalid_image: 'Não foi possível ler esta imagem, ou ela é grande ou pequena demais.',
    invalid_parameter: 'O quadrado escolhido não é válido; escolha outro.',
    bad_request: 'A solicitação estava malformada; tente de novo.',
    request_timeout: 'O envio demorou demais; tente de novo.',
    too_many_requests: 'Envios demais seguidos; tente de novo em um minuto.',
    storage_unavailable: 'O armazenamento está indisponível no momento; tente mais tarde.',
    metadata_update_failed: 'A foto foi salva, mas seu perfil ainda não foi atualizado; tente de novo.',
  },
};

/** The built-in language for a BCP 47 tag: exact (any case), then by primary language, else English. */
function builtInLanguage(tag) {
  const wanted = String(tag || '').toLowerCase();
  const names = Object.keys(STRINGS);
  return names.find((name) => name.toLowerCase() === wanted)
    || names.find((name) => name.split('-')[0].toLowerCase() === wanted.split('-')[0])
    || 'en';
}

// Styles go in a constructed stylesheet: pages with a strict CSP (visage's own has no
// 'unsafe-inline') forbid <style> elements and style attributes, but not this.
const CSS = `
:host { display: block; --visage-accent: #3b5bdb; --visage-error: #c92a2a; --visage-line: #8885; }
:host([hidden]), [hidden] { display: none !important; }
* { box-sizing: border-box; }
.drop { margin: 0 0 1rem; padding: 1.25rem; text-align: center; border: 2px dashed var(--visage-line); border-radius: .5rem; }
.drop.over { border-color: var(--visage-accent); background: #3b5bdb14; }
.drop label { display: block; }
.drop input { margin-top: .5rem; max-width: 100%; }
.editor { margin: 1rem 0; padding: .75rem 1rem 1rem; border: 1px solid var(--visage-line); border-radius: .5rem; min-width: 0; }
legend { font-weight: 600; padding: 0 .25rem; }
.hint { font-size: .875rem; margin: .25rem 0 .75rem; }
.body { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
.stage { display: block; max-width: 100%; cursor: grab; touch-action: none; background: #8882; border-radius: .25rem; }
.stage.dragging { cursor: grabbing; }
:focus-visible { outline: 3px solid var(--visage-accent); outline-offset: 2px; }
.title { margin: 0 0 .25rem; font-size: .875rem; }
.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: flex-end; }
.preview { display: block; background: #8882; }
.round { border-radius: 50%; }
.zoom { display: flex; gap: .5rem; align-items: center; margin-top: .75rem; }
.zoom input { flex: 1; }
progress { display: block; width: 100%; margin-top: .75rem; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .75rem; }
button { font: inherit; padding: .4rem 1rem; border-radius: .375rem; cursor: pointer; border: 1px solid var(--visage-accent); background: var(--visage-accent); color: #fff; }
button.secondary { background: transparent; color: inherit; border-color: var(--visage-line); }
button:disabled { opacity: .6; cursor: progress; }
.error { color: var(--visage-error); font-weight: 600; }
figure { margin: 1rem 0; text-align: center; }
.frame { position: relative; margin: 0 auto .75rem; border-radius: 50%; overflow: hidden; }
.frame canvas, .frame img { position: absolute; inset: 0; width: 100%; height: 100%; margin: 0; border-radius: 50%; }
.frame canvas { filter: blur(6px); transform: scale(1.1); }
.frame img { opacity: 0; transition: opacity .2s; }
.frame img.loaded { opacity: 1; }
figcaption { font-size: .8rem; word-break: break-all; }
`;

// Text comes from the strings (data-t: text, data-label: aria-label); ids are the shadow root's own.
const TEMPLATE = `
<div class="root" part="root">
  <div id="drop" class="drop" part="drop">
    <label for="file" data-t="drop"></label>
    <input id="file" part="file-input" type="file" accept="image/png,image/jpeg,image/webp,image/gif" aria-describedby="error">
  </div>
  <fieldset id="editor" class="editor" part="editor" hidden>
    <legend data-t="legend"></legend>
    <p id="help" class="hint" data-t="help"></p>
    <div class="body">
      <canvas id="stage" class="stage" part="crop" width="320" height="240" tabindex="0" role="application" data-label="stage" aria-describedby="help crop-info"></canvas>
      <div>
        <p id="previews-title" class="title" data-t="previews"></p>
        <div class="row" role="group" aria-labelledby="previews-title">
          <canvas id="preview-large-round" class="preview round" part="preview" role="img" data-edge="size" data-shape="round"></canvas>
          <canvas id="preview-large-square" class="preview" part="preview" role="img" data-edge="size" data-shape="square"></canvas>
          <canvas id="preview-small-round" class="preview round" part="preview" role="img" data-edge="small" data-shape="round"></canvas>
          <canvas id="preview-small-square" class="preview" part="preview" role="img" data-edge="small" data-shape="square"></canvas>
        </div>
      </div>
    </div>
    <div class="zoom">
      <label for="zoom" data-t="zoom"></label>
      <input id="zoom" part="zoom" type="range" min="1" max="8" step="0.01" value="1">
    </div>
    <p id="crop-info" class="hint"></p>
  </fieldset>
  <progress id="progress" part="progress" max="100" value="0" data-label="progress" hidden>0%</progress>
  <div class="actions">
    <button id="upload" part="upload" type="button" data-t="upload"></button>
    <button id="delete" part="delete" type="button" class="secondary" data-t="delete"></button>
  </div>
  <p id="error" class="error" part="error" role="alert" hidden></p>
  <p id="status" part="status" role="status" aria-live="polite"></p>
  <figure id="result-figure" part="result" hidden>
    <div class="frame">
      <canvas id="placeholder" width="32" height="32" aria-hidden="true"></canvas>
      <img id="result">
    </div>
    <figcaption><a id="result-link" href="#"></a></figcaption>
  </figure>
</div>`;

let sheet = null;
function styleSheet() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  return sheet;
}

/** Fills `{name}` in a string (or calls a function string) with `values`. */
function fill(text, values) {
  if (typeof text === 'function') return String(text(values));
  return String(text).replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

/**
 * A failure the element shows (`message`, in the page's language) and reports as the
 * `visage-error` event's `detail`: the API's error body and HTTP status, or `{ error, message }`
 * for the element's own codes (`no_file`, `no_token`, `network_error`).
 */
class EditorError extends Error {
  constructor(code, message, detail = { error: code, message }) {
    super(message);
    this.code = code;
    this.detail = detail;
  }
}

class VisageAvatarEditor extends HTMLElement {
  static get observedAttributes() {
    return ['lang', 'size'];
  }

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [styleSheet()];
    root.innerHTML = TEMPLATE;
    this._root = root;
    this._overrides = {};
    this._chosen = null; // the File
    // The upright picture and the square: centre (cx, cy) and side, in the bitmap's pixels.
    this._picture = null; // { bitmap, width, height }
    this._crop = null; // { cx, cy, side }
    this._view = null; // { scale, ratio }: CSS px per bitmap px on the stage, device px per CSS px
    this._pointers = new Map();
    this._pinch = null;
    this._busy = false;
    this._wire();
  }

  connectedCallback() {
    // A property set before this module loaded sits on the instance and hides the accessor.
    if (Object.prototype.hasOwnProperty.call(this, 'strings')) {
      const strings = this.strings;
      delete this.strings;
      this.strings = strings;
    }
    this._onResize = () => {
      if (!this._picture) return;
      this._layoutStage();
      this._render();
    };
    window.addEventListener('resize', this._onResize);
    this._translate();
    this._sizePreviews();
  }

  disconnectedCallback() {
    window.removeEventListener('resize', this._onResize);
  }

  attributeChangedCallback(name) {
    if (name === 'lang') this._translate();
    if (name === 'size') {
      this._sizePreviews();
      this._render();
    }
  }

  /** Strings that replace the built-in ones of any language: `{ upload: 'Save' }`. */
  get strings() {
    return { ...this._overrides };
  }

  set strings(value) {
    this._overrides = value && typeof value === 'object' ? { ...value } : {};
    this._translate();
  }

  /** visage's address: the `base-url` attribute, else where this module was loaded from. */
  get baseUrl() {
    const attribute = this.getAttribute('base-url');
    const base = attribute ? new URL(attribute, document.baseURI) : new URL('./', import.meta.url);
    return base.href.replace(/\/+$/, '');
  }

  /** The preview edge in CSS pixels (`size`, 32..512, default 128). */
  get size() {
    const size = Number.parseInt(this.getAttribute('size'), 10);
    return Number.isFinite(size) && size >= SMALL_PREVIEW && size <= 512 ? size : DEFAULT_SIZE;
  }

  // --- strings ---------------------------------------------------------------------------
  /** The language shown: the `lang` attribute or the nearest ancestor's, matched to a built-in one. */
  _language() {
    const own = this.closest('[lang]');
    return builtInLanguage(own ? own.getAttribute('lang') : document.documentElement.lang);
  }

  _t(key, values = {}) {
    const language = this._language();
    const text = this._overrides[key] ?? STRINGS[language][key] ?? STRINGS.en[key] ?? key;
    return fill(text, values);
  }

  /** The words for an API error code in this language, or the API's own message. */
  _errorMessage(code, fallback) {
    const own = this._overrides[code] ?? STRINGS[this._language()][code];
    return own === undefined ? fallback : fill(own, {});
  }

  _translate() {
    const root = this._root;
    const language = this._language();
    // The shadow content says which language it is in, also when the page asked for another.
    root.querySelector('.root').setAttribute('lang', language);
    for (const node of root.querySelectorAll('[data-t]')) node.textContent = this._t(node.dataset.t);
    for (const node of root.querySelectorAll('[data-label]')) node.setAttribute('aria-label', this._t(node.dataset.label));
    this._$('result').alt = this._t('result');
    this._labelPreviews();
    this._render();
  }

  _labelPreviews() {
    for (const canvas of this._previews()) {
      const shape = this._t(canvas.dataset.shape);
      canvas.setAttribute('aria-label', this._t('preview', { size: canvas.width, shape }));
    }
  }

  // --- the parts ------------------------------------------------------------------------
  _$(id) {
    return this._root.getElementById(id);
  }

  _previews() {
    return this._root.querySelectorAll('canvas.preview');
  }

  _sizePreviews() {
    const size = this.size;
    for (const canvas of this._previews()) {
      const edge = canvas.dataset.edge === 'size' ? size : SMALL_PREVIEW;
      canvas.width = edge;
      canvas.height = edge;
      canvas.style.width = `${edge}px`;
      canvas.style.height = `${edge}px`;
    }
    const frame = this._root.querySelector('.frame');
    frame.style.width = `${size}px`;
    frame.style.height = `${size}px`;
    this._labelPreviews();
  }

  // --- messages ---------------------------------------------------------------------------
  _clearMessages() {
    const error = this._$('error');
    error.hidden = true;
    error.textContent = '';
    this._$('status').textContent = '';
  }

  /** Shows `failure` in words, moves the focus to what fixes it, and tells the page. */
  _fail(failure, focusTarget) {
    const error = this._$('error');
    error.textContent = failure.message;
    error.hidden = false;
    this._$('status').textContent = '';
    if (focusTarget) focusTarget.focus();
    // 502 metadata_update_failed: the picture is stored; show it anyway.
    const { picture, thumbhash } = failure.detail;
    if (typeof picture === 'string') this._showPicture(picture, thumbhash);
    this._emit('visage-error', failure.detail);
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  // --- the editor -------------------------------------------------------------------------
  _minSide() {
    const picture = this._picture;
    if (!picture) return 16;
    const scale = sentScale(picture.width, picture.height);
    return Math.min(Math.min(picture.width, picture.height), Math.ceil(MIN_SENT_CROP / scale));
  }

  _maxZoom() {
    const picture = this._picture;
    return picture ? Math.max(1, Math.min(picture.width, picture.height) / this._minSide()) : 1;
  }

  /** Keeps the square inside the picture and at least the minimum size. */
  _clampCrop() {
    const { width, height } = this._picture;
    const crop = this._crop;
    crop.side = Math.max(this._minSide(), Math.min(Math.min(width, height), crop.side));
    const half = crop.side / 2;
    crop.cx = Math.max(half, Math.min(width - half, crop.cx));
    crop.cy = Math.max(half, Math.min(height - half, crop.cy));
  }

  _zoom() {
    return Math.min(this._picture.width, this._picture.height) / this._crop.side;
  }

  _setZoom(zoom) {
    const z = Math.max(1, Math.min(this._maxZoom(), zoom));
    this._crop.side = Math.min(this._picture.width, this._picture.height) / z;
    this._clampCrop();
    this._render();
  }

  _moveBy(dx, dy) {
    this._crop.cx += dx;
    this._crop.cy += dy;
    this._clampCrop();
    this._render();
  }

  _layoutStage() {
    const stage = this._$('stage');
    const picture = this._picture;
    const available = Math.min(STAGE_MAX.width, stage.parentElement.clientWidth || STAGE_MAX.width);
    const scale = Math.min(available / picture.width, STAGE_MAX.height / picture.height);
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(picture.width * scale));
    const height = Math.max(1, Math.round(picture.height * scale));
    stage.width = Math.round(width * ratio);
    stage.height = Math.round(height * ratio);
    stage.style.width = `${width}px`;
    stage.style.height = `${height}px`;
    this._view = { scale, ratio };
  }

  _render() {
    const picture = this._picture;
    const crop = this._crop;
    if (!picture || !crop || !this._view) return;
    const stage = this._$('stage');
    const g = stage.getContext('2d');
    const k = this._view.scale * this._view.ratio;
    g.imageSmoothingQuality = 'high';
    g.clearRect(0, 0, stage.width, stage.height);
    g.drawImage(picture.bitmap, 0, 0, stage.width, stage.height);
    const sx = crop.cx - crop.side / 2;
    const sy = crop.cy - crop.side / 2;
    const [x, y, s] = [sx * k, sy * k, crop.side * k];
    // Dim what is cut away, then outline the square and its inscribed circle.
    g.save();
    g.fillStyle = 'rgba(0, 0, 0, 0.55)';
    g.beginPath();
    g.rect(0, 0, stage.width, stage.height);
    g.rect(x, y, s, s);
    g.fill('evenodd');
    g.lineWidth = Math.max(2, 2 * this._view.ratio);
    g.strokeStyle = '#fff';
    g.strokeRect(x, y, s, s);
    g.setLineDash([4 * this._view.ratio, 4 * this._view.ratio]);
    g.beginPath();
    g.arc(x + s / 2, y + s / 2, s / 2, 0, 2 * Math.PI);
    g.stroke();
    g.restore();
    for (const canvas of this._previews()) {
      const p = canvas.getContext('2d');
      p.imageSmoothingQuality = 'high';
      p.clearRect(0, 0, canvas.width, canvas.height);
      p.drawImage(picture.bitmap, sx, sy, crop.side, crop.side, 0, 0, canvas.width, canvas.height);
    }
    const zoom = this._$('zoom');
    zoom.max = String(this._maxZoom());
    zoom.value = String(this._zoom());
    zoom.setAttribute('aria-valuetext', this._t('zoomValue', { zoom: this._zoom().toFixed(1) }));
    const sent = this._sentCrop();
    const values = {
      side: Math.round(crop.side),
      x: Math.round(sx),
      y: Math.round(sy),
      width: picture.width,
      height: picture.height,
      sentWidth: sent.width,
      sentHeight: sent.height,
    };
    this._$('crop-info').textContent = this._t(sent.scale < 1 ? 'cropInfoScaled' : 'cropInfo', values);
    this._$('editor').dataset.crop = `${values.x},${values.y},${values.side}`;
  }

  _closeEditor() {
    if (this._picture) this._picture.bitmap.close();
    this._picture = null;
    this._crop = null;
    const editor = this._$('editor');
    editor.hidden = true;
    delete editor.dataset.ready;
  }

  async _openEditor(file) {
    // SVG stays what it is: the API refuses it, and the element shows why.
    if (file.type === 'image/svg+xml') return false;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
    } catch (_) {
      return false; // not a picture this browser decodes: sent as it is, the API decides
    }
    if (this._chosen !== file) {
      bitmap.close();
      return false;
    }
    this._picture = { bitmap, width: bitmap.width, height: bitmap.height };
    this._crop = { cx: bitmap.width / 2, cy: bitmap.height / 2, side: Math.min(bitmap.width, bitmap.height) };
    const editor = this._$('editor');
    editor.hidden = false;
    this._layoutStage();
    this._clampCrop();
    this._render();
    editor.dataset.ready = 'true';
    return true;
  }

  async _choose(file) {
    this._clearMessages();
    this._closeEditor();
    this._chosen = file || null;
    if (!file) return;
    const number = new Intl.NumberFormat(this._language(), { maximumFractionDigits: 1 });
    const size = file.size >= 1024 * 1024
      ? `${number.format(file.size / 1024 / 1024)} MB`
      : `${number.format(Math.ceil(file.size / 1024))} KiB`;
    const opened = await this._openEditor(file);
    if (this._chosen !== file) return;
    this._$('status').textContent = this._t(opened ? 'chosenEditable' : 'chosen', { name: file.name, size });
  }

  _wire() {
    const stage = this._$('stage');
    const input = this._$('file');
    const drop = this._$('drop');

    input.addEventListener('change', () => this._choose(input.files[0]));
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
      this._choose(files[0]);
    });

    // Pointer: drag with one pointer, pinch with two; the wheel zooms.
    stage.addEventListener('pointerdown', (event) => {
      if (!this._picture) return;
      stage.setPointerCapture(event.pointerId);
      this._pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      stage.classList.add('dragging');
      if (this._pointers.size === 2) {
        const [a, b] = [...this._pointers.values()];
        this._pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y) || 1, side: this._crop.side };
      }
    });
    stage.addEventListener('pointermove', (event) => {
      const last = this._pointers.get(event.pointerId);
      if (!last || !this._picture) return;
      const now = { x: event.clientX, y: event.clientY };
      this._pointers.set(event.pointerId, now);
      if (this._pointers.size >= 2 && this._pinch) {
        const [a, b] = [...this._pointers.values()];
        const distance = Math.hypot(a.x - b.x, a.y - b.y) || 1;
        this._crop.side = this._pinch.side * (this._pinch.distance / distance);
        this._clampCrop();
        this._render();
      } else if (this._pointers.size === 1) {
        this._moveBy((now.x - last.x) / this._view.scale, (now.y - last.y) / this._view.scale);
      }
    });
    const release = (event) => {
      this._pointers.delete(event.pointerId);
      if (this._pointers.size < 2) this._pinch = null;
      if (this._pointers.size === 0) stage.classList.remove('dragging');
    };
    stage.addEventListener('pointerup', release);
    stage.addEventListener('pointercancel', release);
    stage.addEventListener('wheel', (event) => {
      if (!this._picture) return;
      event.preventDefault();
      this._setZoom(this._zoom() * Math.exp(-event.deltaY / 500));
    }, { passive: false });

    stage.addEventListener('keydown', (event) => {
      const picture = this._picture;
      if (!picture) return;
      const step = Math.max(1, Math.round((event.shiftKey ? 0.1 : 0.02) * Math.min(picture.width, picture.height)));
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[event.key]) {
        this._moveBy(...moves[event.key]);
      } else if (event.key === '+' || event.key === '=') {
        this._setZoom(this._zoom() * 1.1);
      } else if (event.key === '-' || event.key === '_') {
        this._setZoom(this._zoom() / 1.1);
      } else {
        return;
      }
      event.preventDefault();
    });
    this._$('zoom').addEventListener('input', () => {
      if (this._picture) this._setZoom(Number(this._$('zoom').value));
    });

    this._$('upload').addEventListener('click', () => this.upload());
    this._$('delete').addEventListener('click', () => this.deletePicture());
  }

  // --- what is sent -----------------------------------------------------------------------
  /** The crop in the pixels of the picture that is sent: whole pixels, a square, inside it. */
  _sentCrop() {
    const { width: w, height: h } = this._picture;
    const crop = this._crop;
    const scale = sentScale(w, h);
    const width = Math.max(1, Math.round(w * scale));
    const height = Math.max(1, Math.round(h * scale));
    const side = Math.min(width, height, Math.floor(crop.side * scale));
    const x = Math.max(0, Math.min(width - side, Math.round((crop.cx - crop.side / 2) * scale)));
    const y = Math.max(0, Math.min(height - side, Math.round((crop.cy - crop.side / 2) * scale)));
    return { scale, width, height, x, y, side };
  }

  /** The file to send and its crop: the original when small, else a scaled JPEG (PNG with transparency). */
  async _prepare() {
    const chosen = this._chosen;
    const sent = this._sentCrop();
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
    g.drawImage(this._picture.bitmap, 0, 0, sent.width, sent.height);
    const transparent = chosen.type !== 'image/jpeg' && hasTransparency(g, sent.width, sent.height);
    const type = transparent ? 'image/png' : 'image/jpeg';
    const options = transparent ? { type } : { type, quality: JPEG_QUALITY };
    const blob = canvas.convertToBlob
      ? await canvas.convertToBlob(options)
      : await new Promise((resolve) => canvas.toBlob(resolve, type, options.quality));
    const name = chosen.name.replace(/\.[^.]*$/, '') + (transparent ? '.png' : '.jpg');
    return { blob, name, crop };
  }

  // --- talking to visage ------------------------------------------------------------------
  /** `Bearer …` from the page's `getToken`, or null when the page gives none (visage in dev mode). */
  async _authorization() {
    if (typeof this.getToken !== 'function') return null;
    let token;
    try {
      token = await this.getToken();
    } catch (cause) {
      const message = this._t('no_token');
      throw new EditorError('no_token', message, { error: 'no_token', message, cause });
    }
    token = typeof token === 'string' ? token.trim().replace(/^Bearer\s+/i, '') : '';
    if (!token) throw new EditorError('no_token', this._t('no_token'));
    return `Bearer ${token}`;
  }

  /** One request to visage; resolves to { status, body } (body: parsed JSON or null). */
  _send(method, authorization, payload) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, `${this.baseUrl}/v1/me/picture`);
      if (authorization) xhr.setRequestHeader('Authorization', authorization);
      xhr.responseType = 'text';
      const progress = this._$('progress');
      xhr.upload.addEventListener('progress', (event) => {
        if (!event.lengthComputable) return;
        progress.hidden = false;
        progress.value = Math.round((event.loaded / event.total) * 100);
        progress.textContent = `${progress.value}%`;
      });
      xhr.addEventListener('load', () => {
        let body = null;
        try {
          body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
        } catch (_) {
          body = null;
        }
        resolve({ status: xhr.status, body });
      });
      // Also what a page whose origin visage does not allow (server.cors_allowed_origins) sees.
      xhr.addEventListener('error', () => reject(new EditorError('network_error', this._t('network_error'))));
      xhr.send(payload);
    });
  }

  _setBusy(busy) {
    this._busy = busy;
    for (const id of ['upload', 'delete']) this._$(id).disabled = busy;
    const root = this._root.querySelector('.root');
    if (busy) root.setAttribute('aria-busy', 'true');
    else root.removeAttribute('aria-busy');
    if (!busy) this._$('progress').hidden = true;
  }

  /** The API's failure as an EditorError: its words in this language, else its own message. */
  _apiFailure(status, body) {
    const json = body && typeof body === 'object' ? body : {};
    const code = typeof json.error === 'string' ? json.error : 'http_error';
    const message = typeof json.message === 'string' ? json.message : this._t('http_error', { status });
    return new EditorError(code, this._errorMessage(code, message), { ...json, error: code, message, status });
  }

  /** Runs one request with the buttons disabled; a failure is shown, focus back on `button`. */
  async _run(button, work) {
    if (this._busy) return;
    this._clearMessages();
    try {
      this._setBusy(true);
      await work();
      this._setBusy(false);
    } catch (failure) {
      this._setBusy(false);
      if (!(failure instanceof EditorError)) throw failure;
      this._fail(failure, failure.code === 'no_file' ? this._$('file') : failure.code === 'no_token' ? null : button);
    }
  }

  /** Uploads the chosen picture with its square, as the Upload button does. */
  upload() {
    return this._run(this._$('upload'), async () => {
      const file = this._chosen;
      if (!file) throw new EditorError('no_file', this._t('no_file'));
      const authorization = await this._authorization();
      const payload = new FormData();
      const status = this._$('status');
      status.textContent = this._t('preparing');
      if (this._picture) {
        const prepared = await this._prepare();
        if (this._chosen !== file) return;
        payload.append('crop', prepared.crop);
        payload.append('picture', prepared.blob, prepared.name);
      } else {
        payload.append('picture', file, file.name);
      }
      const progress = this._$('progress');
      progress.value = 0;
      progress.hidden = false;
      status.textContent = this._t('uploading');
      const { status: code, body } = await this._send('POST', authorization, payload);
      if (code !== 201 || !body || typeof body.picture !== 'string') throw this._apiFailure(code, body);
      status.textContent = this._t('stored', {
        width: body.width,
        height: body.height,
        type: body.content_type,
        bytes: new Intl.NumberFormat(this._language()).format(body.bytes),
      });
      this._showPicture(body.picture, body.thumbhash);
      this._emit('visage-uploaded', body);
    });
  }

  /** Deletes every stored picture of the user, as the Remove button does. */
  deletePicture() {
    return this._run(this._$('delete'), async () => {
      const authorization = await this._authorization();
      this._$('status').textContent = this._t('removing');
      const { status: code, body } = await this._send('DELETE', authorization, null);
      if (code !== 204) throw this._apiFailure(code, body);
      this._$('status').textContent = this._t('removed');
      this._$('result-figure').hidden = true;
      this._emit('visage-deleted', {});
    });
  }

  // --- the stored picture, with its ThumbHash as a placeholder ----------------------------
  _showPicture(url, thumbhash) {
    const img = this._$('result');
    img.classList.remove('loaded');
    img.hidden = false;
    drawPlaceholder(this._$('placeholder'), thumbhash);
    img.onload = () => img.classList.add('loaded');
    // A picture that does not load shows the placeholder, never a broken-image icon.
    img.onerror = () => { img.hidden = true; };
    img.src = url;
    const link = this._$('result-link');
    link.href = url;
    link.textContent = url;
    this._$('result-figure').hidden = false;
  }
}

function sentScale(width, height) {
  return Math.min(1, MAX_SENT_EDGE / Math.max(width, height));
}

function hasTransparency(context, width, height) {
  const data = context.getImageData(0, 0, width, height).data;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return true;
  return false;
}

function drawPlaceholder(canvas, base64) {
  canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
  delete canvas.dataset.thumbhash;
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

// Defined once, also when two copies of the module (two URLs) are loaded on one page.
if (!customElements.get('visage-avatar-editor')) {
  customElements.define('visage-avatar-editor', VisageAvatarEditor);
}

export { VisageAvatarEditor, STRINGS };
