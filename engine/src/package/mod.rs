//! Scenario packages: one component that carries its metadata, parameters,
//! plans and capability manifest (`volley pack`), shared through OCI
//! registries in the CNCF wasm layout (`volley push`/`pull`), pinned in
//! `volley.lock`, cached by digest, signed in cosign's key-based format, and
//! run only with the capabilities the runner grants.
//!
//! This module owns everything between a reference (`oci://...`) and a
//! verified component file on disk. It never loads or runs a component and
//! never touches the plan beyond replacing a package reference with the
//! cached file and dropping what a package's own plan may not ask for.

mod caps;
mod cmd;
mod lock;
mod manifest;
mod oci;
mod pack;
mod reference;
mod resolve;
mod sign;
mod store;

pub use cmd::{
    AcceptArgs, KeyPairArgs, PackArgs, PullArgs, PushArgs, RunPackageArgs, SignArgs, VerifyArgs,
    cmd_accept, cmd_key_pair, cmd_pack, cmd_pull, cmd_push, cmd_sign, cmd_verify, describe,
};
pub use manifest::read_package;
pub use pack::pack;
pub use resolve::{inspect_target, open_target, prepare_run};
