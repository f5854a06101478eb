// <VisageAvatarEditor>: visage's <visage-avatar-editor> as a React component (React 18 and 19).
// The element comes from visage itself (GET /editor.js); the token function and the strings are
// handed over as properties, the events as callbacks that receive the event's `detail`.
import { useEffect, useRef } from 'react';

/**
 * @param {object} props
 * @param {string} props.baseUrl visage's address, e.g. "https://avatars.example.com"
 * @param {() => Promise<string>} props.getToken an access token for visage's API
 * @param {string} [props.lang] "en", "fr", "de", "es", "ja", "pt-BR"… (default: the page's)
 * @param {number} [props.size] the large previews' edge in pixels (default 128)
 * @param {object} [props.strings] words that replace the built-in ones, e.g. { upload: "Save" }
 * @param {(body: object) => void} [props.onUploaded] visage's 201 answer: picture, key, width…
 * @param {() => void} [props.onDeleted]
 * @param {(error: {error: string, message: string}) => void} [props.onError]
 */
export default function VisageAvatarEditor({
  baseUrl, getToken, lang, size, strings, onUploaded, onDeleted, onError,
}) {
  const ref = useRef(null);

  // The module defines the element once per page, whichever component asks first. The comments
  // keep bundlers (webpack, Vite) from trying to bundle a URL that only the browser can load.
  useEffect(() => {
    import(/* webpackIgnore: true */ /* @vite-ignore */ `${baseUrl.replace(/\/+$/, '')}/editor.js`);
  }, [baseUrl]);

  // A function and an object are properties, not attributes.
  useEffect(() => {
    ref.current.getToken = getToken;
  }, [getToken]);
  useEffect(() => {
    ref.current.strings = strings || {};
  }, [strings]);

  useEffect(() => {
    const element = ref.current;
    const listeners = [
      ['visage-uploaded', onUploaded],
      ['visage-deleted', onDeleted],
      ['visage-error', onError],
    ]
      .filter(([, callback]) => callback)
      .map(([type, callback]) => [type, (event) => callback(event.detail)]);
    listeners.forEach(([type, listener]) => element.addEventListener(type, listener));
    return () => listeners.forEach(([type, listener]) => element.removeEventListener(type, listener));
  }, [onUploaded, onDeleted, onError]);

  return <visage-avatar-editor ref={ref} base-url={baseUrl} lang={lang} size={size} />;
}
