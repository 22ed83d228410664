//! Content-addressed blobs: SHA-256 digests, uploads of what the engine lacks and reads with
//! a cap. Blobs up to [`BATCH_LIMIT`] go in batch calls; larger ones over ByteStream in
//! [`CHUNK`]-sized pieces (gRPC's default message cap is 4 MiB).

use crate::endpoint::Conn as Channel;
use bazel_remote_apis::google::bytestream::byte_stream_client::ByteStreamClient;
use bazel_remote_apis::google::bytestream::{ReadRequest, WriteRequest};
use sha2::{Digest as _, Sha256};

use crate::re::content_addressable_storage_client::ContentAddressableStorageClient;
use crate::re::{
    BatchReadBlobsRequest, BatchUpdateBlobsRequest, Digest, FindMissingBlobsRequest,
    batch_update_blobs_request,
};

/// The largest blob sent or read in a batch call; larger ones use ByteStream.
pub const BATCH_LIMIT: i64 = 2 << 20;
/// ByteStream write chunk.
const CHUNK: usize = 1 << 20;

/// Blobs with their digests, as uploaded.
pub type Blobs = Vec<(Digest, Vec<u8>)>;

/// The SHA-256 digest of `data`.
pub fn digest(data: &[u8]) -> Digest {
    let hash = Sha256::digest(data);
    let mut hex = String::with_capacity(64);
    for b in hash {
        hex.push_str(&format!("{b:02x}"));
    }
    Digest {
        hash: hex,
        size_bytes: data.len() as i64,
    }
}

/// A message's encoding and its digest.
pub fn message<M: prost::Message>(m: &M) -> (Digest, Vec<u8>) {
    let bytes = m.encode_to_vec();
    (digest(&bytes), bytes)
}

/// The CAS and ByteStream clients of one instance.
#[derive(Debug, Clone)]
pub struct Cas {
    cas: ContentAddressableStorageClient<Channel>,
    bytestream: ByteStreamClient<Channel>,
    instance: String,
    /// Blob bytes uploaded and read so far (for the benchmark's byte counts).
    pub sent: u64,
    pub received: u64,
}

fn status(what: &str, s: tonic::Status) -> String {
    format!("{what}: {:?}: {}", s.code(), s.message())
}

impl Cas {
    pub fn new(channel: Channel, instance: &str) -> Cas {
        Cas {
            cas: ContentAddressableStorageClient::new(channel.clone())
                .max_decoding_message_size(8 << 20),
            bytestream: ByteStreamClient::new(channel).max_decoding_message_size(8 << 20),
            instance: instance.to_owned(),
            sent: 0,
            received: 0,
        }
    }

    /// Uploads those of `blobs` the engine lacks (`FindMissingBlobs` first); returns the
    /// bytes sent.
    pub async fn upload_missing(&mut self, blobs: Vec<(Digest, Vec<u8>)>) -> Result<u64, String> {
        let missing = self
            .cas
            .find_missing_blobs(FindMissingBlobsRequest {
                instance_name: self.instance.clone(),
                blob_digests: blobs.iter().map(|(d, _)| d.clone()).collect(),
                digest_function: 0,
            })
            .await
            .map_err(|s| status("FindMissingBlobs", s))?
            .into_inner()
            .missing_blob_digests;
        let wanted: Vec<(Digest, Vec<u8>)> = blobs
            .into_iter()
            .filter(|(d, _)| missing.iter().any(|m| m.hash == d.hash))
            .collect();
        self.upload(wanted).await
    }

    /// Uploads `blobs` unconditionally; returns the bytes sent.
    pub async fn upload(&mut self, blobs: Vec<(Digest, Vec<u8>)>) -> Result<u64, String> {
        let mut sent = 0u64;
        let mut batch = Vec::new();
        let mut batch_bytes = 0i64;
        for (d, data) in blobs {
            sent += data.len() as u64;
            if d.size_bytes > BATCH_LIMIT {
                self.write(&d, data).await?;
                continue;
            }
            if batch_bytes + d.size_bytes > BATCH_LIMIT {
                self.batch_update(std::mem::take(&mut batch)).await?;
                batch_bytes = 0;
            }
            batch_bytes += d.size_bytes;
            batch.push(batch_update_blobs_request::Request {
                digest: Some(d),
                data,
                compressor: 0,
            });
        }
        if !batch.is_empty() {
            self.batch_update(batch).await?;
        }
        self.sent += sent;
        Ok(sent)
    }

    async fn batch_update(
        &mut self,
        requests: Vec<batch_update_blobs_request::Request>,
    ) -> Result<(), String> {
        let replies = self
            .cas
            .batch_update_blobs(BatchUpdateBlobsRequest {
                instance_name: self.instance.clone(),
                requests,
                digest_function: 0,
            })
            .await
            .map_err(|s| status("BatchUpdateBlobs", s))?
            .into_inner()
            .responses;
        for r in replies {
            if let Some(s) = r.status.filter(|s| s.code != 0) {
                return Err(format!("BatchUpdateBlobs: code {} {}", s.code, s.message));
            }
        }
        Ok(())
    }

    async fn write(&mut self, d: &Digest, data: Vec<u8>) -> Result<(), String> {
        let name = format!(
            "{}/uploads/{}/blobs/{}/{}",
            self.instance,
            upload_id(),
            d.hash,
            d.size_bytes
        )
        .trim_start_matches('/')
        .to_owned();
        let total = data.len();
        let mut reqs = Vec::new();
        let mut off = 0usize;
        loop {
            let end = (off + CHUNK).min(total);
            reqs.push(WriteRequest {
                resource_name: if off == 0 {
                    name.clone()
                } else {
                    String::new()
                },
                write_offset: off as i64,
                finish_write: end == total,
                data: data[off..end].to_vec(),
            });
            off = end;
            if off == total {
                break;
            }
        }
        let got = self
            .bytestream
            .write(tokio_stream::iter(reqs))
            .await
            .map_err(|s| status("ByteStream.Write", s))?
            .into_inner();
        if got.committed_size != total as i64 {
            return Err(format!(
                "ByteStream.Write committed {} of {total} bytes",
                got.committed_size
            ));
        }
        Ok(())
    }

    /// Reads one blob, refusing one larger than `cap`; checks its digest.
    pub async fn read(&mut self, d: &Digest, cap: u64) -> Result<Vec<u8>, String> {
        if d.size_bytes < 0 || d.size_bytes as u64 > cap {
            return Err(format!(
                "blob of {} bytes is over the cap of {cap}",
                d.size_bytes
            ));
        }
        if d.size_bytes == 0 {
            return Ok(Vec::new());
        }
        let data = if d.size_bytes <= BATCH_LIMIT {
            let mut replies = self
                .cas
                .batch_read_blobs(BatchReadBlobsRequest {
                    instance_name: self.instance.clone(),
                    digests: vec![d.clone()],
                    acceptable_compressors: Vec::new(),
                    digest_function: 0,
                })
                .await
                .map_err(|s| status("BatchReadBlobs", s))?
                .into_inner()
                .responses;
            let r = replies.pop().ok_or("BatchReadBlobs: no response")?;
            if let Some(s) = r.status.filter(|s| s.code != 0) {
                return Err(format!(
                    "BatchReadBlobs {}: code {} {}",
                    d.hash, s.code, s.message
                ));
            }
            r.data
        } else {
            let name = format!("{}/blobs/{}/{}", self.instance, d.hash, d.size_bytes)
                .trim_start_matches('/')
                .to_owned();
            let mut stream = self
                .bytestream
                .read(ReadRequest {
                    resource_name: name,
                    read_offset: 0,
                    read_limit: 0,
                })
                .await
                .map_err(|s| status("ByteStream.Read", s))?
                .into_inner();
            let mut data = Vec::with_capacity(d.size_bytes as usize);
            while let Some(chunk) = stream
                .message()
                .await
                .map_err(|s| status("ByteStream.Read", s))?
            {
                if (data.len() + chunk.data.len()) as u64 > d.size_bytes as u64 {
                    return Err("ByteStream.Read: more bytes than the digest says".into());
                }
                data.extend_from_slice(&chunk.data);
            }
            data
        };
        if digest(&data) != *d {
            return Err(format!("blob {} does not match its digest", d.hash));
        }
        self.received += data.len() as u64;
        Ok(data)
    }

    /// Reads and decodes one message blob.
    pub async fn read_message<M: prost::Message + Default>(
        &mut self,
        d: &Digest,
        cap: u64,
    ) -> Result<M, String> {
        let bytes = self.read(d, cap).await?;
        M::decode(&bytes[..]).map_err(|e| format!("blob {}: {e}", d.hash))
    }
}

/// A name unique enough for one upload: process id, time and a counter.
fn upload_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    // Shaped like a UUID, which some engines expect.
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        std::process::id(),
        (t >> 32) as u16,
        (t >> 16) as u16 & 0xfff,
        n as u16 & 0xfff,
        t as u64 & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_nothing() {
        let d = digest(b"");
        assert_eq!(
            d.hash,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(d.size_bytes, 0);
    }
}
