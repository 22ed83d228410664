use super::*;

fn host(spec: &str, slots: u32) -> HostReport {
    HostReport {
        spec: spec.to_owned(),
        slots,
        jobs: slots,
        ..HostReport::default()
    }
}

fn req(build: &str) -> Request {
    Request {
        build: build.to_owned(),
        machine: "m".to_owned(),
        user: "u".to_owned(),
        size: 4096,
        ..Request::default()
    }
}

fn granted(o: Outcome) -> Grant {
    match o {
        Outcome::Granted(g) => g,
        other => panic!("not granted: {other:?}"),
    }
}

/// Gives `spec` a learned speed of `ms_per_kb` over `n` jobs.
fn teach(farm: &mut Farm, spec: &str, ms_per_kb: u64, n: u32) {
    for h in farm.hosts.values_mut() {
        if h.report.spec == spec {
            h.learned = Learned {
                ms_per_kb: ms_per_kb as f64,
                jobs: n,
            };
        }
    }
    farm.learn_fastest();
}

#[test]
fn speed_is_learned_from_released_jobs() {
    let mut farm = Farm::new(Duration::from_secs(60));
    farm.register(host("h:1/1", 1), 0);
    let g = granted(farm.request(1, req("b"), 0).0);
    // 4096 bytes is the 4 KB floor: 40 ms is 10 ms/KB.
    farm.release(g.lease, Some(40), false, 1);
    assert!(
        farm.json(2).contains("\"ms_per_kb\":10.000"),
        "{}",
        farm.json(2)
    );
}

#[test]
fn no_daemon_means_refused_so_the_client_schedules_itself() {
    let mut farm = Farm::new(Duration::from_secs(60));
    assert!(matches!(
        farm.request(1, req("b"), 0).0,
        Outcome::Refused(_)
    ));
    farm.register(host("a:1/2", 2), 0);
    let mut r = req("b");
    r.avoid = vec!["a:1/2".to_owned()];
    assert!(matches!(farm.request(1, r, 0).0, Outcome::Refused(_)));
}

#[test]
fn fastest_free_slot_first() {
    let mut farm = Farm::new(Duration::from_secs(60));
    farm.register(host("slow:1/4", 4), 0);
    farm.register(host("fast:1/4", 4), 0);
    teach(&mut farm, "slow:1/4", 30, 5);
    teach(&mut farm, "fast:1/4", 10, 5);
    for conn in 1..=4 {
        let g = granted(farm.request(conn, req("b"), 1).0);
        assert_eq!(g.spec, "fast:1/4", "{}", g.why);
        assert!(g.why.contains("fastest free"), "{}", g.why);
    }
    // The fast host is full; with 1 waiting the slow host (3x) would be the tail.
    let (o, _) = farm.request(5, req("b"), 2);
    assert_eq!(o, Outcome::Queued(0));
    assert_eq!(farm.waiting(), 1);
    // A long queue makes the slow host worth it: 40/4 = 10 ms + 40 ms ≥ 120 ms? No; queue of
    // 20: 20 / (4/10) + 10 = 60 ≥ 30 → the slow host helps.
    let mut took_slow = false;
    for conn in 6..30 {
        let (o, others) = farm.request(conn, req("b"), 3);
        let mine = match o {
            Outcome::Granted(g) => Some(g),
            _ => None,
        };
        for g in mine.into_iter().chain(others.into_iter().map(|(_, g)| g)) {
            assert_eq!(g.spec, "slow:1/4");
            assert!(g.why.contains("slower"), "{}", g.why);
            took_slow = true;
        }
        if !took_slow {
            // 10 ms/KB with 4 slots drains 0.4 jobs per ms-per-KB: 8 waiting make 30 worth it.
            assert!(farm.waiting() < 8, "{}", farm.waiting());
        }
    }
    assert!(took_slow);
}

#[test]
fn equal_hosts_spread_to_the_one_with_most_free_slots() {
    let mut farm = Farm::new(Duration::from_secs(60));
    farm.register(host("a:1/4", 4), 0);
    farm.register(host("b:1/4", 4), 0);
    let specs: Vec<String> = (1..=4)
        .map(|c| granted(farm.request(c, req("x"), 0).0).spec)
        .collect();
    assert_eq!(
        specs.iter().filter(|s| s.starts_with('a')).count(),
        2,
        "{specs:?}"
    );
}

#[test]
fn a_freed_slot_goes_to_the_build_holding_fewest() {
    let mut farm = Farm::new(Duration::from_secs(60));
    farm.register(host("h:1/4", 4), 0);
    let big: Vec<Grant> = (1..=4)
        .map(|c| granted(farm.request(c, req("big"), 0).0))
        .collect();
    // big asks for more, then small arrives: both wait.
    for c in 10..15 {
        assert!(matches!(
            farm.request(c, req("big"), 1).0,
            Outcome::Queued(_)
        ));
    }
    assert_eq!(farm.request(20, req("small"), 2).0, Outcome::Queued(5));
    let grants = farm.release(big[0].lease, Some(10), false, 3);
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].0, 20, "small holds nothing, so it goes first");
    // Next freed slot: big holds 3, small 1 → small again if it waits, else big.
    assert!(matches!(
        farm.request(21, req("small"), 4).0,
        Outcome::Queued(_)
    ));
    let grants = farm.release(big[1].lease, Some(10), false, 5);
    assert_eq!(grants[0].0, 21);
    let grants = farm.release(big[2].lease, Some(10), false, 6);
    assert_eq!(grants[0].0, 10, "big's earliest waiter");
    let json = farm.json(7);
    assert!(json.contains("\"build\":\"small\""), "{json}");
    assert!(json.contains("\"fair_share\":2.00"), "{json}");
}

#[test]
fn a_closed_connection_frees_its_lease_at_once() {
    let mut farm = Farm::new(Duration::from_secs(60));
    farm.register(host("h:1/1", 1), 0);
    granted(farm.request(1, req("a"), 0).0);
    assert!(matches!(farm.request(2, req("b"), 0).0, Outcome::Queued(0)));
    let grants = farm.closed(1, 1);
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].0, 2);
    // A waiter that goes away is forgotten.
    assert!(matches!(farm.request(3, req("c"), 2).0, Outcome::Queued(0)));
    farm.closed(3, 3);
    assert_eq!(farm.waiting(), 0);
}

#[test]
fn jobs_the_daemon_reports_count_as_busy() {
    let mut farm = Farm::new(Duration::from_secs(60));
    let (id, _) = farm.register(host("h:1/4", 4), 0);
    let mut r = host("h:1/4", 4);
    r.busy = 3; // 3.4 clients compiling there directly
    farm.update(id, r.clone(), 0);
    granted(farm.request(1, req("a"), 0).0);
    assert!(matches!(farm.request(2, req("a"), 0).0, Outcome::Queued(_)));
    // The next report counts our lease's job among the busy ones: still full, not 2 + 3.
    r.busy = 4;
    farm.update(id, r.clone(), 1);
    assert!(farm.dispatch(1).is_empty());
    // Two 3.4 jobs ended.
    r.busy = 2;
    farm.update(id, r, 2);
    assert_eq!(farm.dispatch(2).len(), 1);
}

#[test]
fn a_withdrawn_host_gets_nothing_until_it_offers_again() {
    let mut farm = Farm::new(Duration::from_secs(60));
    let (id, _) = farm.register(host("h:1/2", 2), 0);
    let mut r = host("h:1/2", 2);
    r.slots = 0;
    r.withdrawn = Some("load 3.0 of other work".to_owned());
    farm.update(id, r, 0);
    assert!(matches!(farm.request(1, req("a"), 0).0, Outcome::Queued(_)));
    farm.update(id, host("h:1/2", 2), 1);
    assert_eq!(farm.dispatch(1).len(), 1);
    assert!(farm.json(2).contains("offers 0 of 2 slots: load 3.0"));
}

#[test]
fn a_daemon_that_leaves_frees_its_leases_and_one_that_returns_replaces_itself() {
    let mut farm = Farm::new(Duration::from_secs(60));
    let (id, _) = farm.register(host("h:1/2", 2), 0);
    farm.register(host("k:1/2", 2), 0);
    let g = granted(farm.request(7, req("a"), 0).0);
    let (gone_id, other) = if g.spec == "h:1/2" {
        (id, "k:1/2")
    } else {
        (id + 1, "h:1/2")
    };
    assert_eq!(farm.remove(gone_id, 1), vec![7]);
    assert_eq!(farm.leases.len(), 0);
    // The client retries, avoiding the dead host.
    let mut r = req("a");
    r.avoid = vec![g.spec.clone()];
    assert_eq!(granted(farm.request(7, r, 2).0).spec, other);
    // A restarted daemon registers under the same spec: one entry, not two.
    let (_, closed) = farm.register(host(other, 2), 3);
    assert_eq!(closed, vec![7]);
    assert_eq!(farm.hosts.len(), 1);
}

#[test]
fn a_failed_host_is_left_out_for_a_while() {
    let mut farm = Farm::new(Duration::from_secs(60));
    farm.register(host("h:1/2", 2), 0);
    let g = granted(farm.request(1, req("a"), 0).0);
    farm.release(g.lease, None, true, 10);
    assert!(matches!(
        farm.request(1, req("a"), 20).0,
        Outcome::Queued(_)
    ));
    let later = 10 + SUSPECT.as_millis() as u64;
    assert_eq!(farm.dispatch(later).len(), 1);
}

#[test]
fn leases_expire() {
    let mut farm = Farm::new(Duration::from_secs(1));
    farm.register(host("h:1/1", 1), 0);
    granted(farm.request(1, req("a"), 0).0);
    assert!(matches!(farm.request(2, req("b"), 0).0, Outcome::Queued(_)));
    let (conns, grants) = farm.expire(999);
    assert!(conns.is_empty() && grants.is_empty());
    let (conns, grants) = farm.expire(1000);
    assert_eq!(conns, vec![1]);
    assert_eq!(grants[0].0, 2);
    assert_eq!(farm.expired, 1);
}

#[test]
fn compiler_identity_limits_the_hosts() {
    let mut farm = Farm::new(Duration::from_secs(60));
    let mut a = host("a:1/2", 2);
    a.ccids = vec!["gcc-12".to_owned()];
    farm.register(a, 0);
    let mut r = req("x");
    r.ccid = "clang-14".to_owned();
    assert!(matches!(
        farm.request(1, r.clone(), 0).0,
        Outcome::Refused(_)
    ));
    r.ccid = "gcc-12".to_owned();
    granted(farm.request(1, r, 0).0);
}

#[test]
fn pages_escape_what_peers_send() {
    let mut farm = Farm::new(Duration::from_secs(60));
    farm.register(host("h\"<x>:1/1", 1), 0);
    let j = farm.json(0);
    assert!(j.contains("h\\\"\\u003cx>:1/1"), "{j}");
    let p = farm.prometheus();
    assert!(p.contains("host=\"h\\\"<x>:1/1\""), "{p}");
}

/// A simulation over the same code: 1,000 hosts, 100 clients leasing and releasing.
#[test]
fn a_thousand_hosts_and_a_hundred_clients() {
    let mut farm = Farm::new(Duration::from_secs(60));
    for i in 0..1000 {
        farm.register(host(&format!("10.0.{}.{}:3632/4", i / 250, i % 250), 4), 0);
    }
    let mut held = Vec::new();
    for c in 0..100u64 {
        held.push(granted(farm.request(c, req(&format!("b{}", c % 3)), 0).0));
    }
    for round in 1..50u64 {
        for (c, g) in held.iter_mut().enumerate() {
            farm.release(g.lease, Some(40), false, round);
            *g = granted(farm.request(c as u64, req(&format!("b{}", c % 3)), round).0);
        }
    }
    assert_eq!(farm.leases.len(), 100);
    assert_eq!(farm.granted, 100 * 50);
}
