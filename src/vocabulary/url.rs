//! URLs and browser origins that name this machine (dev mode's loopback rule).

/// Whether `url` (an `http(s)://` URL or a browser `Origin`) names this machine: `localhost`,
/// `127.0.0.0/8` or `[::1]`, with any port and path.
pub fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false; // userinfo: `http://127.0.0.1@evil.example` is not loopback
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, after)) if after.is_empty() || after.starts_with(':') => host,
            _ => return false,
        },
        None => authority.split(':').next().unwrap_or_default(),
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls() {
        for yes in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "https://LOCALHOST:3000/x",
            "http://127.1.2.3",
            "http://[::1]:8080/",
        ] {
            assert!(is_loopback_url(yes), "{yes}");
        }
        for no in [
            "http://example.com",
            "https://127.0.0.1.evil.example",
            "http://127.0.0.1@evil.example",
            "http://localhost.evil.example",
            "http://[::1].evil.example",
            "http://10.0.0.1",
            "null",
            "file:///tmp/x.html",
            "",
        ] {
            assert!(!is_loopback_url(no), "{no}");
        }
    }
}
