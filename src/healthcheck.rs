//! `visage healthcheck [--ready]`: one GET of this instance's `/healthz` (`/readyz`), exit 0 or 1.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::settings::{Settings, SettingsError};

/// Connecting, sending and reading the status line each get this long: a health check that
/// hangs is a failed one, and container runtimes count their own, longer, timeout.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The status line is all we read; a longer answer is cut here.
const MAX_HEAD: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("{0}")]
    Settings(#[from] SettingsError),
    #[error("cannot reach {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} at {addr}: {source}")]
    Exchange {
        path: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} at {addr} answered something that is not HTTP/1.x")]
    NotHttp {
        path: &'static str,
        addr: SocketAddr,
    },
    #[error("{path} at {addr} answered {status}")]
    Status {
        path: &'static str,
        addr: SocketAddr,
        status: u16,
    },
}

/// What a passing check saw, for the one line it prints.
#[derive(Debug)]
pub struct Healthy {
    pub path: &'static str,
    pub addr: SocketAddr,
    pub status: u16,
}

/// One `GET /healthz` (or `/readyz` when `ready`) to `server.bind`; Ok on a 2xx.
pub fn check(settings: &Settings, ready: bool) -> Result<Healthy, HealthcheckError> {
    let addr = reachable(settings.bind_addr()?);
    let path = if ready { "/readyz" } else { "/healthz" };
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .map_err(|source| HealthcheckError::Connect { addr, source })?;
    let status = exchange(&mut stream, addr, path)
        .map_err(|source| HealthcheckError::Exchange { path, addr, source })?
        .ok_or(HealthcheckError::NotHttp { path, addr })?;
    if (200..300).contains(&status) {
        Ok(Healthy { path, addr, status })
    } else {
        Err(HealthcheckError::Status { path, addr, status })
    }
}

/// A wildcard bind (`0.0.0.0`, `[::]`) listens on loopback too, and only loopback is sure to
/// reach it from inside the container.
fn reachable(bind: SocketAddr) -> SocketAddr {
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bind.port())
}

/// Sends the request and returns the status code of the answer; `None` when the answer does
/// not start with an HTTP/1.x status line.
fn exchange(stream: &mut TcpStream, addr: SocketAddr, path: &str) -> std::io::Result<Option<u16>> {
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: visage-healthcheck\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut head = Vec::with_capacity(128);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < MAX_HEAD {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(status_code(&head))
}

/// `HTTP/1.1 200 OK` → 200.
fn status_code(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_ascii_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_binds_are_asked_on_loopback() {
        let v4: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(reachable(v4), "127.0.0.1:8080".parse().unwrap());
        let v6: SocketAddr = "[::]:8080".parse().unwrap();
        assert_eq!(reachable(v6), "[::1]:8080".parse().unwrap());
        let own: SocketAddr = "10.1.2.3:8080".parse().unwrap();
        assert_eq!(reachable(own), own);
    }

    #[test]
    fn only_an_http_status_line_counts() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(
            status_code(b"HTTP/1.0 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(status_code(b"SSH-2.0-OpenSSH_9.2\r\n"), None);
        assert_eq!(status_code(b"HTTP/1.1 2000 OK\r\n"), None);
        assert_eq!(status_code(b""), None);
    }
}
