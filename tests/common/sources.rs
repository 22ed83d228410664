//! Sources the chunked-transfer tests of both suites compile.

/// Three C files (`src/big_a.c`, `big_b.c`, `big_c.c`) that include the same large set of
/// system headers (each preprocessed well past the client's chunking threshold) and differ
/// in their own code.
pub fn write_big_sources(dir: &std::path::Path) {
    let headers = [
        "stdio.h",
        "stdlib.h",
        "string.h",
        "math.h",
        "time.h",
        "unistd.h",
        "fcntl.h",
        "signal.h",
        "pthread.h",
        "sys/stat.h",
        "sys/socket.h",
        "netinet/in.h",
        "locale.h",
        "wchar.h",
    ];
    let includes: String = headers
        .iter()
        .map(|h| format!("#include <{h}>\n"))
        .collect();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    for (name, body) in [
        (
            "big_a",
            "int big_a(int x) { return (int)strlen(\"a\") + x * 3; }\n",
        ),
        (
            "big_b",
            "double big_b(double x) { return sqrt(x) + (double)getpid(); }\n",
        ),
        (
            "big_c",
            "long big_c(long x) { return labs(x) + time(0); }\n",
        ),
    ] {
        std::fs::write(
            dir.join(format!("src/{name}.c")),
            format!("{includes}{body}"),
        )
        .unwrap();
    }
}
