//! 3.4's plain-text stats page, byte for byte in its layout: an HTTP/1.0 header with bare
//! `\n` line ends, then `argv /distccd`, `<distccstats>`, one `dcc_<name> <value>` line per
//! counter in 3.4's order, `</distccstats>`. Existing scrapers parse exactly this.
//!
//! Where 3.4's figure and ours differ in meaning, the name keeps 3.4's meaning as closely as
//! our events allow: `dcc_other` counts refusals and daemon-side failures (3.4 closed the
//! connection on a refusal and counted it there); `dcc_io_rate` is -1 (not measured).

use std::fmt::Write;
use std::time::Duration;

use super::Snapshot;
use super::system::System;

/// The header 3.4 sends before the page.
pub const HEADER: &str = "HTTP/1.0 200 OK\nContent-Type: text/plain\nConnection: close\n\n";

/// The body of the page (after [`HEADER`]).
pub fn render(s: &Snapshot, sys: &System) -> String {
    let c = &s.counters;
    let min = |m: u64| Duration::from_secs(60 * m);
    let (longest_file, longest_cc, longest_ms) = match &s.longest {
        Some(l) => (l.file.as_str(), l.compiler.as_str(), l.ms as i64),
        None => ("none", "none", -1),
    };
    let load = sys.load.unwrap_or([-1.0; 3]);
    let mut o = String::with_capacity(1024);
    let _ = write!(
        o,
        "argv /distccd\n<distccstats>\n\
         dcc_tcp_accept {}\n\
         dcc_rej_bad_req {}\n\
         dcc_rej_overload {}\n\
         dcc_compile_ok {}\n\
         dcc_compile_error {}\n\
         dcc_compile_timeout {}\n\
         dcc_cli_disconnect {}\n\
         dcc_other {}\n\
         dcc_longest_job {}\n\
         dcc_longest_job_compiler {}\n\
         dcc_longest_job_time_msecs {}\n\
         dcc_max_kids {}\n\
         dcc_avg_kids1 {}\n\
         dcc_avg_kids2 {}\n\
         dcc_avg_kids3 {}\n\
         dcc_current_load {}\n\
         dcc_load1 {:.2}\n\
         dcc_load2 {:.2}\n\
         dcc_load3 {:.2}\n\
         dcc_num_compiles1 {}\n\
         dcc_num_compiles2 {}\n\
         dcc_num_compiles3 {}\n\
         dcc_num_procstate_D {}\n\
         dcc_max_RSS {}\n\
         dcc_max_RSS_name {}\n\
         dcc_io_rate -1\n\
         dcc_free_space {} MB\n\
         </distccstats>\n",
        c.tcp_accept,
        c.bad_request,
        c.rej_overload,
        c.ok,
        c.compile_error,
        c.timeout,
        c.disconnect,
        c.refused_total() + c.failed,
        one_line(longest_file),
        one_line(longest_cc),
        longest_ms,
        s.config.jobs,
        // 3.4 prints whole numbers of busy children (an integer division).
        s.avg_busy(min(1)) as u64,
        s.avg_busy(min(5)) as u64,
        s.avg_busy(min(15)) as u64,
        sys.running.map_or(-1, |r| r as i64),
        load[0],
        load[1],
        load[2],
        s.recent(min(1), |b| b.compiles()),
        s.recent(min(5), |b| b.compiles()),
        s.recent(min(15), |b| b.compiles()),
        sys.procs_d,
        sys.max_rss_kb,
        sys.max_rss_name,
        sys.free_space_mb.map_or(-1, |m| m as i64),
    );
    o
}

/// A client-chosen file name must not add lines to a page that scrapers split by line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{Config, End, Phase, Stats};
    use super::*;

    #[test]
    fn the_page_has_3_4s_lines_in_3_4s_order() {
        let stats = Stats::new(Config {
            jobs: 4,
            ..Config::default()
        });
        stats.accepted();
        let t = stats.begin("p", "gcc", "x\ny.c");
        t.set_phase(Phase::Compiling);
        stats.end(t, End::Ok, Some(Duration::from_millis(1234)));
        let sys = System {
            load: Some([1.0, 0.5, 0.25]),
            running: Some(3),
            free_space_mb: Some(999),
            procs_d: 0,
            max_rss_kb: 100,
            max_rss_name: "(rustc)".into(),
        };
        let page = render(&stats.snapshot(), &sys);
        let names: Vec<&str> = page
            .lines()
            .map(|l| l.split(' ').next().unwrap_or(""))
            .collect();
        assert_eq!(
            names,
            [
                "argv",
                "<distccstats>",
                "dcc_tcp_accept",
                "dcc_rej_bad_req",
                "dcc_rej_overload",
                "dcc_compile_ok",
                "dcc_compile_error",
                "dcc_compile_timeout",
                "dcc_cli_disconnect",
                "dcc_other",
                "dcc_longest_job",
                "dcc_longest_job_compiler",
                "dcc_longest_job_time_msecs",
                "dcc_max_kids",
                "dcc_avg_kids1",
                "dcc_avg_kids2",
                "dcc_avg_kids3",
                "dcc_current_load",
                "dcc_load1",
                "dcc_load2",
                "dcc_load3",
                "dcc_num_compiles1",
                "dcc_num_compiles2",
                "dcc_num_compiles3",
                "dcc_num_procstate_D",
                "dcc_max_RSS",
                "dcc_max_RSS_name",
                "dcc_io_rate",
                "dcc_free_space",
                "</distccstats>",
            ]
        );
        assert!(page.contains("\ndcc_tcp_accept 1\n"));
        assert!(page.contains("\ndcc_compile_ok 1\n"));
        assert!(page.contains("\ndcc_longest_job x?y.c\n"));
        assert!(page.contains("\ndcc_longest_job_time_msecs 1234\n"));
        assert!(page.contains("\ndcc_max_kids 4\n"));
        assert!(page.contains("\ndcc_load1 1.00\n"));
        assert!(page.contains("\ndcc_num_compiles1 1\n"));
        assert!(page.contains("\ndcc_free_space 999 MB\n"));
    }

    #[test]
    fn an_idle_daemon_says_none_as_3_4_does() {
        let stats = Stats::new(Config::default());
        let page = render(&stats.snapshot(), &System::default());
        assert!(page.contains(
            "\ndcc_longest_job none\ndcc_longest_job_compiler none\ndcc_longest_job_time_msecs -1\n"
        ));
    }
}
