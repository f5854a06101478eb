//! The source-picture port: where `visage import` reads a user's existing picture (a URL on an
//! allowed host, or a local file named in a CSV), and the host allow-list every fetch obeys.

use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use url::Url;

use crate::vocabulary::url::is_loopback_url;

/// Where one user's existing picture is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Url(Url),
    /// A local file (from a CSV `source`), already resolved against the CSV's folder.
    File(PathBuf),
}

/// Why a URL may not be fetched: checked before the first request and before every redirect.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostRefusal {
    #[error("only https:// URLs are fetched (http:// only from a loopback host), not {0}:")]
    Scheme(String),
    #[error("plain http:// is refused for {0}, which is not a loopback host")]
    PlainHttp(String),
    #[error("{0} is not an allowed host (--allow-host)")]
    NotAllowed(String),
}

/// `--allow-host` patterns: `HOST` (any port), `HOST:PORT`, or `*.DOMAIN` (its subdomains).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedHosts(Vec<HostPattern>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    Host { host: String, port: Option<u16> },
    Subdomains(String),
}

#[derive(Debug, thiserror::Error)]
#[error("--allow-host {0:?} is not a host name, HOST:PORT or *.DOMAIN")]
pub struct BadHostPattern(pub String);

impl AllowedHosts {
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, BadHostPattern> {
        patterns
            .iter()
            .map(|pattern| HostPattern::parse(pattern.as_ref()))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `url` may be fetched: https (http only for a loopback host) on an allowed host.
    pub fn check(&self, url: &Url) -> Result<(), HostRefusal> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        match url.scheme() {
            "https" => {}
            "http" if is_loopback_url(url.as_str()) => {}
            "http" => return Err(HostRefusal::PlainHttp(host)),
            other => return Err(HostRefusal::Scheme(other.to_owned())),
        }
        let port = url.port_or_known_default();
        if self.0.iter().any(|pattern| pattern.matches(&host, port)) {
            Ok(())
        } else {
            Err(HostRefusal::NotAllowed(host))
        }
    }
}

impl HostPattern {
    fn parse(text: &str) -> Result<Self, BadHostPattern> {
        let bad = || BadHostPattern(text.to_owned());
        let lower = text.trim().to_ascii_lowercase();
        if let Some(domain) = lower.strip_prefix("*.") {
            let parsed = Url::parse(&format!("https://{domain}/")).map_err(|_| bad())?;
            return match parsed.host_str() {
                Some(host) if host == domain && host.contains('.') => {
                    Ok(Self::Subdomains(host.to_owned()))
                }
                _ => Err(bad()),
            };
        }
        // Parsed as a URL's authority, so `[::1]:8080`, IDNs and upper case come out as a
        // fetched URL's host does.
        let parsed = Url::parse(&format!("https://{lower}/")).map_err(|_| bad())?;
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(bad)?;
        if parsed.path() != "/" || !parsed.username().is_empty() || text.contains(['/', '?', '#']) {
            return Err(bad());
        }
        let explicit_port = lower.rsplit_once(':').is_some_and(|(_, p)| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !lower.ends_with(']')
        });
        let port = if explicit_port {
            // `https://h:443/` reports no port: 443 was given, and it is https' default.
            Some(parsed.port_or_known_default().ok_or_else(bad)?)
        } else {
            None
        };
        Ok(Self::Host {
            host: host.to_owned(),
            port,
        })
    }

    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        match self {
            Self::Host {
                host: allowed,
                port: allowed_port,
            } => allowed == host && allowed_port.is_none_or(|p| Some(p) == port),
            Self::Subdomains(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|label| label.len() > 1 && label.ends_with('.')),
        }
    }
}

/// Why a source picture could not be read. Messages name hosts, never whole URLs: a presigned
/// URL's query is a credential.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Refused(HostRefusal),
    /// A redirect to another host, or to a URL the allow-list refuses: never followed.
    #[error("redirected to {to}, which is not followed: {why}")]
    RedirectRefused { to: String, why: String },
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("{host} answered {status}")]
    Status { host: String, status: u16 },
    #[error("the picture is larger than {limit} bytes (limits.max_upload_bytes)")]
    TooLarge { limit: u64 },
    #[error("no whole answer within {secs} s (import.fetch_timeout_secs)")]
    TimedOut { secs: u64 },
    #[error("{host} could not be reached: {cause}")]
    Unreachable { host: String, cause: String },
    #[error("cannot read {path}: {cause}")]
    File { path: String, cause: String },
}

#[async_trait]
pub trait PictureSource: Send + Sync {
    /// The picture's bytes, at most `limits.max_upload_bytes` of them, within the time bound.
    async fn fetch(&self, source: &Source) -> Result<Bytes, FetchError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(patterns: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(patterns).expect("patterns")
    }

    fn check(hosts: &AllowedHosts, url: &str) -> Result<(), HostRefusal> {
        hosts.check(&Url::parse(url).expect("url"))
    }

    #[test]
    fn hosts_ports_and_subdomains() {
        let hosts = allowed(&["legacy.example.com", "CDN.Example.net:8443", "*.s3.example"]);
        assert_eq!(check(&hosts, "https://legacy.example.com/a.jpg"), Ok(()));
        assert_eq!(
            check(&hosts, "https://LEGACY.example.com:444/a.jpg"),
            Ok(())
        );
        assert_eq!(check(&hosts, "https://cdn.example.net:8443/a"), Ok(()));
        assert_eq!(check(&hosts, "https://bucket.s3.example/k"), Ok(()));
        for (url, host) in [
            ("https://cdn.example.net/a", "cdn.example.net"),
            ("https://s3.example/k", "s3.example"),
            ("https://evils3.example/k", "evils3.example"),
            (
                "https://legacy.example.com.evil.example/",
                "legacy.example.com.evil.example",
            ),
            ("https://legacy.example.com@evil.example/", "evil.example"),
        ] {
            assert_eq!(
                check(&hosts, url),
                Err(HostRefusal::NotAllowed(host.into())),
                "{url}"
            );
        }
    }

    #[test]
    fn plain_http_only_from_loopback() {
        let hosts = allowed(&["127.0.0.1", "legacy.example.com", "[::1]", "localhost"]);
        assert_eq!(check(&hosts, "http://127.0.0.1:8080/a.jpg"), Ok(()));
        assert_eq!(check(&hosts, "http://[::1]:8080/a.jpg"), Ok(()));
        assert_eq!(check(&hosts, "http://localhost/a.jpg"), Ok(()));
        assert_eq!(
            check(&hosts, "http://legacy.example.com/a.jpg"),
            Err(HostRefusal::PlainHttp("legacy.example.com".into()))
        );
        assert_eq!(
            check(&hosts, "ftp://legacy.example.com/a.jpg"),
            Err(HostRefusal::Scheme("ftp".into()))
        );
        assert_eq!(
            check(&hosts, "file:///etc/passwd"),
            Err(HostRefusal::Scheme("file".into()))
        );
    }

    #[test]
    fn an_empty_list_allows_nothing_and_bad_patterns_are_refused() {
        assert!(check(&AllowedHosts::default(), "https://example.com/").is_err());
        for bad in [
            "",
            "https://example.com",
            "example.com/path",
            "*.com",
            "a@b",
            "h:port",
        ] {
            assert!(AllowedHosts::parse(&[bad]).is_err(), "{bad:?}");
        }
    }
}
