//! What `/upload` answers once it has read the body: who took it (the host name, `--name`), its
//! size, its CRC-32, and how long it took from the head's arrival to the body's end. Pure, as
//! `echo`: the caller gives every fact.
//!
//! Text: one logfmt line, `size=1048576 crc32=3610a686 seconds=0.012345 hostname=web-1`.
//! JSON: `{"hostname": "web-1", "name": null, "size": 1048576, "crc32": "3610a686",
//! "seconds": 0.012345}`.

use std::time::Duration;

use crate::echo::{Format, push_json_string, push_logfmt_value};

/// An upload received.
pub struct Upload<'a> {
    pub hostname: &'a [u8],
    pub name: Option<&'a str>,
    pub size: u64,
    pub crc32: u32,
    pub duration: Duration,
}

/// `12.345678`: seconds to the microsecond, without `f64` formatting (which would weigh about
/// 12 KB in the binary).
fn seconds(duration: Duration) -> String {
    format!("{}.{:06}", duration.as_secs(), duration.subsec_micros())
}

impl Upload<'_> {
    pub fn write(&self, format: Format, out: &mut Vec<u8>) {
        match format {
            Format::Text => {
                out.extend_from_slice(
                    format!(
                        "size={} crc32={:08x} seconds={} hostname=",
                        self.size,
                        self.crc32,
                        seconds(self.duration)
                    )
                    .as_bytes(),
                );
                push_logfmt_value(out, self.hostname);
                if let Some(name) = self.name {
                    out.extend_from_slice(b" name=");
                    push_logfmt_value(out, name.as_bytes());
                }
                out.push(b'\n');
            }
            Format::Json => {
                out.extend_from_slice(b"{\"hostname\": ");
                push_json_string(out, self.hostname);
                out.extend_from_slice(b", \"name\": ");
                match self.name {
                    Some(name) => push_json_string(out, name.as_bytes()),
                    None => out.extend_from_slice(b"null"),
                }
                out.extend_from_slice(
                    format!(
                        ", \"size\": {}, \"crc32\": \"{:08x}\", \"seconds\": {}}}\n",
                        self.size,
                        self.crc32,
                        seconds(self.duration)
                    )
                    .as_bytes(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_in_text_and_json() {
        let upload = Upload {
            hostname: b"web-1",
            name: Some("blue one"),
            size: 1_048_576,
            crc32: 0x0361_0a68,
            duration: Duration::from_micros(12_345),
        };
        let mut text = Vec::new();
        upload.write(Format::Text, &mut text);
        assert_eq!(
            text,
            b"size=1048576 crc32=03610a68 seconds=0.012345 hostname=web-1 name=\"blue one\"\n"
        );
        let mut json = Vec::new();
        Upload {
            name: None,
            ..upload
        }
        .write(Format::Json, &mut json);
        assert_eq!(
            String::from_utf8(json).unwrap(),
            "{\"hostname\": \"web-1\", \"name\": null, \"size\": 1048576, \"crc32\": \"03610a68\", \"seconds\": 0.012345}\n"
        );
    }
}
