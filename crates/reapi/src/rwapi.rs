//! The Remote Workers API (`google.devtools.remoteworkers.v1test2`, bot sessions) that
//! BuildGrid's Bots service speaks. `bazel-remote-apis` has no stubs for it, so its messages
//! are declared here with prost's derive (field numbers as in BuildGrid's `bots.proto` and
//! `worker.proto`) and the two calls a bot makes are written on tonic's generic client.

use bazel_remote_apis::google::protobuf::{Any, Timestamp};
use bazel_remote_apis::google::rpc::Status;
use tonic::codegen::http;

/// `BotSession`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BotSession {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub bot_id: String,
    #[prost(enumeration = "BotStatus", tag = "3")]
    pub status: i32,
    #[prost(message, optional, tag = "4")]
    pub worker: Option<Worker>,
    #[prost(message, repeated, tag = "5")]
    pub leases: Vec<Lease>,
    #[prost(message, optional, tag = "6")]
    pub expire_time: Option<Timestamp>,
    #[prost(string, tag = "7")]
    pub version: String,
}

/// `BotStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum BotStatus {
    Unspecified = 0,
    Ok = 1,
    Unhealthy = 2,
    HostRebooting = 3,
    BotTerminating = 4,
}

/// `LeaseState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum LeaseState {
    Unspecified = 0,
    Pending = 1,
    Active = 2,
    Completed = 4,
    Cancelled = 5,
}

/// `Lease`: BuildGrid puts the Action (or its digest) in `payload` and expects an
/// `ActionResult` in `result` when the bot reports the lease `COMPLETED`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Lease {
    #[prost(string, tag = "7")]
    pub id: String,
    #[prost(message, optional, tag = "8")]
    pub payload: Option<Any>,
    #[prost(message, optional, tag = "9")]
    pub result: Option<Any>,
    #[prost(enumeration = "LeaseState", tag = "2")]
    pub state: i32,
    #[prost(message, optional, tag = "3")]
    pub status: Option<Status>,
    #[prost(message, optional, tag = "4")]
    pub requirements: Option<Worker>,
    #[prost(message, optional, tag = "5")]
    pub expire_time: Option<Timestamp>,
    #[prost(string, tag = "1")]
    pub assignment: String,
    #[prost(message, optional, tag = "6")]
    pub inline_assignment: Option<Any>,
}

/// `Worker`: the properties the engine matches a job's platform against, and configs
/// (BuildGrid reads `capacity` there).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Worker {
    #[prost(message, repeated, tag = "1")]
    pub devices: Vec<Device>,
    #[prost(message, repeated, tag = "2")]
    pub properties: Vec<KeyValue>,
    #[prost(message, repeated, tag = "3")]
    pub configs: Vec<KeyValue>,
}

/// `Worker.Property`, `Worker.Config` and `Device.Property` share this shape.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `Device`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Device {
    #[prost(string, tag = "1")]
    pub handle: String,
    #[prost(message, repeated, tag = "2")]
    pub properties: Vec<KeyValue>,
}

/// `CreateBotSessionRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateBotSessionRequest {
    #[prost(string, tag = "1")]
    pub parent: String,
    #[prost(message, optional, tag = "2")]
    pub bot_session: Option<BotSession>,
}

/// `UpdateBotSessionRequest` (the field mask, 3, is not sent).
#[derive(Clone, PartialEq, prost::Message)]
pub struct UpdateBotSessionRequest {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub bot_session: Option<BotSession>,
}

/// The `Bots` service's two calls.
#[derive(Debug, Clone)]
pub struct BotsClient {
    inner: tonic::client::Grpc<crate::endpoint::Conn>,
}

impl BotsClient {
    pub fn new(channel: crate::endpoint::Conn) -> BotsClient {
        BotsClient {
            inner: tonic::client::Grpc::new(channel),
        }
    }

    async fn call<Q, R>(
        &mut self,
        path: &'static str,
        req: tonic::Request<Q>,
    ) -> Result<tonic::Response<R>, tonic::Status>
    where
        Q: prost::Message + Send + Sync + 'static,
        R: prost::Message + Default + Send + Sync + 'static,
    {
        self.inner
            .ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("bots service not ready: {e}")))?;
        let codec = tonic_prost::ProstCodec::<Q, R>::default();
        self.inner
            .unary(req, http::uri::PathAndQuery::from_static(path), codec)
            .await
    }

    pub async fn create_bot_session(
        &mut self,
        req: tonic::Request<CreateBotSessionRequest>,
    ) -> Result<BotSession, tonic::Status> {
        let path = "/google.devtools.remoteworkers.v1test2.Bots/CreateBotSession";
        Ok(self.call(path, req).await?.into_inner())
    }

    pub async fn update_bot_session(
        &mut self,
        req: tonic::Request<UpdateBotSessionRequest>,
    ) -> Result<BotSession, tonic::Status> {
        let path = "/google.devtools.remoteworkers.v1test2.Bots/UpdateBotSession";
        Ok(self.call(path, req).await?.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn a_lease_round_trips_and_garbage_is_an_error() {
        let lease = Lease {
            id: "op".into(),
            state: LeaseState::Pending as i32,
            payload: Some(Any {
                type_url: "type.googleapis.com/x".into(),
                value: vec![1, 2, 3],
            }),
            ..Default::default()
        };
        let bytes = lease.encode_to_vec();
        assert_eq!(Lease::decode(&bytes[..]).unwrap(), lease);
        assert!(BotSession::decode(&[0xff, 0xff, 0xff][..]).is_err());
    }

    /// What an engine sends a bot (and a bot reads from CAS) never panics the decoder:
    /// mutations of valid encodings and random bytes are decoded or rejected.
    #[test]
    fn engine_bytes_never_panic_the_decoders() {
        use crate::re::{Action, ActionResult, Command, Directory};
        let session = BotSession {
            name: "main/x".into(),
            bot_id: "b".into(),
            status: BotStatus::Ok as i32,
            leases: vec![Lease {
                id: "l".into(),
                state: LeaseState::Pending as i32,
                payload: Some(Any {
                    type_url: "type.googleapis.com/build.bazel.remote.execution.v2.Digest".into(),
                    value: vec![10, 2, b'a', b'b', 16, 5],
                }),
                ..Default::default()
            }],
            ..Default::default()
        }
        .encode_to_vec();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for i in 0..5000 {
            let mut bytes = session.clone();
            if i % 2 == 0 {
                let n = (next() % 4 + 1) as usize;
                for _ in 0..n {
                    let at = (next() as usize) % bytes.len();
                    bytes[at] = next() as u8;
                }
                bytes.truncate((next() as usize) % (bytes.len() + 1));
            } else {
                bytes = (0..(next() % 64)).map(|_| next() as u8).collect();
            }
            let _ = BotSession::decode(&bytes[..]);
            let _ = Lease::decode(&bytes[..]);
            let _ = Action::decode(&bytes[..]);
            let _ = Command::decode(&bytes[..]);
            let _ = Directory::decode(&bytes[..]);
            let _ = ActionResult::decode(&bytes[..]);
        }
    }
}
