//! The one encoded-picture type that every image route serves, and the one policy for formats
//! too slow to wait for: serve a stand-in now, encode the real one in the background.

use std::future::Future;

use bytes::Bytes;
use bytestring::ByteString;

use crate::domain::cache::Weighed;
use crate::vocabulary::{ErrorChain, Format};

/// Largest square edge whose AVIF is encoded while a client waits (a few tens of ms on one core
/// of a 2-core Xeon, `bench/formats.sh`); larger ones are encoded in the background while WebP
/// stands in (see [`stand_in`]).
pub const AVIF_INTERACTIVE_MAX_EDGE: u32 = 192;

/// Encoded picture bytes with their HTTP identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedPicture {
    pub bytes: Bytes,
    pub format: Format,
    /// Quoted strong ETag, in shared bytes: serving it from a cache hit copies nothing.
    pub etag: ByteString,
    /// A stand-in served while the asked format is encoded in the background: downstream caches
    /// keep it only briefly. Never true in a cache.
    pub provisional: bool,
}

impl EncodedPicture {
    /// A final picture.
    pub fn new(bytes: Bytes, format: Format, etag: impl Into<ByteString>) -> Self {
        Self {
            bytes,
            format,
            etag: etag.into(),
            provisional: false,
        }
    }
}

impl Weighed for EncodedPicture {
    fn heap_bytes(&self) -> usize {
        self.bytes.len() + self.etag.len()
    }
}

/// What to serve while a slow encode of `format` at `edge` runs in the background; `None` when
/// it is quick enough to wait for.
pub fn stand_in(format: Format, edge: u32) -> Option<Format> {
    (format == Format::Avif && edge > AVIF_INTERACTIVE_MAX_EDGE).then_some(Format::Webp)
}

/// The picture in `format` at `edge`: made `now` when it is `ready` (already cached) or quick
/// enough to wait for; otherwise the stand-in made `now`, marked provisional, while `later`
/// makes the real one in the background (once however many requests come meanwhile: the
/// caller's cache loads each picture once). `ready` and `later` run only for slow formats, so a
/// cache hit pays for neither.
pub async fn now_or_stand_in<E, Now, NowFut, Later, LaterFut>(
    format: Format,
    edge: u32,
    ready: impl FnOnce() -> bool,
    now: Now,
    later: Later,
) -> Result<EncodedPicture, E>
where
    Now: FnOnce(Format) -> NowFut,
    NowFut: Future<Output = Result<EncodedPicture, E>>,
    Later: FnOnce() -> LaterFut,
    LaterFut: Future<Output = Result<EncodedPicture, E>> + Send + 'static,
    E: std::error::Error + Send + 'static,
{
    let Some(instead) = stand_in(format, edge).filter(|_| !ready()) else {
        return now(format).await;
    };
    let background = later();
    tokio::spawn(async move {
        if let Err(error) = background.await {
            tracing::warn!(error = %ErrorChain(&error), %format, edge, "background encode failed");
        }
    });
    let mut picture = now(instead).await?;
    picture.provisional = true;
    Ok(picture)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn only_large_avif_needs_a_stand_in() {
        assert_eq!(stand_in(Format::Avif, 512), Some(Format::Webp));
        assert_eq!(
            stand_in(Format::Avif, AVIF_INTERACTIVE_MAX_EDGE + 1),
            Some(Format::Webp)
        );
        assert_eq!(stand_in(Format::Avif, AVIF_INTERACTIVE_MAX_EDGE), None);
        assert_eq!(stand_in(Format::Webp, 1024), None);
        assert_eq!(stand_in(Format::Jpeg, 1024), None);
    }

    #[derive(Debug, thiserror::Error)]
    #[error("never fails")]
    struct Never;

    /// A picture named by its format, and a record of what was asked.
    fn encoded(
        asked: &Mutex<Vec<Format>>,
        format: Format,
    ) -> std::future::Ready<Result<EncodedPicture, Never>> {
        asked.lock().expect("lock").push(format);
        std::future::ready(Ok(EncodedPicture::new(Bytes::new(), format, "\"x\"")))
    }

    async fn serve(
        format: Format,
        edge: u32,
        ready: bool,
        asked: &Arc<Mutex<Vec<Format>>>,
    ) -> EncodedPicture {
        let background = asked.clone();
        now_or_stand_in(
            format,
            edge,
            || ready,
            |format| encoded(asked, format),
            move || encoded(&background, format),
        )
        .await
        .expect("served")
    }

    #[tokio::test]
    async fn a_slow_format_not_ready_stands_in_and_is_encoded_in_the_background() {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let picture = serve(Format::Avif, 512, false, &asked).await;
        assert_eq!((picture.format, picture.provisional), (Format::Webp, true));
        tokio::task::yield_now().await;
        let mut asked = asked.lock().expect("lock").clone();
        asked.sort();
        assert_eq!(asked, vec![Format::Webp, Format::Avif]);
    }

    #[tokio::test]
    async fn a_ready_or_quick_format_is_served_as_asked() {
        for (format, edge, ready) in [
            (Format::Avif, 512, true),
            (Format::Avif, 128, false),
            (Format::Webp, 1024, false),
        ] {
            let asked = Arc::new(Mutex::new(Vec::new()));
            let picture = serve(format, edge, ready, &asked).await;
            assert_eq!((picture.format, picture.provisional), (format, false));
            assert_eq!(*asked.lock().expect("lock"), vec![format]);
        }
    }

    #[test]
    fn a_picture_weighs_its_bytes_and_its_etag() {
        let picture = EncodedPicture::new(Bytes::from(vec![0u8; 1000]), Format::Png, "\"abcdef\"");
        assert_eq!(picture.heap_bytes(), 1000 + 8);
    }
}
