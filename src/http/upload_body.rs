//! The upload body: refused before reading when `Content-Length` is over the limit, cut at the
//! limit otherwise (chunked bodies); multipart (one file part, an optional `crop` field) or a
//! raw `image/*` body.

use std::cell::Cell;
use std::rc::Rc;

use actix_multipart::Multipart;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, Stream, StreamExt, TryStreamExt};

use crate::error::ApiError;

fn too_large(limit: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!("the body is larger than {limit} bytes"))
}

/// What an upload body carries: the file, and the form's `crop` text field if any.
#[derive(Debug)]
pub struct UploadBody {
    pub picture: Bytes,
    pub crop: Option<String>,
}

/// The uploaded file's bytes and form fields (public for the fuzz targets).
pub async fn read_picture(
    req: &HttpRequest,
    payload: web::Payload,
    limit: u64,
) -> Result<UploadBody, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large(limit));
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let overflowed = Rc::new(Cell::new(false));
    let body = limited(payload, limit, overflowed.clone());
    let outcome = if content_type.starts_with("multipart/form-data") {
        read_multipart(req, body).await
    } else if content_type.starts_with("image/") {
        collect(body, declared.unwrap_or(0))
            .await
            .map(|picture| UploadBody {
                picture,
                crop: None,
            })
            .map_err(|err| ApiError::BadRequest(format!("cannot read the body: {err}")))
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "send multipart/form-data with a `picture` file part, or the image with Content-Type image/*".into(),
        ));
    };
    if overflowed.get() {
        return Err(too_large(limit));
    }
    outcome
}

/// The payload, failing with `Overflow` (and raising the flag) once more than `limit` bytes came.
fn limited(
    payload: web::Payload,
    limit: u64,
    overflowed: Rc<Cell<bool>>,
) -> impl Stream<Item = Result<Bytes, PayloadError>> + 'static {
    let mut seen: u64 = 0;
    payload.map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > limit {
            overflowed.set(true);
            return Err(PayloadError::Overflow);
        }
        Ok(chunk)
    })
}

async fn collect<E>(
    stream: impl Stream<Item = Result<Bytes, E>>,
    size_hint: u64,
) -> Result<Bytes, E> {
    let mut buf = BytesMut::with_capacity(usize::try_from(size_hint).unwrap_or(0));
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        buf.extend_from_slice(&chunk?);
    }
    Ok(buf.freeze())
}

/// Exactly one file part (named `picture` or `file`, or any part carrying a file name) and an
/// optional `crop` text field; other form fields are read and ignored.
async fn read_multipart(
    req: &HttpRequest,
    body: impl Stream<Item = Result<Bytes, PayloadError>> + 'static,
) -> Result<UploadBody, ApiError> {
    // The whole body first (it is bounded by the upload limit), then the parser over bytes that
    // are all here: actix-multipart 0.7 stays pending forever on a body that ends inside a part
    // (found by fuzzing; actix-web#3202), and with nothing left to wait for, "pending" means
    // exactly that.
    let whole = collect(body, 0)
        .await
        .map_err(|err| ApiError::BadRequest(format!("cannot read the body: {err}")))?;
    // actix-multipart 0.7.2 also panics on some bodies (a line shorter than 4 bytes before the
    // first boundary when the boundary is that short; found by fuzzing). The parse is
    // synchronous, so a panic is caught here and the request answered, never the worker lost.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parse_multipart(req.headers(), whole)
    }))
    .unwrap_or_else(|_| {
        Err(ApiError::BadRequest(
            "malformed multipart body: it cannot be parsed".into(),
        ))
    })
}

/// Parses a complete multipart body without waiting: every step is ready or the body ended early.
fn parse_multipart(headers: &header::HeaderMap, whole: Bytes) -> Result<UploadBody, ApiError> {
    let malformed = |err: actix_multipart::MultipartError| {
        ApiError::BadRequest(format!("malformed multipart body: {err}"))
    };
    let ended_early = || {
        ApiError::BadRequest("malformed multipart body: it ends before its closing boundary".into())
    };
    let complete = futures_util::stream::once(std::future::ready(Ok::<_, PayloadError>(whole)));
    let mut multipart = Multipart::new(headers, complete);
    let mut file = None;
    let mut crop = None;
    while let Some(field) = multipart
        .try_next()
        .now_or_never()
        .ok_or_else(ended_early)?
        .map_err(malformed)?
    {
        let is_file = matches!(field.name(), Some("picture" | "file"))
            || field
                .content_disposition()
                .is_some_and(|cd| cd.get_filename().is_some());
        let is_crop = !is_file && field.name() == Some("crop");
        let bytes = collect(field, 0)
            .now_or_never()
            .ok_or_else(ended_early)?
            .map_err(malformed)?;
        if is_crop {
            let text = std::str::from_utf8(&bytes).map_err(|_| {
                ApiError::InvalidParameter("crop must be x,y,w,h in whole pixels".into())
            })?;
            crop = Some(text.to_owned());
        } else if is_file && file.replace(bytes).is_some() {
            return Err(ApiError::BadRequest(
                "send exactly one file part, not several".into(),
            ));
        }
    }
    let picture = file.ok_or_else(|| {
        ApiError::BadRequest("the form has no file part named `picture` or `file`".into())
    })?;
    Ok(UploadBody { picture, crop })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form_headers() -> header::HeaderMap {
        let mut headers = header::HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("multipart/form-data; boundary=XyZ"),
        );
        headers
    }

    /// A fuzz finding kept in `fuzz/regressions/upload_body/` (selector byte, then the body).
    fn regression_input(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/regressions/upload_body")
                .join(name),
        )
        .expect("regression input")
    }

    const FORM: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNGBYTES\r\n--XyZ\r\nContent-Disposition: form-data; name=\"crop\"\r\n\r\n1,2,30,30\r\n--XyZ--\r\n";

    #[test]
    fn a_complete_form_gives_its_file_and_crop() {
        let body = parse_multipart(&form_headers(), Bytes::from_static(FORM)).expect("parsed");
        assert_eq!(&body.picture[..], b"PNGBYTES");
        assert_eq!(body.crop.as_deref(), Some("1,2,30,30"));
    }

    #[test]
    fn the_fuzzed_body_that_hung_the_reader_is_a_400_at_once() {
        let input = regression_input("hang-multipart-d47e16a9");
        // The first byte is the fuzz target's selector; the rest is the body it sent.
        let err = parse_multipart(&form_headers(), Bytes::from(input[1..].to_vec()))
            .expect_err("a body without its closing boundary");
        assert!(
            matches!(&err, ApiError::BadRequest(msg) if msg.contains("closing boundary")),
            "{err:?}"
        );
    }

    #[test]
    fn the_fuzzed_body_that_panicked_the_parser_is_a_400() {
        let input = regression_input("crash-short-boundary-8bb57e36");
        // Selector 4: boundary `XyZ`, no Content-Length.
        let req = actix_web::test::TestRequest::post()
            .insert_header((header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ"))
            .to_http_request();
        let whole = Bytes::from(input[1..].to_vec());
        let body = futures_util::stream::once(std::future::ready(Ok::<_, PayloadError>(whole)));
        let outcome = actix_web::rt::System::new().block_on(read_multipart(&req, body));
        assert!(
            matches!(&outcome, Err(ApiError::BadRequest(msg)) if msg.contains("multipart")),
            "{outcome:?}"
        );
    }

    #[test]
    fn every_truncation_of_a_form_is_an_error_never_a_wait() {
        // Cut anywhere before the closing boundary's end: each is answered, none is accepted
        // with a partial file.
        let complete_until = FORM.len() - b"--\r\n".len();
        for cut in 0..complete_until {
            let body = Bytes::copy_from_slice(&FORM[..cut]);
            if let Ok(parsed) = parse_multipart(&form_headers(), body) {
                assert_eq!(&parsed.picture[..], b"PNGBYTES", "cut at {cut}");
            }
        }
    }
}
