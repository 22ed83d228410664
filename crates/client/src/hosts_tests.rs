use super::*;

fn one(s: &str) -> Host {
    let l = parse(s, "test").unwrap();
    assert_eq!(l.hosts.len(), 1, "{s}");
    l.hosts.into_iter().next().unwrap()
}

fn err(s: &str) -> HostSpecError {
    parse(s, "test").unwrap_err()
}

fn tcp(h: &Host) -> (&str, u16) {
    match &h.transport {
        Transport::Tcp { host, port } => (host, *port),
        other => panic!("not tcp: {other:?}"),
    }
}

#[test]
fn tcp_forms() {
    let h = one("build1");
    assert_eq!(tcp(&h), ("build1", 3632));
    assert_eq!(h.slots, 4);
    assert_eq!(h.protocol(), proto::Version::V1);
    let h = one("10.0.0.1:4000/8,lzo");
    assert_eq!(tcp(&h), ("10.0.0.1", 4000));
    assert_eq!(h.slots, 8);
    assert_eq!(h.protocol(), proto::Version::V2);
    let h = one("b/3:4000");
    assert_eq!((tcp(&h), h.slots), (("b", 4000), 3));
    let h = one("b,cpp,lzo");
    assert_eq!(h.protocol(), proto::Version::V3);
    let h = one("[::1]:4000/2");
    assert_eq!((tcp(&h), h.slots), (("::1", 4000), 2));
    assert_eq!(h.lock_stem(), "tcp_::1_4000");
    assert_eq!(one("a:1").lock_stem(), "tcp_a_1");
}

#[test]
fn localhost_and_ssh() {
    let h = one("localhost");
    assert!(h.is_local());
    assert_eq!(h.slots, 2);
    assert_eq!(one("localhost/6").slots, 6);
    assert_eq!(h.lock_stem(), "localhost");
    // localhost with a port is a tcp host, as in 3.4.
    assert_eq!(tcp(&one("localhost:3633")), ("localhost", 3633));
    let h = one("alice@box/3:/opt/bin/distccd,lzo");
    assert_eq!(
        h.transport,
        Transport::Ssh {
            user: Some("alice".into()),
            host: "box".into(),
            command: Some("/opt/bin/distccd".into())
        }
    );
    assert_eq!((h.slots, h.lzo), (3, true));
    assert_eq!(h.lock_stem(), "ssh_box");
    let h = one("@box");
    assert!(matches!(h.transport, Transport::Ssh { user: None, .. }));
}

#[test]
fn lists_comments_and_options() {
    let l = parse(
        "# build farm\n  a:1/2 b\t# trailing\n--localslots=3 --localslots_cpp/5\nc#x\n--randomize\n",
        "hosts",
    )
    .unwrap();
    let specs: Vec<&str> = l.hosts.iter().map(|h| h.spec.as_str()).collect();
    assert_eq!(specs, ["a:1/2", "b", "c"]);
    assert_eq!(
        (l.local_slots, l.local_slots_cpp, l.randomize),
        (3, 5, true)
    );
    assert_eq!(l.total_slots(), 10);
    assert!(parse("", "x").unwrap().hosts.is_empty());
    assert!(parse("# only a comment", "x").unwrap().hosts.is_empty());
}

#[test]
fn bad_specs_name_the_entry() {
    let e = err("good bad:port");
    assert_eq!(e.spec, "bad:port");
    assert!(e.to_string().contains("\"bad:port\""), "{e}");
    assert_eq!(err("h/0").why, "the job limit must be at least 1");
    assert_eq!(err("h,zip").spec, "h,zip");
    assert_eq!(
        err("h,cpp").why,
        "pump mode (,cpp) requires compression (,lzo)"
    );
    assert!(err("[::1").why.contains("']'"));
    assert!(err(":3632").why.contains("host name"));
    assert!(err("u@").why.contains("host name"));
    assert!(err("h:99999").why.contains("port"));
    assert!(err("--localslots=x").why.contains("localslots"));
    assert!(err("--bogus").why.contains("unknown"));
    assert!(err("localhost/2x").why.contains("localhost"));
}

#[test]
fn randomize_keeps_every_host() {
    let mut l = parse("a b c d e", "x").unwrap();
    l.randomize(1234);
    let mut specs: Vec<String> = l.hosts.iter().map(|h| h.spec.clone()).collect();
    specs.sort();
    assert_eq!(specs, ["a", "b", "c", "d", "e"]);
}

#[test]
fn down_marks_a_host_unusable_as_lsdistcc_x_prints_it() {
    let l = parse("a:4000,lzo,down b,down/3 @c,down b2", "test").unwrap_err();
    assert!(l.why.contains("unknown option"), "{l}");
    let l = parse("a:4000,lzo,down b/3,down @c,down b2/2", "test").unwrap();
    let down: Vec<bool> = l.hosts.iter().map(|h| h.down).collect();
    assert_eq!(down, [true, true, true, false]);
    assert_eq!(l.hosts[0].protocol(), proto::Version::V2);
    assert_eq!(l.total_slots(), 2, "down hosts are not counted by -j");
}

#[test]
fn tls_is_an_option_of_tcp_and_srv_entries_only() {
    let h = one("build1:4000/2,lzo,tls");
    assert!(h.tls && h.lzo);
    assert_eq!(tcp(&h), ("build1", 4000));
    assert!(!one("build1").tls);
    assert!(one("_distcc._tcp.farm.test,tls").tls);
    assert!(err("me@build1,tls").why.contains("ssh already encrypts"));
    assert!(err("build1,auth").why.contains("use ,tls"));
}

#[test]
fn an_reapi_engine_is_one_entry_with_its_instance() {
    let l = parse("reapi://127.0.0.1:8980/main,lzo a", "test").unwrap();
    assert_eq!(
        l.hosts[0].transport,
        Transport::Reapi {
            url: "reapi://127.0.0.1:8980/main".into()
        }
    );
    assert!(l.hosts[0].lzo);
    assert_eq!(l.hosts[0].slots, 16);
    assert_eq!(l.hosts[0].lock_stem(), "reapi_127.0.0.1_8980_main");
    assert!(parse("reapi://nohostport", "test").is_err());
    assert!(parse("reapi://h:1/i,lzo,cpp", "test").unwrap().hosts[0].cpp);
    // TLS to the engine: the address distcc-reapi gets says so.
    let l = parse("reapi://h:1/i,tls", "test").unwrap();
    assert_eq!(
        l.hosts[0].transport,
        Transport::Reapi {
            url: "reapi://h:1/i,tls".into()
        }
    );
}

#[test]
fn coordinator_entries_are_not_hosts() {
    let l = parse(
        "coord://farm.example # the farm\nb:4000/2 coord://[::1]:4001,tls",
        "test",
    )
    .unwrap();
    assert_eq!(l.hosts.len(), 1);
    assert_eq!(tcp(&l.hosts[0]), ("b", 4000));
    let t = |h: &str, port, tls| crate::coord::Target {
        host: h.to_owned(),
        port,
        tls,
    };
    assert_eq!(
        l.coordinators,
        vec![
            t("farm.example", crate::coord::DEFAULT_PORT, false),
            t("::1", 4001, true)
        ]
    );
    assert!(parse("a", "test").unwrap().coordinators.is_empty());
    let e = err("a coord://c:x");
    assert_eq!(e.spec, "coord://c:x");
    assert!(e.why.contains("coord://HOST[:PORT][,tls]"), "{e}");
    assert!(parse("coord://c,lzo", "test").is_err());
    assert!(parse("coord://", "test").is_err());
}
