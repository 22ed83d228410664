//! What each man page says beyond its options. Paragraphs are separated by blank lines; a
//! paragraph whose lines are indented by two spaces is an example, set as written.

use cli::{Item, Page, Section, Style};

use crate::tables;

const fn item(term: &'static str, text: &'static str) -> Item {
    Item { term, text }
}

/// distcc 3.4's exit codes (exitcode.h), which every program here uses.
pub const EXIT_CODES: &[Item] = &[
    item("0", "Success."),
    item("100", "Generic distcc failure."),
    item(
        "101",
        "Bad arguments: an unknown option, a bad value, a missing --allow.",
    ),
    item(
        "102",
        "Bind failed: the port is in use, or a socket from systemd was unusable.",
    ),
    item("103", "Connect failed."),
    item("104", "The compiler crashed."),
    item("105", "Out of memory."),
    item("106", "Bad host specification."),
    item("107", "I/O error (a file could not be read or written)."),
    item("108", "Truncated: the peer closed the connection early."),
    item("109", "Protocol error."),
    item("110", "The compiler is missing."),
    item(
        "111",
        "Recursive distcc: distcc called itself (_DISTCC_SAFEGUARD).",
    ),
    item("112", "Could not drop root (setuid failed)."),
    item("113", "Access denied."),
    item("114", "Busy: every slot is taken."),
    item("115", "No such file."),
    item("116", "No hosts are defined."),
    item("117", "Gone: the server went away."),
    item(
        "118",
        "Timeout (DISTCC_IO_TIMEOUT, or distccd's --job-lifetime).",
    ),
    item(
        "119",
        "GSS-API failed (never used here: GSS-API is not implemented).",
    ),
    item("120", "The local preprocessor failed."),
];

pub static DISTCC: Page = Page {
    name: "distcc",
    section: 1,
    summary: "distributed C/C++ compiler client (distcc-rs)",
    synopsis: &[
        "[COMPILER] [compile options] -o OBJECT -c SOURCE",
        "--help | --version | --show-hosts | -j | --show-stats | --zero-stats",
        "--clear-cache | --cache-on | --cache-off",
        "COMPILE OPTIONS -o OBJECT -c SOURCE (as a masquerade link named after the compiler)",
    ],
    description: "\
distcc distributes compilation of C and C++ code across machines on a network running \
distccd(1). It preprocesses each source file here, sends the result to a volunteer host, \
and writes the object file it gets back, so that the result equals a local build. Jobs \
that cannot be distributed (linking, preprocessing only, and the cases listed in the \
verbose log) run locally. It speaks distcc 3.4's protocols 1, 2 and 3 and shares 3.4's \
lock, backoff and state files, so it can replace 3.4's client beside 3.4's servers and \
the reverse.

Use it in one of three ways: explicitly (distcc gcc -c x.c), implicitly (distcc -c x.c \
runs cc), or as a masquerade: a directory of links named after compilers (gcc, g++, cc, …) \
pointing at distcc, put first on PATH; distcc-masquerade(1) makes one. It also works as \
CMake's compiler launcher (CMAKE_C_COMPILER_LAUNCHER=distcc).

  make -j16 CC='distcc gcc'
  DISTCC_HOSTS='localhost/2 fast-box/8,lzo @ssh-box/4' make -j16 CC='distcc gcc'

A failure on the network (connect, time-out, a server that closes the connection) marks \
the host bad for DISTCC_BACKOFF_PERIOD and the job is tried on the next host, then here. \
A compile error is never the host's fault.",
    options: tables::DISTCC,
    style: Style::Gnu,
    groups: &[],
    sections: &[
        Section {
            title: "Host specifications",
            text: "\
The host list is read from DISTCC_HOSTS, else $DISTCC_DIR/hosts (~/.distcc/hosts), else \
/etc/distcc/hosts. Entries are separated by blanks or newlines; # starts a comment to the \
end of the line. A malformed entry is an error that names it (exit 106), never a silent \
local build. Slots are searched breadth-first in list order, and the host that has proved \
fastest wins among free ones.",
            items: &[
                item(
                    "localhost",
                    "Compile here, without preprocessing separately; two slots unless /N.",
                ),
                item("HOST", "A distccd on HOST, TCP port 3632."),
                item("HOST:PORT", "A distccd on another TCP port."),
                item(
                    "[IPV6]:PORT",
                    "An IPv6 address in brackets, with an optional port.",
                ),
                item(
                    "HOST/LIMIT",
                    "At most LIMIT jobs at once on this host (default 4).",
                ),
                item(
                    "@HOST",
                    "Over ssh: runs distccd --inetd on HOST (see DISTCC_SSH).",
                ),
                item("USER@HOST", "Over ssh as USER."),
                item(
                    "+zeroconf",
                    "The distccd servers on the local network that announce themselves over \
mDNS (distccd --zeroconf, ours or distcc 3.4's) and serve this machine's cc (same \
cc -dumpmachine and cc -dumpversion, as distcc 3.4 matches them), with the slots they \
announce. A background browser, distcc-zeroconf(1), started by the first client that needs \
it, keeps them in $DISTCC_DIR/zeroconf/hosts; a compile only reads that file. Servers that \
leave are dropped; one that stops without a word fails to connect and is backed off like \
any host. Nothing is sent over mDNS unless the list holds +zeroconf.",
                ),
                item(
                    "coord://HOST[:PORT][,tls]",
                    "Not a host: a farm coordinator (distcc-coordinator(1), port 3634 by \
default) to ask for a lease before each remote job, as DISTCC_COORDINATOR names them (which, \
when set, is used instead); several are asked in their order. The list's hosts are then \
for when none answers; a list of coordinators only is a whole farm. distcc 3.4 rejects \
such an entry (bad multiplier) and compiles locally: give it a list of its own.",
                ),
                item(
                    "_distcc._tcp.DOMAIN[/LIMIT][,OPTIONS]",
                    "A DNS SRV name (any name whose first label starts with _): stands for every \
host and port its SRV records name, in priority order, one entry per address of a target \
that has several; LIMIT and OPTIONS apply to each, and no :PORT may be given. A name \
without SRV records is read as a DNS-SD service type (RFC 6763): its PTR records name \
instances, each with its SRV record and a TXT record whose jobs= (or cpus=, as distcc 3.4's \
zeroconf reads them) gives the host's slots instead of LIMIT. The answer \
is kept in $DISTCC_DIR/srv/ for its TTL (at most an hour), so a build asks the name \
servers of /etc/resolv.conf about once per TTL, and a changed record is seen once the old \
one expires. If the name servers fail, the last answer is kept; a name never answered adds \
no hosts, with a warning. Nothing is looked up unless the list holds such a name.",
                ),
                item(
                    "@HOST:COMMAND",
                    "Over ssh, running COMMAND instead of distccd.",
                ),
                item(
                    "reapi://HOST:PORT[/INSTANCE][,lzo][,tls]",
                    "A Remote Execution API (REAPI v2) engine such as BuildGrid, instance \
INSTANCE: each job becomes an Action (the preprocessed source as its input root, the \
server's command line, platform properties distcc-fingerprint and distcc-target pinning \
the compiler's protocol 4 identity, so a compiler changed under the same name is another \
Action), looked up in the Action Cache first, then executed by a \
worker of the engine (distcc-reapi worker beside a distccd). distcc runs distcc-reapi \
submit (beside it, else on PATH) for these jobs, so a compile to a plain host links no \
gRPC. Up to 16 jobs at once; a job no worker takes within DISTCC_REAPI_TIMEOUT, or an \
engine that cannot be reached, falls back like any failed host. With ,cpp (pump mode) or \
DISTCC_IDENTICAL_DEBUG's source route, the job's file list is the input root at the \
client's paths and its directory the working directory, so -g objects are identical to a \
local build. With ,tls the engine is reached over TLS, checked with DISTCC_TLS_CA or \
DISTCC_TLS_PIN (and DISTCC_TLS_CERT/DISTCC_TLS_KEY for a client certificate) as for a \
,tls host, and a bearer token from DISTCC_REAPI_TOKEN or DISTCC_REAPI_TOKEN_FILE is sent \
as authorization: Bearer on every call (never without ,tls).",
                ),
                item(",lzo", "Compress with LZO (protocol 2)."),
                item(
                    ",down",
                    "The host is skipped, as lsdistcc -x marks it (3.4 does the same).",
                ),
                item(
                    ",cpp",
                    "Pump mode: the host preprocesses (protocol 3, with ,lzo); needs pump(1).",
                ),
                item(
                    ",tls",
                    "Ours: only over TLS to our distccd (--tls-cert), never in plain text: a failed handshake or a refused client is that attempt's failure (another host, or a local compile), never a plain retry. The server is checked with DISTCC_TLS_CA or DISTCC_TLS_PIN; the client proves itself with DISTCC_TLS_CERT/DISTCC_TLS_KEY or DISTCC_TLS_TOKEN. Not for ssh entries, which are encrypted already.",
                ),
                item(
                    ",auth",
                    "distcc 3.4's GSS-API authentication: not implemented, refused with a message; ,tls with a client certificate or a token covers it (the server knows who compiles, and --tls-allow says who may).",
                ),
                item("--randomize", "Shuffle the hosts before use."),
                item(
                    "--localslots=N",
                    "Local compiles at once (default 4); never more than this machine's CPUs.",
                ),
                item(
                    "--localslots_cpp=N",
                    "Local preprocessors at once (default 8); never more than this machine's CPUs.",
                ),
            ],
        },
        Section {
            title: "Environment",
            text: "",
            items: &[
                item("DISTCC_HOSTS", "The host list (see HOST SPECIFICATIONS)."),
                item(
                    "DISTCC_COORDINATOR",
                    "HOST[:PORT][,tls][,HOST[:PORT][,tls]...]: farm coordinators (distcc-coordinator(1), port 3634 by default) to ask for a lease before each remote job, in order; ,tls: over TLS with the DISTCC_TLS_* settings. The host list is then only for when none answers: a coordinator that cannot be reached within 0.5 s, goes silent for 2 s or refuses makes the job use the host list, and is not asked again for 10 s (files under $DISTCC_DIR/coord).",
                ),
                item(
                    "DISTCC_ZEROCONF_INTERFACE",
                    "The one network interface (by name; lo for loopback) on which the +zeroconf browser sends and listens; unset: every interface, as distcc 3.4. Read when the browser starts.",
                ),
                item(
                    "DISTCC_DIR",
                    "Where the hosts file, lock, state, backoff, statistics and scheduler files live (default ~/.distcc). A missing directory is created.",
                ),
                item(
                    "DISTCC_VERBOSE",
                    "1: log every decision (slot choice, fallbacks and their reasons) to stderr.",
                ),
                item(
                    "DISTCC_LOG",
                    "Send log lines to this file instead of stderr.",
                ),
                item(
                    "DISTCC_FALLBACK",
                    "0: never compile locally after a failure to distribute; exit with the failure's distcc code instead (default 1).",
                ),
                item(
                    "DISTCC_SKIP_LOCAL_RETRY",
                    "Set: relay a remote compile error as final instead of recompiling here for exact diagnostics.",
                ),
                item(
                    "DISTCC_IO_TIMEOUT",
                    "Seconds without progress on a connection before giving up (default 300).",
                ),
                item(
                    "DISTCC_PAUSE_TIME_MSEC",
                    "Safety-net poll interval while waiting for a slot, in ms (default 1000; waiting is woken by the releasing client).",
                ),
                item(
                    "DISTCC_BACKOFF_PERIOD",
                    "Seconds a failed host is avoided (default 60; 0 turns backoff off).",
                ),
                item(
                    "DISTCC_SAVE_TEMPS",
                    "1: keep the preprocessed temporary files.",
                ),
                item("DISTCC_TCP_CORK", "0: do not use TCP_CORK (default 1)."),
                item(
                    "DISTCC_IDENTICAL_DEBUG",
                    "1: a job with debug information in plain mode goes by the source route (includes expanded, macros not: gcc -fdirectives-only, clang -frewrite-includes) as a protocol 3 request, so its object is byte-identical to a local build. Only for hosts running our distccd: 3.4's daemon leaves its temporary directory in such objects, which the client notices (a warning, then a local compile).",
                ),
                item(
                    "DISTCC_CACHE",
                    "0: do not use the result cache for this build; 1: use it (default: on, unless --cache-off switched it off for good). A hit replays a compile's object, .d file and messages without sending anything, in plain and in pump mode; only remote compiles that succeeded and printed nothing are stored. Not cached, each counted by --show-stats with its reason: the DISTCC_IDENTICAL_DEBUG route, __DATE__/__TIME__/__TIMESTAMP__ in the source (in pump mode in any file sent), options with outputs no reply carries (-fprofile-*, -save-temps, -fdump-*, -gsplit-dwarf, -fstack-usage, coverage), a compiler whose identity cannot be taken. Under ccache (CCACHE_PREFIX=distcc, seen by the UNCACHED_ERR_FD ccache sets for its prefix command) the local store is neither read nor written, since ccache keeps the results on this machine; a daemon's shared cache (distccd --cache-dir) is still asked.",
                ),
                item(
                    "DISTCC_CACHE_DIRECT",
                    "1: with the result cache on, look a compile up by a manifest (the compiler, directory, command line and source, then the hashes of every file the preprocessor read) before preprocessing, as ccache's direct mode; a hit runs no preprocessor. Off by default: as in ccache, a header added later in an earlier include directory is not noticed.",
                ),
                item(
                    "DISTCC_CACHE_DIR",
                    "Where the result cache lives (default $DISTCC_DIR/cache).",
                ),
                item(
                    "DISTCC_CACHE_SIZE",
                    "The result cache's bound: bytes, or with K, M, G, T (powers of 1024; default 5G, as ccache's). Least recently used entries go first.",
                ),
                item(
                    "DISTCC_SSH",
                    "The ssh command for @HOST entries (default ssh), split on spaces.",
                ),
                item(
                    "DISTCC_PROTOCOL",
                    "The highest protocol spoken: 1, 2 or 3 never speak protocol 4 (the host entry's ,lzo and ,cpp choose among 1-3 as in distcc 3.4); unset or anything else, 4 to hosts that advertised it (see PROTOCOL 4).",
                ),
                item(
                    "DISTCC_CHUNKS",
                    "0: send every protocol 4 source whole (zstd). By default a plain-mode source of 32 KiB or more goes to a host that advertised chunks=1 as a list of pieces cut at its line markers, named by a 128-bit hash, and only the pieces that host does not hold from this client (this user and $DISTCC_DIR/chunk-key) are sent (see PROTOCOL 4).",
                ),
                item(
                    "DISTCC_SSH_HOARD",
                    "0: open a new ssh connection per job instead of sharing one (default 1).",
                ),
                item(
                    "DISTCC_REAPI_TIMEOUT",
                    "Seconds a reapi:// job may wait for its result before it is cancelled and falls back (default 300).",
                ),
                item(
                    "DISTCC_REAPI_PROPERTIES",
                    "KEY=VALUE,...: platform properties added to every reapi:// job's Action (the engine must accept the keys).",
                ),
                item(
                    "DISTCC_REAPI_DEBUG",
                    "Set: distcc-reapi says when a result came from the Action Cache (in distcc's debug log).",
                ),
                item(
                    "DISTCC_REAPI_TOKEN",
                    "A bearer token for reapi://...,tls engines (sent as authorization: Bearer TOKEN, e.g. a JWT BuildGrid checks); never sent without ,tls.",
                ),
                item(
                    "DISTCC_REAPI_TOKEN_FILE",
                    "A file whose first line is that token (DISTCC_REAPI_TOKEN wins when both are set).",
                ),
                item(
                    "DISTCC_SSH_PERSIST",
                    "Seconds a shared ssh connection stays open when idle (default 300; 0 turns sharing off). When the far distccd is ours, it advertises a held daemon of the ssh user (see distccd(1), SSH) and the shared connection forwards a local socket in $DISTCC_DIR/ssh/ to it (ssh -O forward): later jobs are one channel over the connection, with no new ssh session and no distccd started per job. Any failure there sends that job through a session of its own, without a failed compile or a backoff.",
                ),
                item(
                    "DISTCC_TLS_CA",
                    "For ,tls hosts: a PEM file of the CA certificates that issue the daemons' certificates; the certificate must name the host as the host list spells it (DNS name or IP address).",
                ),
                item(
                    "DISTCC_TLS_PIN",
                    "For ,tls hosts, instead of DISTCC_TLS_CA: the SHA-256 of the daemon's certificate (64 hex digits, colons allowed), as distccd logs it at start; names and dates are then not checked, the handshake signature is.",
                ),
                item(
                    "DISTCC_TLS_CERT, DISTCC_TLS_KEY",
                    "This client's certificate chain and private key (PEM), for daemons with --tls-client-ca.",
                ),
                item(
                    "DISTCC_TLS_TOKEN, DISTCC_TLS_TOKEN_FILE",
                    "A token (or a file whose first line is one) for daemons with --tls-tokens; sent inside TLS only. DISTCC_PRINCIPAL (3.4's GSS-API) is not read.",
                ),
                item(
                    "DISTCC_NO_REWRITE_CROSS",
                    "Set: do not rename gcc to its target triple (x86_64-linux-gnu-gcc) for the server.",
                ),
                item(
                    "DISTCC_MAX_DISCREPANCY",
                    "Pump mode: remote failures that succeed locally before the build falls back to plain mode (default 1).",
                ),
                item(
                    "INCLUDE_SERVER_PORT",
                    "Pump mode: the include server's socket, set by pump(1).",
                ),
                item(
                    "TMPDIR",
                    "Where preprocessed files are written (default /tmp).",
                ),
                item(
                    "DEPENDENCIES_OUTPUT, SUNPRO_DEPENDENCIES",
                    "Honoured as gcc does; they keep a job out of pump mode.",
                ),
                item(
                    "CPATH, C_INCLUDE_PATH, CPLUS_INCLUDE_PATH",
                    "Keep a job out of pump mode, as in 3.4.",
                ),
                item(
                    "_DISTCC_SAFEGUARD",
                    "Set by distcc for its children; a distcc that finds it set exits 111 (recursion) unless it can skip itself as a masquerade link.",
                ),
            ],
        },
        Section {
            title: "Protocol 4",
            text: "\
Between this distcc and a distcc-rs distccd, jobs go over protocol 4: zstd-compressed \
bodies (about two thirds of LZO's bytes), the client's compiler identity, and refusals \
that say why. There is no handshake: after every protocol 1-3 reply, distccd appends a \
short advertisement that distcc 3.4's client never reads; this client reads what already \
arrived behind the reply (without waiting), remembers it for 24 hours in \
$DISTCC_DIR/adverts/, and speaks protocol 4 to that host from the next job on. A host \
that stops answering protocol 4 (say a distcc 3.4 distccd now at its address) is forgotten \
and the same job is sent again at once in protocol 1-3, without backoff. Against distcc \
3.4's distccd nothing changes: it gets exactly 3.4's bytes.

A protocol 4 refusal is shown as a warning with the server's reason, and its class \
decides: the host's fault (1xx) backs the host off and tries another; the request's \
(2xx) compiles here without backoff; a compiler the host lacks (3xx) skips that host for \
this compiler only, for a day, and tries another; the client's credentials (4xx) try \
another host without backoff. DISTCC_PROTOCOL=3 turns protocol 4 off.",
            items: &[],
        },
        Section {
            title: "Exit status",
            text: "\
The compiler's own exit status, or one of distcc's codes when distcc itself fails:",
            items: EXIT_CODES,
        },
        Section {
            title: "Files",
            text: "",
            items: &[
                item("~/.distcc/hosts, /etc/distcc/hosts", "Host lists."),
                item(
                    "$DISTCC_DIR/lock/cpu_*",
                    "Slot locks, shared with distcc 3.4 (fcntl locks).",
                ),
                item("$DISTCC_DIR/lock/backoff_*", "Hosts currently avoided."),
                item(
                    "$DISTCC_DIR/state/binstate_*",
                    "Phase of each running job, read by distccmon-text(1).",
                ),
                item("$DISTCC_DIR/stats", "Totals shown by --show-stats."),
                item(
                    "$DISTCC_DIR/cache",
                    "The result cache: one checksummed file per result under a two-digit directory; size (the running total).",
                ),
                item(
                    "$DISTCC_DIR/cache.setting",
                    "on or off, written by --cache-on and --cache-off (absent: on).",
                ),
                item(
                    "$DISTCC_DIR/sched/",
                    "The queue of waiting clients and the learnt host speeds.",
                ),
                item(
                    "$DISTCC_DIR/zeroconf/hosts",
                    "The servers found for +zeroconf (see distcc-zeroconf(1)).",
                ),
                item(
                    "$DISTCC_DIR/srv/srv_NAME",
                    "The last answer for SRV name NAME (addresses, ports, expiry).",
                ),
                item(
                    "$DISTCC_DIR/adverts/",
                    "What each host advertised after a protocol 1-3 reply (one file per host, kept 24 hours), and the hosts that lack a compiler (*.skip-*).",
                ),
                item(
                    "$DISTCC_DIR/chunk-key",
                    "16 random bytes (mode 0600), made on the first chunked compile and sent with every chunk list: a server keeps the pieces it received per address or TLS identity and this key, so another user at the same address cannot use or overwrite them. Deleting it only makes servers ask for every piece again.",
                ),
                item(
                    "$DISTCC_DIR/identity/",
                    "The identity of each compiler used (target, version, SHA-256 of the \
programs it runs), sent with every protocol 4 job so the server runs the same compiler. \
Kept with the file identity (device, inode, size, times) of each program and link, so a \
compile costs a few stat calls; recomputed when any changed. Safe to delete.",
                ),
            ],
        },
    ],
    see_also: &[
        "distccd(1)",
        "distccmon-text(1)",
        "distcc-farm(1)",
        "distcc-zeroconf(1)",
        "lsdistcc(1)",
        "pump(1)",
        "distcc-masquerade(1)",
        "gcc(1)",
        "make(1)",
    ],
};

pub static DISTCCD: Page = Page {
    name: "distccd",
    section: 1,
    summary: "distributed C/C++ compiler server (distcc-rs)",
    synopsis: &["--daemon --allow NETWORK [OPTIONS]", "--inetd [OPTIONS]"],
    description: "\
distccd runs compile jobs for distcc(1) clients, distcc 3.4's or ours, over protocols 1, \
2 and 3, and protocol 4 with ours (see PROTOCOL 4). It runs as a standalone daemon (--daemon), from inetd or over ssh \
(--inetd; without either, inetd mode if stdin is a socket), or under systemd, which \
may pass it its listening socket.

As a daemon it refuses to start without --allow or --allow-private. Started as \
root it switches to the user given by --user, else distcc, distccd or nobody, and \
never keeps root. Each job runs in its own temporary directory, which is removed \
afterwards; a client that hangs up kills its compiler.

Only compilers named in the allow-list directory are run (see COMPILER ALLOW-LIST). A \
refused request is answered with the reason, which the client prints.

With --tls-cert and --tls-key the same port also serves TLS (see TLS).

distccd should only run on trusted networks.",
    options: daemon::options::OPTIONS,
    style: Style::Gnu,
    groups: daemon::options::GROUPS,
    sections: &[
        Section {
            title: "Compiler allow-list",
            text: "\
A compiler name is run only if the allow-list directory (--allowed-compilers, \
DISTCCD_ALLOWED_COMPILERS, default /usr/lib/distcc) has an entry of that name. A bare \
name is then resolved once on PATH, skipping the allow-list directory and anything that \
is a distcc binary; an absolute name is accepted only directly in /bin, /usr/bin or \
/usr/local/bin. Options that load code into the compiler or pick the programs it runs \
(-fplugin, -specs, -B, -wrapper, @file, …) are refused.

distcc-allowlist(8) fills the directory from the compilers installed, as Debian's \
update-distcc-symlinks does. distccd warns at start when the directory is missing or \
empty, since every job would then be refused.",
            items: &[],
        },
        Section {
            title: "TLS",
            text: "\
With --tls-cert and --tls-key, distccd serves TLS 1.3 (rustls) on its port beside plain \
connections: a connection whose first byte is a TLS handshake (0x16) is TLS, one that \
starts with a distcc request is plain, and --tls-only answers plain ones with a failure \
that says TLS is required (distcc 3.4 clients print it and compile locally). Clients use \
the ,tls host option. At start distccd logs the SHA-256 of its certificate, the value of \
clients' DISTCC_TLS_PIN. --allow still applies to every connection.

Clients prove who they are with a certificate issued by --tls-client-ca (an unknown or \
expired one fails the handshake) or with a token from --tls-tokens, a file of \
\"name token\" lines (# comments), which the client sends inside TLS \
(DISTCC_TLS_TOKEN). With both options either will do; with one, that one is required; \
with neither, TLS only encrypts. --tls-allow NAME limits compiling to the clients known \
by NAME: a certificate's subject common name or DNS name, or a token's name. A refused \
client gets a reply saying why.

distcc 3.4's GSS-API authentication (--auth, DISTCC_PRINCIPAL) is not implemented: TLS \
client certificates or tokens cover it, and --auth stops distccd at start with a message \
saying so. Certificates are best ECDSA P-256: each compile is a new client process, so \
each makes a full handshake.",
            items: &[],
        },
        Section {
            title: "Compilers by identity",
            text: "\
A protocol 4 client (distcc-rs) sends the identity of the compiler it would run itself: \
target (-dumpmachine), version, and a SHA-256 fingerprint of the programs that really run \
(the driver and cc1, cc1plus… as the driver's -print-prog-name names them; for clang its \
binary and its libclang/libLLVM libraries). distccd then ignores the name and runs the \
allow-listed compiler whose fingerprint and target match, whatever it is called here: a \
client's gcc may be x86_64-linux-gnu-gcc-12 on this host, and a cross compiler is found \
without renaming. With no match the job is refused with a reason naming both the client's \
compiler and this host's, and the client compiles elsewhere or locally: an object from a \
different compiler is never returned. distcc 3.4 clients send no identity and are served \
by name, as by 3.4.

Every name in the allow-list directory (and every DISTCC_CMDLIST line) is indexed at \
start, one log line per program; names of one program after links are merged. Nothing \
is run then: a compiler is identified (three runs of its driver, one of ldd, its files \
hashed) the first time a job needs it, and again whenever one of its files changes, which is \
checked before every job. Under --inetd the identities are also kept in \
$DISTCC_DIR/identity (else ~/.distcc/identity), as the client keeps its own.",
            items: &[],
        },
        Section {
            title: "Statistics endpoints",
            text: "\
With --stats, distccd serves HTTP on --stats-port (3633), on --listen's \
address, to --allow'ed peers only:",
            items: &[
                item(
                    "/",
                    "distcc 3.4's plain-text statistics page (any other path too).",
                ),
                item(
                    "/json, /stats.json",
                    "Counters, running jobs and configuration as JSON (read by distcc-farm(1)).",
                ),
                item(
                    "/metrics",
                    "The same counters in Prometheus' text format (distccd_ prefix).",
                ),
                item(
                    "/dashboard",
                    "A live page: running jobs, failures by type, jobs per 10 s over 15 minutes.",
                ),
            ],
        },
        Section {
            title: "Protocol 4",
            text: "\
After every protocol 1-3 reply, in the same write, distccd appends an advertisement: \
ADVT and a few key=value lines (protocol=4). distcc 3.4's client reads exactly the reply \
and never sees it; distcc-rs's client learns from it to speak protocol 4 to this server. \
A protocol 4 request (DIST 4) carries the client's compiler identity and zstd bodies, \
plain or pump; a refusal or a server failure is answered with a result code and the \
reason (RSLT and TEXT; see docs/protocol-4.md), which the client shows and acts on.",
            items: &[],
        },
        Section {
            title: "SSH",
            text: "\
distccd --inetd started by sshd (SSH_CONNECTION set) finds, or starts, one long-lived \
distccd of the ssh user with the same options and environment (--held-socket), listening \
only on a unix socket in ~/.distcc/held/ (a directory of the user, mode 0700, checked; the \
socket 0600, and only the same user may connect), and serves its own job as before. After \
the reply it advertises that socket to our client, whose shared ssh connection then \
forwards a local socket to it: later jobs cost a channel over the held connection instead \
of a session and a distccd start. The held daemon runs as the ssh user (started as root, \
it drops root as --inetd does), keeps the compiler allow-list and the job sandbox, never \
listens on the network (no port, stats port or mDNS), and exits after --ssh-hold seconds \
without a connection (300; 0 turns it off). Starting it is serialised by a lock beside \
the socket; a socket whose daemon is gone is replaced. distcc 3.4's client never reads the \
advertisement and keeps a session per job. The held daemon speaks what --inetd speaks, protocol 4 included.",
            items: &[],
        },
        Section {
            title: "systemd",
            text: "\
distccd.service runs distccd --daemon --no-detach under its own user with a \
hardened sandbox, reading Debian's /etc/default/distcc (see ENVIRONMENT). It is of \
Type=notify: distccd sends READY=1 to $NOTIFY_SOCKET once it listens. With \
distccd.socket enabled, systemd listens on port 3632 and passes the socket to distccd \
(socket activation: LISTEN_FDS); a second socket named stats \
(FileDescriptorName=stats) serves --stats. --port and --listen do not apply \
to passed sockets.

  systemctl enable --now distccd.service
  systemctl enable --now distccd.socket",
            items: &[],
        },
        Section {
            title: "Environment",
            text: "",
            items: &[
                item(
                    "DISTCCD_ALLOWED_COMPILERS",
                    "The allow-list directory, unless --allowed-compilers is given.",
                ),
                item("TMPDIR", "Where job directories are made (default /tmp)."),
                item(
                    "PATH",
                    "Searched once for each allow-listed bare compiler name.",
                ),
                item(
                    "LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES",
                    "Socket activation: listening sockets passed from descriptor 3 on.",
                ),
                item(
                    "NOTIFY_SOCKET",
                    "Where READY=1 and STOPPING=1 are sent (a path or an @abstract name).",
                ),
                item(
                    "DISTCC_CMDLIST",
                    "A file of compiler command lines: only compilers matching one of its lines (on their last DISTCC_CMDLIST_NUMWORDS path components) are served, each replaced by the listed line; the allow-list must accept it too. Unreadable: exit 107.",
                ),
                item(
                    "DISTCC_SAVE_TEMPS",
                    "1: keep each job directory instead of removing it (each is logged).",
                ),
                item(
                    "DISTCC_CMDLIST_NUMWORDS",
                    "How many trailing path components DISTCC_CMDLIST matches (default 1).",
                ),
                item(
                    "DISTCCD_PATH",
                    "The PATH compilers are looked up on and run with (the allow-list directory and links to distcc are still skipped).",
                ),
                item(
                    "DISTCC_TCP_DEFER_ACCEPT",
                    "1: accept a connection only once it has sent data (off by default, where 3.4 has it on: a held-back connection escapes --max-connections and the read deadlines).",
                ),
                item(
                    "STARTDISTCC",
                    "In /etc/default/distcc, read by the service: true to start distccd (Debian's default is false).",
                ),
                item(
                    "ALLOWEDNETS",
                    "In /etc/default/distcc: networks for --allow, separated by blanks.",
                ),
                item(
                    "LISTENER",
                    "In /etc/default/distcc: the address for --listen.",
                ),
                item("NICE", "In /etc/default/distcc: --nice, 0 to 20."),
                item("JOBS", "In /etc/default/distcc: --jobs."),
                item(
                    "ZEROCONF",
                    "In /etc/default/distcc: true or YES passes --zeroconf.",
                ),
            ],
        },
        Section {
            title: "Exit status",
            text: "",
            items: EXIT_CODES,
        },
        Section {
            title: "Files",
            text: "",
            items: &[
                item("/usr/lib/distcc", "The default compiler allow-list."),
                item(
                    "/etc/default/distcc",
                    "Settings read by distccd.service, as by Debian's init script.",
                ),
                item(
                    "/lib/systemd/system/distccd.service, distccd.socket",
                    "The systemd units.",
                ),
            ],
        },
    ],
    see_also: &[
        "distcc(1)",
        "distcc-allowlist(8)",
        "distcc-farm(1)",
        "systemd.socket(5)",
        "inetd(8)",
    ],
};

pub static LSDISTCC: Page = Page {
    name: "lsdistcc",
    section: 1,
    summary: "list the distcc servers that are up",
    synopsis: &["[OPTIONS] [FORMAT]", "[OPTIONS] HOST..."],
    description: "\
lsdistcc looks up host names made from FORMAT (default distcc%d: distcc1, distcc2, … until \
a name does not resolve, up to 500) or the HOSTs given, connects to each, and prints those \
that answer, one per line, in a form ready for DISTCC_HOSTS: \
name[:port][,lzo[,cpp]][,down][ latency]. Options are single letters with their value \
glued on (-t5), as in distcc 3.4.

  export DISTCC_HOSTS=\"$(lsdistcc -pgcc)\"",
    options: tables::LSDISTCC,
    style: Style::Glued,
    groups: &[],
    sections: &[Section {
        title: "Exit status",
        text: "\
0 if any server is up, 1 otherwise, and 1 on a usage error (unlike 3.4, reaching the -t \
time-out does not make it 0).",
        items: &[],
    }],
    see_also: &["distcc(1)", "distccd(1)", "distcc-farm(1)"],
};

pub static DISTCCMON_TEXT: Page = Page {
    name: "distccmon-text",
    section: 1,
    summary: "show the compile jobs of this user's distcc clients",
    synopsis: &["[DELAY]"],
    description: "\
distccmon-text prints one line per running distcc job of this user (pid, phase, file, \
host and slot) in distcc 3.4's format, from the state files in $DISTCC_DIR/state. With \
DELAY it repeats every DELAY (fractional) seconds; without, or with 0, it prints once. It \
reads the state files of distcc 3.4's client as well, and never changes any.",
    options: tables::DISTCCMON_TEXT,
    style: Style::Gnu,
    groups: &[],
    sections: &[
        Section {
            title: "Environment",
            text: "",
            items: &[
                item(
                    "DISTCC_DIR",
                    "Where the state directory is (default ~/.distcc).",
                ),
                item("HOME", "Used when DISTCC_DIR is not set."),
            ],
        },
        Section {
            title: "Exit status",
            text: "0; 1 on a usage error; 100 when neither DISTCC_DIR nor HOME is set; 107 when the state directory cannot be read.",
            items: &[],
        },
    ],
    see_also: &["distcc(1)", "distcc-farm(1)"],
};

pub static DISTCC_FARM: Page = Page {
    name: "distcc-farm",
    section: 1,
    summary: "show every host of the distcc host list at once",
    synopsis: &["[--stats-port PORT] [--timeout SECONDS] [DELAY]"],
    description: "\
distcc-farm reads the client's host list (as distcc(1) does), asks every TCP host's \
statistics port for /json in parallel, reads this user's backoff files and statistics, and \
prints one line per host: answering, down (and why) or backed off; busy and total slots; \
job counts; running jobs. The hosts' distccd must run with --stats. With DISTCC_COORDINATOR \
set (else coord:// entries in the host list), each coordinator's view comes first (hosts with offered, busy, leased and free slots and \
learned speed; every build's leases, fair share and wait; the last decision), and the host \
list becomes optional. With DELAY it repeats every DELAY seconds.",
    options: tables::DISTCC_FARM,
    style: Style::Gnu,
    groups: &[],
    sections: &[
        Section {
            title: "Environment",
            text: "",
            items: &[
                item("DISTCC_HOSTS", "The host list, as for distcc(1)."),
                item(
                    "DISTCC_COORDINATOR",
                    "Farm coordinators to show first, as for distcc(1).",
                ),
                item("DISTCC_DIR", "Where backoff files and statistics are read."),
            ],
        },
        Section {
            title: "Exit status",
            text: "0; 101 on bad arguments; 106 when there is no host list.",
            items: &[],
        },
    ],
    see_also: &["distcc(1)", "distccd(1)", "distccmon-text(1)"],
};

pub static DISTCC_COORDINATOR: Page = Page {
    name: "distcc-coordinator",
    section: 1,
    summary: "hand out the fastest free slot of a distcc farm to clients on many machines",
    synopsis: &["[--listen ADDRESS] [--port PORT] [--lease-secs SECONDS] [--verbose]"],
    description: "\
distcc-coordinator keeps one view of a farm for every client machine. Daemons started with \
distccd --coordinator HOST[:PORT] register and report their slots, busy slots (jobs of any \
client, distcc 3.4's too), load and memory, and offer fewer slots while their own users need \
the machine. A client with DISTCC_COORDINATOR set (or coord://HOST[:PORT] in its host list) asks for a slot for each job and gets a \
lease (host and slot) on a daemon that has its compiler (same compiler identity); it compiles directly with that daemon (sources never pass through \
the coordinator) and releases the lease, or its connection closes, which frees it at once. \
The fastest free slot is given first (speeds are learned from the clients' reports), slow \
hosts are kept off the end of a build, and when several builds wait, a freed slot goes to \
the build holding the fewest. Several coordinators can serve one farm: daemons register \
with all of them, clients try them in order. When no coordinator answers, clients schedule \
over their host list as without one. It runs in the foreground until SIGTERM or SIGINT.",
    options: tables::DISTCC_COORDINATOR,
    style: Style::Gnu,
    groups: &[],
    sections: &[
        Section {
            title: "Endpoints",
            text: "On the same port as the daemons and clients:",
            items: &[
                item(
                    "/json",
                    "Hosts (slots, busy, leased, free, load, learned ms/KB, withdrawn and why), leases, the queue, every build's share and recent decisions.",
                ),
                item("/metrics", "The same counts in Prometheus' text format."),
                item(
                    "/dashboard",
                    "A live page of all of it, polling /json every second.",
                ),
            ],
        },
        Section {
            title: "Exit status",
            text: "0 after SIGTERM or SIGINT; 101 on bad arguments; 102 when the port cannot be bound; 100 on other failures.",
            items: &[],
        },
    ],
    see_also: &["distcc(1)", "distccd(1)"],
};

pub static DISTCC_ZEROCONF: Page = Page {
    name: "distcc-zeroconf",
    section: 1,
    summary: "keep the list of distcc servers found over mDNS",
    synopsis: &["DIR"],
    description: "\
distcc(1) starts distcc-zeroconf when its host list holds +zeroconf and no browser runs \
for its $DISTCC_DIR, as distcc 3.4's client forks one; it is not meant to be run by hand. \
It detaches, takes DIR/lock (one browser per directory), browses the DNS-SD type \
_distcc._tcp over mDNS on every interface, keeps the servers whose TXT records cc_machine \
and cc_version name this machine's cc (compared as distcc 3.4 compares them, through its \
subtype _MACHINE--VERSION._sub._distcc._tcp with characters other than letters and digits \
made -), and rewrites DIR/hosts at each change: one ADDRESS:PORT/JOBS line per server, \
JOBS from the TXT record jobs (4 x cpus when it is not positive, 4 when absent). Servers \
that announce their departure are removed at once. It exits when no client has read the \
file for 20 seconds. The file and its locks are distcc 3.4's, so 3.4's clients and ours \
can share one browser.",
    options: tables::DISTCC_ZEROCONF,
    style: Style::Gnu,
    groups: &[],
    sections: &[
        Section {
            title: "Environment",
            text: "",
            items: &[item(
                "DISTCC_ZEROCONF_INTERFACE",
                "Browse only on this interface (by name; lo for loopback); unset: every interface.",
            )],
        },
        Section {
            title: "Files",
            text: "",
            items: &[
                item(
                    "$DISTCC_DIR/zeroconf/hosts",
                    "The servers found (read by distcc(1) for +zeroconf).",
                ),
                item(
                    "$DISTCC_DIR/zeroconf/lock",
                    "Held by the running browser (an fcntl lock).",
                ),
                item(
                    "$DISTCC_DIR/zeroconf/browser.pid",
                    "The running browser's pid.",
                ),
            ],
        },
        Section {
            title: "Exit status",
            text: "0 (also when another browser already runs); 101 on bad arguments; 100 when mDNS cannot start; 107 when DIR cannot be used.",
            items: &[],
        },
    ],
    see_also: &["distcc(1)", "distccd(1)"],
};

pub static DISTCC_REAPI: Page = Page {
    name: "distcc-reapi",
    section: 1,
    summary: "compile on a Remote Execution API engine, or serve one as its worker",
    synopsis: &[
        "submit reapi://HOST:PORT/INSTANCE",
        "worker --engine reapi://HOST:PORT/INSTANCE [OPTIONS]",
    ],
    description: "\
distcc-reapi submit is run by distcc(1) for a reapi:// host; it is not meant to be run by \
hand. It reads one distcc request on its standard input, makes it an REAPI v2 Action (the \
preprocessed source, or a protocol 3 request's files, as the input root, the command line, the platform \
properties distcc-fingerprint and distcc-target of the compiler's protocol 4 identity, \
which distcc passes in DISTCC_CCID), asks the engine's Action \
Cache, uploads only the blobs the engine lacks, executes the Action (waiting at most \
DISTCC_REAPI_TIMEOUT seconds, then cancelling it) and writes the distcc reply on its \
standard output. When the engine cannot be used it says why on standard error and exits \
without a reply, and distcc falls back as for any failed host. \
distcc-reapi worker joins the engine as --bots bot sessions of the Remote Workers API \
(as BuildGrid speaks it), advertising distcc-fingerprint and distcc-target for each --compiler and language, \
and hands each job to the distccd at --daemon as a protocol 4 request carrying the \
Action's compiler identity, so every check of that daemon (allowed compilers by \
identity, command-line policy, caps, sandbox, --jobs) applies and a job is never run by \
another compiler (a refusal fails the lease, and the client compiles locally); the outputs go \
to the engine's CAS and the result back with the lease.",
    options: tables::DISTCC_REAPI,
    style: Style::Gnu,
    groups: &[],
    sections: &[
        Section {
            title: "Environment",
            text: "",
            items: &[
                item(
                    "DISTCC_REAPI_TIMEOUT",
                    "submit: seconds to wait for a result (default 300).",
                ),
                item(
                    "DISTCC_REAPI_PROPERTIES",
                    "submit: KEY=VALUE,... platform properties added to the Action.",
                ),
                item(
                    "DISTCC_REAPI_DEBUG",
                    "submit: say on standard error whether the result came from the Action Cache, and the bytes sent and received.",
                ),
                item(
                    "DISTCC_TLS_CA, DISTCC_TLS_PIN, DISTCC_TLS_CERT, DISTCC_TLS_KEY",
                    "For an engine address ending in ,tls (submit and worker): the CA file that issued the engine's certificate, or its SHA-256 pin; a client certificate and key.",
                ),
                item(
                    "DISTCC_REAPI_TOKEN, DISTCC_REAPI_TOKEN_FILE",
                    "submit and worker: a bearer token (or a file whose first line is one) sent as authorization: Bearer on every call to a ,tls engine; with a plain engine it is refused, never sent.",
                ),
                item(
                    "DISTCC_CCID",
                    "submit: the job's compiler identity (protocol 4's CCID text), which distcc sets; the Action's platform pins its fingerprint and target (distcc-fingerprint, distcc-target), and the Command carries it for the worker's distccd. A job without it is refused (distcc compiles locally).",
                ),
                item(
                    "DISTCC_PROTOCOL",
                    "Not read from this program's environment: set to 3 in the Command (its environment_variables) of an Action made from a protocol 3 request, which tells the worker to send distccd the file list.",
                ),
            ],
        },
        Section {
            title: "Exit status",
            text: "0 on success; 1 when the job could not be done through the engine (submit) or the worker cannot start; 2 on bad usage.",
            items: &[],
        },
    ],
    see_also: &["distcc(1)", "distccd(1)"],
};

pub static PUMP: Page = Page {
    name: "pump",
    section: 1,
    summary: "run a build in distcc's pump mode",
    synopsis: &["COMMAND [ARG...]", "--startup", "--shutdown"],
    description: "\
pump accelerates distcc by also distributing preprocessing: it starts an include server \
(include-server(1)), which tells each distcc client which headers a source needs; the \
client sends source and headers to hosts marked ,cpp, which preprocess there.

pump COMMAND runs COMMAND (typically make -j80 CC='distcc gcc') with the include server \
started, INCLUDE_SERVER_PORT set and distcc first on PATH, then stops the server and \
reports how many jobs had to be retried locally. --startup and --shutdown split \
that in two:

  eval `pump --startup`
  make -j80
  pump --shutdown

Sources must not change while the include server runs.",
    options: tables::PUMP,
    style: Style::Gnu,
    groups: &[],
    sections: &[
        Section {
            title: "Environment",
            text: "",
            items: &[
                item(
                    "DISTCC_HOSTS",
                    "Hosts; pump mode needs at least one ,cpp,lzo host.",
                ),
                item(
                    "DISTCC_POTENTIAL_HOSTS",
                    "Servers to probe with lsdistcc(1) to build DISTCC_HOSTS.",
                ),
                item("LSDISTCC_ARGS", "Extra arguments to lsdistcc."),
                item(
                    "DISTCC_LOCATION",
                    "Where distcc and include-server are (default: this program's directory).",
                ),
                item(
                    "INCLUDE_SERVER_ARGS",
                    "Extra arguments to the include server.",
                ),
                item(
                    "INCLUDE_SERVER_PID, INCLUDE_SERVER_DIR, INCLUDE_SERVER_PORT",
                    "Set by --startup; read by --shutdown and by distcc.",
                ),
                item(
                    "DISTCC_MAX_DISCREPANCY",
                    "Remote failures that succeed locally before pump mode is dropped (default 1).",
                ),
                item(
                    "DISTCC_CLIENT_TMP",
                    "Where the include server keeps its copies (default /dev/shm).",
                ),
            ],
        },
        Section {
            title: "Exit status",
            text: "COMMAND's exit status; 1 when the include server cannot be started or stopped.",
            items: &[],
        },
    ],
    see_also: &["distcc(1)", "include-server(1)", "distccd(1)"],
};

pub static INCLUDE_SERVER: Page = Page {
    name: "include-server",
    section: 1,
    summary: "the include server of distcc's pump mode",
    synopsis: &["--port SOCKET [--pid_file FILE] [-s] [--foreground]"],
    description: "\
include-server answers distcc clients in pump mode: given a compile command line, it lists \
every header the source may include (computed includes over all definitions seen), as \
compressed copies under its client root. It binds SOCKET, forks, writes the server's pid \
and returns; the server runs until SIGTERM or SIGINT, then removes its root and the \
socket. pump(1) starts and stops it; it is rarely run by hand.",
    options: tables::INCLUDE_SERVER,
    style: Style::Gnu,
    groups: &[],
    sections: &[
        Section {
            title: "Environment",
            text: "",
            items: &[item(
                "DISTCC_CLIENT_TMP",
                "Parent of the client root (default /dev/shm, else /tmp).",
            )],
        },
        Section {
            title: "Exit status",
            text: "0; 1 on a usage error or when the socket cannot be bound.",
            items: &[],
        },
    ],
    see_also: &["pump(1)", "distcc(1)"],
};

pub static DISTCC_ALLOWLIST: Page = Page {
    name: "distcc-allowlist",
    section: 8,
    summary: "make or refresh distccd's compiler allow-list",
    synopsis: &[
        "[--dir DIR] [--bin-dir DIR] [--target PATH] [-n] [-v]",
        "--list",
    ],
    description: "\
distcc-allowlist fills the directory distccd(1) reads its compiler allow-list from \
(/usr/lib/distcc by default) with one symbolic link per compiler installed in /usr/bin, \
found as Debian's update-distcc-symlinks finds them: cc, c++, gcc, g++, c89-gcc, \
c99-gcc, each target triple and version of gcc and g++ under /usr/lib/gcc and \
/usr/lib/gcc-cross, clang, clang++ and their versions, and nvcc. Links whose compiler is \
gone are removed; other entries are left alone. The links point to the distcc client, so \
the same directory serves as a masquerade directory (PATH=/usr/lib/distcc:$PATH).

Run it after installing or removing a compiler. The package runs it on installation.",
    options: tables::DISTCC_ALLOWLIST,
    style: Style::Gnu,
    groups: &[],
    sections: &[
        Section {
            title: "Environment",
            text: "",
            items: &[item(
                "DISTCCD_ALLOWED_COMPILERS",
                "The default directory, as for distccd(1).",
            )],
        },
        Section {
            title: "Exit status",
            text: "0; 1 when the directory cannot be made or written; 2 on bad arguments.",
            items: &[],
        },
    ],
    see_also: &[
        "distccd(1)",
        "distcc-masquerade(1)",
        "update-distcc-symlinks(8)",
    ],
};

pub static DISTCC_MASQUERADE: Page = Page {
    name: "distcc-masquerade",
    section: 1,
    summary: "make a user's masquerade directory for distcc",
    synopsis: &["[--dir DIR] [--distcc PATH] [-n]"],
    description: "\
distcc-masquerade makes a directory of links named after the installed compilers (cc, \
c++, gcc, g++, clang, clang++ and their versions) pointing at distcc(1), and prints the \
line that puts it first on PATH. Builds that call gcc then go through distcc without \
changing CC. distcc skips the directory when it looks for the real compiler. Run again \
to add newly installed compilers and drop removed ones.

  eval \"$(distcc-masquerade)\"
  make -j16",
    options: tables::DISTCC_MASQUERADE,
    style: Style::Gnu,
    groups: &[],
    sections: &[
        Section {
            title: "Environment",
            text: "",
            items: &[
                item(
                    "DISTCC_DIR",
                    "The default directory is $DISTCC_DIR/masquerade.",
                ),
                item(
                    "HOME",
                    "Used when DISTCC_DIR is not set (~/.distcc/masquerade).",
                ),
            ],
        },
        Section {
            title: "Exit status",
            text: "0; 1 when distcc is not found or the directory cannot be written; 2 on bad arguments.",
            items: &[],
        },
    ],
    see_also: &["distcc(1)", "distcc-allowlist(8)"],
};
