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
                    "reapi://HOST:PORT[/INSTANCE][,lzo]",
                    "A Remote Execution API (REAPI v2) engine such as BuildGrid, instance \
INSTANCE: each job becomes an Action (the preprocessed source as its input root, the \
server's command line, a platform property distcc-compiler pinning the compiler's \
family, version and target), looked up in the Action Cache first, then executed by a \
worker of the engine (distcc-reapi worker beside a distccd). distcc runs distcc-reapi \
submit (beside it, else on PATH) for these jobs, so a compile to a plain host links no \
gRPC. Up to 16 jobs at once; a job no worker takes within DISTCC_REAPI_TIMEOUT, or an \
engine that cannot be reached, falls back like any failed host. With ,cpp (pump mode) or \
DISTCC_IDENTICAL_DEBUG's source route, the job's file list is the input root at the \
client's paths and its directory the working directory, so -g objects are identical to a \
local build. Plain gRPC only (no TLS or credentials yet).",
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
                    ",auth",
                    "GSS-API authentication: not supported, refused with a message.",
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
                    "DISTCC_SSH",
                    "The ssh command for @HOST entries (default ssh), split on spaces.",
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
                    "DISTCC_SSH_PERSIST",
                    "Seconds a shared ssh connection stays open when idle (default 300; 0 turns sharing off).",
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
2 and 3. It runs as a standalone daemon (--daemon), from inetd or over ssh \
(--inetd; without either, inetd mode if stdin is a socket), or under systemd, which \
may pass it its listening socket.

As a daemon it refuses to start without --allow or --allow-private. Started as \
root it switches to the user given by --user, else distcc, distccd or nobody, and \
never keeps root. Each job runs in its own temporary directory, which is removed \
afterwards; a client that hangs up kills its compiler.

Only compilers named in the allow-list directory are run (see COMPILER ALLOW-LIST). A \
refused request is answered with the reason, which the client prints.

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
job counts; running jobs. The hosts' distccd must run with --stats. With DELAY it \
repeats every DELAY seconds.",
    options: tables::DISTCC_FARM,
    style: Style::Gnu,
    groups: &[],
    sections: &[
        Section {
            title: "Environment",
            text: "",
            items: &[
                item("DISTCC_HOSTS", "The host list, as for distcc(1)."),
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
property distcc-compiler = FAMILY|VERSION|TARGET of the compiler), asks the engine's Action \
Cache, uploads only the blobs the engine lacks, executes the Action (waiting at most \
DISTCC_REAPI_TIMEOUT seconds, then cancelling it) and writes the distcc reply on its \
standard output. When the engine cannot be used it says why on standard error and exits \
without a reply, and distcc falls back as for any failed host. \
distcc-reapi worker joins the engine as --bots bot sessions of the Remote Workers API \
(as BuildGrid speaks it), advertising distcc-compiler for each --compiler, and hands each \
job to the distccd at --daemon as a plain distcc request, so every check of that daemon \
(allowed compilers, command-line policy, caps, sandbox, --jobs) applies; the outputs go \
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
