//! A local stand-in for Gravatar: behaviour chosen by the hash's first hex digit, pictures drawn
//! at the asked `s` (default 80) like Gravatar's, `f=y` answered with the built-in default,
//! requests counted per hash, and a second server that a redirect points at (it must see no
//! request).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;

/// What the stand-in does for a hash, by its first hex digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// `a…`: 200 with [`picture`].
    Picture,
    /// `b…`: the same picture after 300 ms (so that concurrent misses overlap).
    SlowPicture,
    /// `c…`: 302 to the second server.
    Redirect,
    /// `d…`: 200 with a 5 MiB body that starts like a PNG, streamed without a length.
    Huge,
    /// `e…`: sleeps 8 s before answering.
    Sleep,
    /// `f…`: 500.
    Error,
    /// `9…`: 200 with [`jpeg_picture`].
    JpegPicture,
    /// Anything else: 404 with `d=404`, else the built-in default picture.
    Unknown,
}

impl Behaviour {
    fn digit(self) -> char {
        match self {
            Self::Picture => 'a',
            Self::SlowPicture => 'b',
            Self::Redirect => 'c',
            Self::Huge => 'd',
            Self::Sleep => 'e',
            Self::Error => 'f',
            Self::JpegPicture => '9',
            Self::Unknown => '1',
        }
    }

    fn of(hash: &str) -> Self {
        match hash.chars().next() {
            Some('a') => Self::Picture,
            Some('b') => Self::SlowPicture,
            Some('c') => Self::Redirect,
            Some('d') => Self::Huge,
            Some('e') => Self::Sleep,
            Some('f') => Self::Error,
            Some('9') => Self::JpegPicture,
            _ => Self::Unknown,
        }
    }
}

/// A 64-digit hash with that behaviour, distinct per `n`.
pub fn hash(behaviour: Behaviour, n: u32) -> String {
    format!("{}{n:063x}", behaviour.digit())
}

/// The colour of every Gravatar the stand-in serves.
pub const PICTURE_RGB: [u8; 3] = [200, 30, 90];
/// The colour of its built-in defaults (`d=mp`, `f=y`, ...).
pub const BUILT_IN_RGB: [u8; 3] = [10, 10, 10];
/// The edge Gravatar answers without `s`.
pub const UPSTREAM_DEFAULT_SIZE: u32 = 80;

fn solid(size: u32, rgb: [u8; 3], format: image::ImageFormat) -> Bytes {
    let img = image::RgbImage::from_pixel(size, size, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    Bytes::from(out.into_inner())
}

/// The PNG the stand-in serves for a Gravatar at edge `size`.
pub fn picture(size: u32) -> Bytes {
    solid(size, PICTURE_RGB, image::ImageFormat::Png)
}

/// The JPEG it serves for a `9…` hash at edge `size`.
pub fn jpeg_picture(size: u32) -> Bytes {
    solid(size, PICTURE_RGB, image::ImageFormat::Jpeg)
}

/// The PNG it serves for a built-in default (`d=mp`, ...) at edge `size`.
pub fn built_in_picture(size: u32) -> Bytes {
    solid(size, BUILT_IN_RGB, image::ImageFormat::Png)
}

/// `name`'s value in a query string.
fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

#[derive(Clone, Default)]
pub struct GravatarState {
    /// Requests per hash (the path's last segment).
    pub requests: Arc<Mutex<HashMap<String, usize>>>,
    /// Every query string received, in order.
    pub queries: Arc<Mutex<Vec<String>>>,
    /// When set, every request answers 500.
    pub failing: Arc<AtomicBool>,
    /// Requests the redirect target received.
    pub redirect_target_requests: Arc<AtomicUsize>,
    redirect_target: Arc<Mutex<String>>,
}

pub struct FakeGravatar {
    /// `http://127.0.0.1:PORT/avatar/`, as `gravatar.base_url` wants it.
    pub base_url: String,
    pub state: GravatarState,
    handles: Vec<actix_web::dev::ServerHandle>,
}

impl FakeGravatar {
    #[allow(clippy::unused_async)] // async like every other start-up in the tests
    pub async fn start() -> Self {
        let state = GravatarState::default();
        let counter = state.redirect_target_requests.clone();
        let (target_addr, target) = super::spawn_standin(1, move |cfg| {
            let counter = counter.clone();
            cfg.default_service(web::to(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async {
                    HttpResponse::Ok()
                        .content_type("image/png")
                        .body(picture(8))
                }
            }));
        });
        *state.redirect_target.lock().expect("lock") =
            format!("http://{target_addr}/elsewhere.png");
        let shared = state.clone();
        let (addr, server) = super::spawn_standin(2, move |cfg| {
            cfg.app_data(web::Data::new(shared.clone()))
                .route("/avatar/{hash}", web::get().to(avatar));
        });
        let handles = vec![server, target];
        Self {
            base_url: format!("http://{addr}/avatar/"),
            state,
            handles,
        }
    }

    /// Upstream requests seen for `hash`.
    pub fn requests(&self, hash: &str) -> usize {
        self.state
            .requests
            .lock()
            .expect("lock")
            .get(hash)
            .copied()
            .unwrap_or(0)
    }

    pub fn total_requests(&self) -> usize {
        self.state.requests.lock().expect("lock").values().sum()
    }

    pub fn queries(&self) -> Vec<String> {
        self.state.queries.lock().expect("lock").clone()
    }

    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    pub async fn stop(self) {
        for handle in self.handles {
            handle.stop(false).await;
        }
    }
}

async fn avatar(req: HttpRequest, state: web::Data<GravatarState>) -> HttpResponse {
    let hash = req.match_info().query("hash").to_owned();
    *state
        .requests
        .lock()
        .expect("lock")
        .entry(hash.clone())
        .or_default() += 1;
    state
        .queries
        .lock()
        .expect("lock")
        .push(req.query_string().to_owned());
    if state.failing.load(Ordering::SeqCst) {
        return HttpResponse::InternalServerError().finish();
    }
    let query = req.query_string();
    let size = param(query, "s")
        .and_then(|s| s.parse().ok())
        .unwrap_or(UPSTREAM_DEFAULT_SIZE);
    let png = || {
        HttpResponse::Ok()
            .content_type("image/png")
            .body(picture(size))
    };
    let built_in = || {
        HttpResponse::Ok()
            .content_type("image/png")
            .body(built_in_picture(size))
    };
    // Gravatar's forcedefault: the default, even for a hash that has a picture.
    if param(query, "f") == Some("y") {
        return if param(query, "d") == Some("404") {
            HttpResponse::NotFound().finish()
        } else {
            built_in()
        };
    }
    match Behaviour::of(&hash) {
        Behaviour::Picture => png(),
        Behaviour::SlowPicture => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            png()
        }
        Behaviour::Redirect => {
            let target = state.redirect_target.lock().expect("lock").clone();
            HttpResponse::Found()
                .insert_header(("location", target))
                .finish()
        }
        Behaviour::Huge => {
            let chunk = {
                let mut first = picture(8).to_vec();
                first.resize(64 * 1024, 0);
                Bytes::from(first)
            };
            let chunks = (0..80).map(move |_| Ok::<_, actix_web::Error>(chunk.clone()));
            HttpResponse::Ok()
                .content_type("image/png")
                .streaming(futures_util::stream::iter(chunks))
        }
        Behaviour::Sleep => {
            tokio::time::sleep(Duration::from_secs(8)).await;
            png()
        }
        Behaviour::Error => HttpResponse::InternalServerError().finish(),
        Behaviour::JpegPicture => HttpResponse::Ok()
            .content_type("image/jpeg")
            .body(jpeg_picture(size)),
        Behaviour::Unknown => {
            if param(query, "d") == Some("404") {
                HttpResponse::NotFound().finish()
            } else {
                built_in()
            }
        }
    }
}
