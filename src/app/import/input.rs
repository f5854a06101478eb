//! Reads `visage import`'s input: an Auth0 export (JSON Lines or a JSON array, gzipped as
//! Auth0 serves it or not) or a `user_id,source` CSV, told apart by their first bytes. A file
//! that is not wholly readable is refused before any user is touched, with its line.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::domain::import::{Candidate, ExportedUser, PictureField};

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is gzipped but cannot be unpacked")]
    Gzip {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}, line {line}: not an Auth0 user object with a user_id")]
    Json {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{path}: neither an Auth0 export (JSON) nor a CSV with the header user_id,source (found {found:?})"
    )]
    CsvHeader { path: PathBuf, found: String },
    #[error("{path}: unreadable CSV")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("{path}, line {line}: empty user_id")]
    EmptyUserId { path: PathBuf, line: u64 },
}

/// Every user of the file, in its order.
pub(super) fn read(path: &Path, field: PictureField) -> Result<Vec<Candidate>, InputError> {
    let raw = std::fs::read(path).map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut unpacked = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut unpacked)
            .map_err(|source| InputError::Gzip {
                path: path.to_owned(),
                source,
            })?;
        unpacked
    } else {
        raw
    };
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => json_array(path, text, field),
        Some(b'{') => json_lines(path, text, field),
        _ => csv_rows(path, text),
    }
}

fn json_array(path: &Path, text: &[u8], field: PictureField) -> Result<Vec<Candidate>, InputError> {
    let users: Vec<ExportedUser> =
        serde_json::from_slice(text).map_err(|source| InputError::Json {
            path: path.to_owned(),
            line: source.line(),
            source,
        })?;
    users
        .into_iter()
        .enumerate()
        .map(|(index, user)| checked(path, index as u64 + 1, user, field))
        .collect()
}

fn json_lines(path: &Path, text: &[u8], field: PictureField) -> Result<Vec<Candidate>, InputError> {
    let mut users = Vec::new();
    for (index, line) in text.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let user: ExportedUser =
            serde_json::from_slice(line).map_err(|source| InputError::Json {
                path: path.to_owned(),
                line: index + 1,
                source,
            })?;
        users.push(checked(path, index as u64 + 1, user, field)?);
    }
    Ok(users)
}

fn checked(
    path: &Path,
    line: u64,
    user: ExportedUser,
    field: PictureField,
) -> Result<Candidate, InputError> {
    if user.user_id.trim().is_empty() {
        return Err(InputError::EmptyUserId {
            path: path.to_owned(),
            line,
        });
    }
    Ok(Candidate::from_export(user, field))
}

/// `user_id,source` (other columns ignored); relative paths are read from the CSV's folder.
fn csv_rows(path: &Path, text: &[u8]) -> Result<Vec<Candidate>, InputError> {
    let csv_error = |source| InputError::Csv {
        path: path.to_owned(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text);
    let headers = reader.headers().map_err(csv_error)?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(id_at), Some(source_at)) = (column("user_id"), column("source")) else {
        return Err(InputError::CsvHeader {
            path: path.to_owned(),
            found: headers.iter().collect::<Vec<_>>().join(","),
        });
    };
    let folder = path
        .canonicalize()
        .ok()
        .and_then(|full| full.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, csv::Position::line);
        let user_id = record.get(id_at).unwrap_or_default();
        if user_id.is_empty() {
            return Err(InputError::EmptyUserId {
                path: path.to_owned(),
                line,
            });
        }
        let source = record.get(source_at).filter(|s| !s.is_empty());
        rows.push(Candidate {
            user_id: user_id.to_owned(),
            picture: source.map(str::to_owned),
            files_from: Some(folder.clone()),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(name: &str, bytes: &[u8]) -> Result<Vec<Candidate>, InputError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        read(&path, PictureField::UserMetadata)
    }

    #[test]
    fn lines_arrays_gzip_and_csv_read_the_same_users() {
        let lines = b"{\"user_id\":\"auth0|1\",\"picture\":\"https://a/1.jpg\"}\n\n{\"user_id\":\"auth0|2\",\"user_metadata\":{\"picture\":\"https://a/2.jpg\"}}\n";
        let array = br#"[{"user_id":"auth0|1","picture":"https://a/1.jpg"},
            {"user_id":"auth0|2","user_metadata":{"picture":"https://a/2.jpg"}}]"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, lines).expect("gzip");
        let gzipped = gz.finish().expect("gzip");
        let expected: Vec<(String, Option<String>)> = vec![
            ("auth0|1".into(), Some("https://a/1.jpg".into())),
            ("auth0|2".into(), Some("https://a/2.jpg".into())),
        ];
        for (name, bytes) in [
            ("users.json", &lines[..]),
            ("users-array.json", &array[..]),
            ("tenant.json.gz", &gzipped[..]),
            (
                "users.csv",
                &b"user_id,source\nauth0|1,https://a/1.jpg\n\"auth0|2\",\"https://a/2.jpg\"\n"[..],
            ),
        ] {
            let users = read_text(name, bytes).expect(name);
            let got: Vec<(String, Option<String>)> =
                users.into_iter().map(|c| (c.user_id, c.picture)).collect();
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn a_bad_file_is_refused_with_its_line() {
        let err = read_text("bad.json", b"{\"user_id\":\"a\"}\n{\"email\":\"x\"}\n")
            .expect_err("no user_id");
        assert!(matches!(err, InputError::Json { line: 2, .. }), "{err:?}");
        let err = read_text("bad.csv", b"id,picture\na,b\n").expect_err("header");
        assert!(matches!(err, InputError::CsvHeader { .. }), "{err:?}");
        let err = read_text("bad.csv", b"user_id,source\na,b\n,c\n").expect_err("empty id");
        assert!(
            matches!(err, InputError::EmptyUserId { line: 3, .. }),
            "{err:?}"
        );
    }
}
