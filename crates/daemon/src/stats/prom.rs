//! The stats in Prometheus' text exposition format (version 0.0.4), at `/metrics`.
//!
//! Every series is prefixed `distccd_`; counters end in `_total`. Label values are escaped
//! (`\\`, `\"`, `\n`) since compiler names come from clients.

use std::fmt::Write;

use super::system::System;
use super::{Refusal, Snapshot};

/// The content type Prometheus expects for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn label(v: &str) -> String {
    let mut o = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o
}

fn head(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP distccd_{name} {help}");
    let _ = writeln!(o, "# TYPE distccd_{name} {kind}");
}

/// The whole exposition.
pub fn render(s: &Snapshot, sys: &System) -> String {
    let c = &s.counters;
    let mut o = String::with_capacity(4096);
    head(&mut o, "info", "gauge", "Version of this daemon.");
    let _ = writeln!(
        o,
        "distccd_info{{version=\"{}\"}} 1",
        label(&s.config.version)
    );
    head(
        &mut o,
        "uptime_seconds",
        "gauge",
        "Seconds since the daemon started.",
    );
    let _ = writeln!(o, "distccd_uptime_seconds {}", s.uptime.as_secs());
    head(
        &mut o,
        "job_slots",
        "gauge",
        "Compilers that may run at once (--jobs).",
    );
    let _ = writeln!(o, "distccd_job_slots {}", s.config.jobs);
    head(
        &mut o,
        "sandbox",
        "gauge",
        "1 when every job runs in a sandbox; the label says how (or why not).",
    );
    let sandboxed = !s.config.sandbox.starts_with("off");
    let _ = writeln!(
        o,
        "distccd_sandbox{{mode=\"{}\"}} {}",
        label(&s.config.sandbox),
        u8::from(sandboxed)
    );
    if let Some(b) = &s.config.budget {
        let u = b.usage();
        head(
            &mut o,
            "memory_budget_bytes",
            "gauge",
            "Bytes of bodies and results all connections may hold (--memory-budget-mb).",
        );
        let _ = writeln!(o, "distccd_memory_budget_bytes {}", u.limit);
        head(
            &mut o,
            "memory_budget_used_bytes",
            "gauge",
            "Bytes of the memory budget held now.",
        );
        let _ = writeln!(o, "distccd_memory_budget_used_bytes {}", u.used);
        head(
            &mut o,
            "memory_budget_refusals_total",
            "counter",
            "Bodies or results refused because the memory budget was spent.",
        );
        let _ = writeln!(o, "distccd_memory_budget_refusals_total {}", u.refused);
    }
    head(
        &mut o,
        "jobs_running",
        "gauge",
        "Requests being served, by phase.",
    );
    for phase in ["receiving", "queued", "compiling"] {
        let n = s.running.iter().filter(|r| r.phase.name() == phase).count();
        let _ = writeln!(o, "distccd_jobs_running{{phase=\"{phase}\"}} {n}");
    }
    head(
        &mut o,
        "connections_accepted_total",
        "counter",
        "Connections that passed the access list and the connection cap.",
    );
    let _ = writeln!(o, "distccd_connections_accepted_total {}", c.tcp_accept);
    head(
        &mut o,
        "connections_rejected_total",
        "counter",
        "Connections that never became a job, by reason.",
    );
    for (reason, n) in [
        ("access", c.rej_access),
        ("overload", c.rej_overload),
        ("bad_request", c.bad_request),
        ("empty", c.empty),
    ] {
        let _ = writeln!(
            o,
            "distccd_connections_rejected_total{{reason=\"{reason}\"}} {n}"
        );
    }
    head(
        &mut o,
        "jobs_total",
        "counter",
        "Finished requests, by result.",
    );
    for (result, n) in [
        ("ok", c.ok),
        ("compile_error", c.compile_error),
        ("timeout", c.timeout),
        ("client_disconnect", c.disconnect),
        ("refused", c.refused_total()),
        ("failed", c.failed),
    ] {
        let _ = writeln!(o, "distccd_jobs_total{{result=\"{result}\"}} {n}");
    }
    head(
        &mut o,
        "refused_total",
        "counter",
        "Requests refused before compiling, by reason.",
    );
    for r in Refusal::ALL {
        let _ = writeln!(
            o,
            "distccd_refused_total{{reason=\"{}\"}} {}",
            r.name(),
            c.refused.get(&r).copied().unwrap_or(0)
        );
    }
    head(
        &mut o,
        "compiler_jobs_total",
        "counter",
        "Jobs that ran a compiler, by compiler name and result.",
    );
    for (name, n) in &s.compilers {
        let name = label(name);
        for (result, v) in [("ok", n.ok), ("error", n.error), ("other", n.other)] {
            let _ = writeln!(
                o,
                "distccd_compiler_jobs_total{{compiler=\"{name}\",result=\"{result}\"}} {v}"
            );
        }
    }
    head(
        &mut o,
        "bytes_received_total",
        "counter",
        "Bytes read from clients.",
    );
    let _ = writeln!(o, "distccd_bytes_received_total {}", c.bytes_in);
    head(
        &mut o,
        "bytes_sent_total",
        "counter",
        "Bytes written to clients.",
    );
    let _ = writeln!(o, "distccd_bytes_sent_total {}", c.bytes_out);
    head(
        &mut o,
        "longest_job_seconds",
        "gauge",
        "Compile time of the longest successful job.",
    );
    let longest = s.longest.as_ref().map_or(0.0, |l| l.ms as f64 / 1000.0);
    let _ = writeln!(o, "distccd_longest_job_seconds {longest}");
    if let Some(l) = sys.load {
        head(&mut o, "load_average", "gauge", "System load averages.");
        for (w, v) in ["1m", "5m", "15m"].iter().zip(l) {
            let _ = writeln!(o, "distccd_load_average{{window=\"{w}\"}} {v}");
        }
    }
    if let Some(f) = sys.free_space_mb {
        head(
            &mut o,
            "free_space_bytes",
            "gauge",
            "Free space where jobs run ($TMPDIR).",
        );
        let _ = writeln!(o, "distccd_free_space_bytes {}", f * 1024 * 1024);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::super::{Config, End, Stats};
    use super::*;

    #[test]
    fn series_and_escaping() {
        let stats = Stats::new(Config {
            version: "v\"1".into(),
            jobs: 3,
            ..Config::default()
        });
        let t = stats.begin("p", "we\"ird\\cc", "a.c");
        stats.end(t, End::Ok, None);
        let text = render(&stats.snapshot(), &System::default());
        assert!(text.contains("distccd_info{version=\"v\\\"1\"} 1\n"));
        assert!(text.contains("distccd_job_slots 3\n"));
        assert!(text.contains("distccd_jobs_total{result=\"ok\"} 1\n"));
        assert!(text.contains(
            "distccd_compiler_jobs_total{compiler=\"we\\\"ird\\\\cc\",result=\"ok\"} 1\n"
        ));
        // Every sample line is `name{labels} value` or `name value`, and has a TYPE.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').expect("a value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let name = series.split('{').next().unwrap_or("");
            assert!(text.contains(&format!("# TYPE {name} ")), "{line}");
        }
    }
}
