//! Caps on every length and count the peer controls.

/// Upper bounds on what a peer may make this side allocate. distcc 3.4 caps nothing; a single
/// forged `ARGV` header there reserves 4 GiB. The defaults here are far above any real
/// compile and far below what would hurt a build machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most arguments in `ARGC`.
    pub max_argc: u32,
    /// Longest single `ARGV`, `CDIR`, `NAME` or `LINK` string.
    pub max_arg_len: u32,
    /// Sum of all argument lengths of one request.
    pub max_argv_total: u64,
    /// Longest body on the wire (`DOTI`, `FILE`, `DOTO`, `SERR`, …), compressed or not.
    pub max_body: u32,
    /// Largest body after LZO decompression.
    pub max_unpacked: u64,
    /// Most entries in a pump (`NFIL`) file list.
    pub max_files: u32,
    /// Most chunks in a chunked source's list (`CHNK`, protocol 4).
    pub max_chunks: u32,
    /// Longest single chunk of a chunked source.
    pub max_chunk_len: u32,
}

impl Limits {
    /// 64 MiB of arguments, 512 MiB per body: a preprocessed translation unit or object file
    /// of that size would already be pathological.
    pub const DEFAULT: Limits = Limits {
        max_argc: 16 * 1024,
        max_arg_len: 1024 * 1024,
        max_argv_total: 64 * 1024 * 1024,
        max_body: 512 * 1024 * 1024,
        max_unpacked: 1024 * 1024 * 1024,
        max_files: 64 * 1024,
        max_chunks: 64 * 1024,
        max_chunk_len: 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
