//! A farm coordinator's view in `distcc-farm` (issue 15): its `/json` (hosts, leases, queue,
//! builds and their shares, recent decisions) rendered as a few lines per section. Fetching
//! is `farm::fetch`; which coordinators to ask is the binary's business (`DISTCC_COORDINATOR`).

use std::fmt::Write as _;

use super::json::Value;

/// The lines for coordinator `addr`, from what `fetch` returned.
pub fn render(addr: &str, got: &Result<Value, String>) -> String {
    let j = match got {
        Ok(j) => j,
        Err(e) => return format!("coordinator {addr}: down ({e})\n"),
    };
    let n = |v: &Value, k: &str| v.get(k).as_u64().unwrap_or(0);
    let s = |v: &Value, k: &str| v.get(k).as_str().unwrap_or("").to_owned();
    let mut out = String::new();
    let hosts = j.get("hosts").as_array();
    let _ = writeln!(
        out,
        "coordinator {addr}: {} hosts, {} slots, {} leased, {} waiting; granted {}, released {}, expired {}, refused {}",
        hosts.len(),
        n(j, "slots"),
        n(j, "leased"),
        n(j, "waiting"),
        n(j, "granted"),
        n(j, "released"),
        n(j, "expired"),
        n(j, "refused")
    );
    for b in j.get("builds").as_array() {
        let _ = writeln!(
            out,
            "  build {:<30} {}@{}: holds {:>3} (fair share {:.1}), waiting {:>3}, granted {}, mean wait {:.0} ms",
            s(b, "build"),
            s(b, "user"),
            s(b, "machine"),
            n(b, "held"),
            b.get("fair_share").as_f64().unwrap_or(0.0),
            n(b, "waiting"),
            n(b, "granted"),
            b.get("mean_wait_ms").as_f64().unwrap_or(0.0)
        );
    }
    for h in hosts {
        let speed = h
            .get("ms_per_kb")
            .as_f64()
            .map_or("? ms/KB".to_owned(), |v| format!("{v:.2} ms/KB"));
        let mut line = format!(
            "  host {:<30} {}/{} slots offered, {} busy, {} leased, {} free, load {:.2}, {speed}",
            s(h, "spec"),
            n(h, "slots"),
            n(h, "jobs"),
            n(h, "busy"),
            n(h, "leased"),
            n(h, "free"),
            h.get("load").as_f64().unwrap_or(0.0)
        );
        if let Some(w) = h.get("withdrawn").as_str() {
            let _ = write!(line, " (withdrawn: {w})");
        }
        if h.get("suspect") == &Value::Bool(true) {
            line.push_str(" (left out after a failure)");
        }
        let _ = writeln!(out, "{line}");
    }
    if let Some(last) = j.get("decisions").as_array().last().and_then(Value::as_str) {
        let _ = writeln!(out, "  last decision: {last}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::farm::json::parse;

    #[test]
    fn a_coordinator_page_renders() {
        let j = parse(
            r#"{"uptime_ms":5,"slots":8,"leased":3,"waiting":1,"granted":9,"released":6,"expired":0,"refused":0,
            "hosts":[{"id":2,"spec":"10.0.0.1:3632/4,lzo","slots":0,"jobs":4,"busy":1,"leased":0,"free":0,"load":3.5,"ms_per_kb":null,"suspect":false,"withdrawn":"other load 2.50 over 1.00"}],
            "builds":[{"build":"m:1","machine":"m","user":"u","held":3,"waiting":1,"fair_share":4.0,"granted":9,"mean_wait_ms":12.0}],
            "decisions":["0.1s host joined","0.2s lease 9 to m:1"]}"#,
        )
        .unwrap();
        let text = render("c:3634", &Ok(j));
        assert!(
            text.starts_with("coordinator c:3634: 1 hosts, 8 slots, 3 leased, 1 waiting"),
            "{text}"
        );
        assert!(text.contains("build m:1"), "{text}");
        assert!(text.contains("holds   3 (fair share 4.0)"), "{text}");
        assert!(
            text.contains("0/4 slots offered") && text.contains("? ms/KB"),
            "{text}"
        );
        assert!(
            text.contains("(withdrawn: other load 2.50 over 1.00)"),
            "{text}"
        );
        assert!(
            text.contains("last decision: 0.2s lease 9 to m:1"),
            "{text}"
        );
        assert_eq!(
            render("c:1", &Err("connection refused".into())),
            "coordinator c:1: down (connection refused)\n"
        );
    }
}
