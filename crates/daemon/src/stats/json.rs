//! The stats as one JSON object (`/json`), for the dashboard, the farm view and scripts.
//!
//! Written by hand (the daemon stays std-only): a small writer that escapes strings per RFC
//! 8259. Shape, top level: `version`, `pid`, `uptime_secs`, `started_unix`, `config`,
//! `counters`, `refused_by_reason`, `compilers`, `slots` (`total`, `busy`), `running` (array
//! of `id`, `peer`, `compiler`, `file`, `phase`, `elapsed_ms`), `longest_job` (or null),
//! `system`, `history` (`interval_secs`, `buckets` oldest first, at most 15 minutes).

use std::fmt::Write;
use std::time::Duration;

use super::system::System;
use super::{BUCKET, Refusal, Snapshot};

/// History buckets included: 15 minutes, enough for 3.4's longest average.
const HISTORY_SENT: usize = 90;

/// Appends `s` as a JSON string literal.
pub fn string(o: &mut String, s: &str) {
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            // `<` too, so a file name can never close a script element of a page that inlines it.
            c if (c as u32) < 0x20 || c == '<' || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
}

fn float(o: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(o, "{v:.2}");
    } else {
        o.push_str("null");
    }
}

/// The whole document.
pub fn render(s: &Snapshot, sys: &System) -> String {
    let mut o = String::with_capacity(4096);
    let c = &s.counters;
    o.push_str("{\"version\":");
    string(&mut o, &s.config.version);
    let _ = write!(
        o,
        ",\"pid\":{},\"uptime_secs\":{},\"started_unix\":{}",
        s.pid,
        s.uptime.as_secs(),
        s.started_unix
    );
    let cfg = &s.config;
    o.push_str(",\"config\":{\"jobs\":");
    let _ = write!(o, "{}", cfg.jobs);
    o.push_str(",\"listen\":");
    string(&mut o, &cfg.listen);
    let _ = write!(
        o,
        ",\"port\":{},\"stats_port\":{},\"allow\":[",
        cfg.port, cfg.stats_port
    );
    for (i, a) in cfg.allow.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        string(&mut o, a);
    }
    o.push_str("],\"allowed_compilers\":");
    string(&mut o, &cfg.allowed_compilers);
    match cfg.job_lifetime_secs {
        Some(l) => {
            let _ = write!(o, ",\"job_lifetime_secs\":{l}");
        }
        None => o.push_str(",\"job_lifetime_secs\":null"),
    }
    let _ = write!(
        o,
        ",\"max_connections\":{},\"max_connections_per_peer\":{},\"max_object_bytes\":{}",
        cfg.max_connections, cfg.max_per_peer, cfg.max_object
    );
    o.push_str(",\"sandbox\":");
    string(&mut o, &cfg.sandbox);
    if let Some(b) = &cfg.budget {
        let u = b.usage();
        let _ = write!(
            o,
            ",\"memory_budget\":{{\"limit\":{},\"used\":{},\"peak\":{},\"refused\":{}}}",
            u.limit, u.used, u.peak, u.refused
        );
    }
    o.push('}');
    let _ = write!(
        o,
        ",\"counters\":{{\"tcp_accept\":{},\"rej_access\":{},\"rej_overload\":{},\
         \"bad_request\":{},\"empty_connection\":{},\"compile_ok\":{},\"compile_error\":{},\
         \"compile_timeout\":{},\"cli_disconnect\":{},\"refused\":{},\"failed\":{},\
         \"bytes_in\":{},\"bytes_out\":{}}}",
        c.tcp_accept,
        c.rej_access,
        c.rej_overload,
        c.bad_request,
        c.empty,
        c.ok,
        c.compile_error,
        c.timeout,
        c.disconnect,
        c.refused_total(),
        c.failed,
        c.bytes_in,
        c.bytes_out
    );
    o.push_str(",\"refused_by_reason\":{");
    for (i, r) in Refusal::ALL.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        let _ = write!(
            o,
            "\"{}\":{}",
            r.name(),
            c.refused.get(r).copied().unwrap_or(0)
        );
    }
    o.push_str("},\"compilers\":{");
    for (i, (name, n)) in s.compilers.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        string(&mut o, name);
        let _ = write!(
            o,
            ":{{\"ok\":{},\"error\":{},\"other\":{}}}",
            n.ok, n.error, n.other
        );
    }
    let _ = write!(
        o,
        "}},\"slots\":{{\"total\":{},\"busy\":{}}},\"running\":[",
        cfg.jobs,
        s.busy()
    );
    for (i, r) in s.running.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        let _ = write!(o, "{{\"id\":{},\"peer\":", r.id);
        string(&mut o, &r.peer);
        o.push_str(",\"compiler\":");
        string(&mut o, &r.compiler);
        o.push_str(",\"file\":");
        string(&mut o, &r.file);
        let _ = write!(
            o,
            ",\"phase\":\"{}\",\"elapsed_ms\":{}}}",
            r.phase.name(),
            r.elapsed.as_millis()
        );
    }
    o.push_str("],\"longest_job\":");
    match &s.longest {
        Some(l) => {
            o.push_str("{\"file\":");
            string(&mut o, &l.file);
            o.push_str(",\"compiler\":");
            string(&mut o, &l.compiler);
            let _ = write!(o, ",\"ms\":{}}}", l.ms);
        }
        None => o.push_str("null"),
    }
    o.push_str(",\"system\":{\"load\":");
    match sys.load {
        Some(l) => {
            o.push('[');
            for (i, v) in l.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                float(&mut o, *v);
            }
            o.push(']');
        }
        None => o.push_str("null"),
    }
    let opt = |v: Option<u64>| v.map_or("null".to_owned(), |v| v.to_string());
    let _ = write!(
        o,
        ",\"running_processes\":{},\"free_space_mb\":{},\"procs_d\":{},\"max_rss_kb\":{},\"max_rss_name\":",
        opt(sys.running),
        opt(sys.free_space_mb),
        sys.procs_d,
        sys.max_rss_kb
    );
    string(&mut o, &sys.max_rss_name);
    let min = |m: u64| Duration::from_secs(60 * m);
    o.push_str("},\"avg_busy\":[");
    for (i, m) in [1, 5, 15].into_iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        float(&mut o, s.avg_busy(min(m)));
    }
    let _ = write!(
        o,
        "],\"history\":{{\"interval_secs\":{},\"buckets\":[",
        BUCKET.as_secs()
    );
    let skip = s.history.len().saturating_sub(HISTORY_SENT);
    for (i, b) in s.history.iter().skip(skip).enumerate() {
        if i > 0 {
            o.push(',');
        }
        let _ = write!(
            o,
            "{{\"start_unix\":{},\"ok\":{},\"compile_error\":{},\"timeout\":{},\"disconnect\":{},\
             \"refused\":{},\"failed\":{},\"bad_request\":{},\"busy_ms\":{}}}",
            s.started_unix + b.index * BUCKET.as_secs(),
            b.ok,
            b.compile_error,
            b.timeout,
            b.disconnect,
            b.refused,
            b.failed,
            b.bad_request,
            b.busy_ms
        );
    }
    o.push_str("]}}\n");
    o
}

#[cfg(test)]
mod tests {
    use super::super::{Config, End, Phase, Stats};
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut o = String::new();
        string(&mut o, "a\"b\\c\n\u{1}</script>é");
        assert_eq!(o, r#""a\"b\\c\n\u0001\u003c/script>é""#);
    }

    #[test]
    fn a_document_with_a_running_job() {
        let stats = Stats::new(Config {
            version: "distccd test".into(),
            jobs: 2,
            allow: vec!["127.0.0.1/32".into()],
            ..Config::default()
        });
        let t = stats.begin("127.0.0.1:9", "gcc", "dir/\"q\".c");
        t.set_phase(Phase::Compiling);
        let t2 = stats.begin("127.0.0.1:9", "cc", "b.c");
        stats.end(t2, End::CompileError, Some(Duration::from_millis(5)));
        let doc = render(&stats.snapshot(), &System::default());
        assert!(doc.starts_with("{\"version\":\"distccd test\""));
        assert!(doc.contains("\"allow\":[\"127.0.0.1/32\"]"));
        assert!(doc.contains("\"compile_error\":1"));
        assert!(doc.contains("\"slots\":{\"total\":2,\"busy\":1}"));
        assert!(doc.contains("\"file\":\"dir/\\\"q\\\".c\",\"phase\":\"compiling\""));
        assert!(doc.contains("\"compilers\":{\"cc\":{\"ok\":0,\"error\":1,\"other\":0}}"));
        assert!(doc.contains("\"longest_job\":null"));
        // Balanced, at least.
        assert_eq!(doc.matches('{').count(), doc.matches('}').count());
        assert_eq!(doc.matches('[').count(), doc.matches(']').count());
        drop(t);
    }
}
