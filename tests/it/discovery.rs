//! Host discovery: a DNS SRV name in the host list, answered by a real dnsmasq on the
//! loopback of a network namespace this test makes (the namespace's /etc/resolv.conf, which
//! `ip netns exec` bind-mounts from /etc/netns/<name>/, names it), with our daemons on other
//! loopback addresses of the same namespace. Nothing is sent outside the namespace.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::netns::{self, Netns};
use super::support::{OurDaemon, TempDir, ci, require};
use crate::client::client_support::{Sandbox, distcc_bin};

const SRV: &str = "_distcc._tcp.farm.test";

/// A namespace with its own resolv.conf (`nameserver 127.0.0.1`), removed on drop.
struct DnsNetns {
    ns: Netns,
    etc: PathBuf,
}

impl DnsNetns {
    fn new() -> DnsNetns {
        let ns = Netns::new("dns").expect("making a namespace");
        let etc = PathBuf::from("/etc/netns").join(&ns.name);
        std::fs::create_dir_all(&etc).expect("creating /etc/netns/<ns>");
        std::fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
        DnsNetns { ns, etc }
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns.name]).arg(program);
        c
    }
}

impl Drop for DnsNetns {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.etc);
    }
}

/// dnsmasq serving only the records given, on 127.0.0.1:53 of the namespace, with TTL 1 s.
struct Dnsmasq {
    child: Child,
}

impl Dnsmasq {
    fn start(net: &DnsNetns, dir: &TempDir, records: &[String]) -> Dnsmasq {
        let conf = dir.path().join("dnsmasq.conf");
        let mut text = String::from(
            "no-resolv\nno-hosts\nno-poll\nport=53\nlisten-address=127.0.0.1\nbind-interfaces\n\
             local-ttl=1\nuser=root\npid-file=\nlocal=/test/\n",
        );
        for r in records {
            text.push_str(r);
            text.push('\n');
        }
        std::fs::write(&conf, text).unwrap();
        let child = net
            .command("dnsmasq")
            .arg("--keep-in-foreground")
            .arg(format!("--conf-file={}", conf.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting dnsmasq");
        let d = Dnsmasq { child };
        // Ready when it answers: ask for the SRV name until it does.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = net
                .command(distcc_bin())
                .arg("--show-hosts")
                .env("DISTCC_HOSTS", SRV)
                .env("DISTCC_DIR", dir.path().join("probe"))
                .output()
                .unwrap();
            let _ = std::fs::remove_dir_all(dir.path().join("probe"));
            if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
                return d;
            }
            assert!(Instant::now() < deadline, "dnsmasq never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have_tools() -> bool {
    if !require(&["gcc", "dnsmasq", "ip"]) {
        return false;
    }
    if netns::available() {
        return true;
    }
    assert!(!ci(), "CI=true but the discovery tests need root and ip(8)");
    eprintln!("skipping: the discovery tests need root and ip(8)");
    false
}

/// An SRV record of `SRV`: target, port, priority (weight 10).
fn srv(target: &str, port: u16, priority: u16) -> String {
    format!("srv-host={SRV},{target},{port},{priority},10")
}

#[test]
fn srv_name_builds_through_the_hosts_it_names_and_follows_a_changed_record() {
    if !have_tools() {
        return;
    }
    let net = DnsNetns::new();
    let dir = TempDir::new("dnsmasq");
    let allow = ["127.0.0.0/8"];
    // d1 listens on every address of the namespace (it has only loopback), so that both
    // addresses of the two-address name h1 reach it.
    let d1 = OurDaemon::start_in(Some(&net.ns.name), "0.0.0.0", &allow, None, &[]);
    let d2 = OurDaemon::start_in(Some(&net.ns.name), "127.0.0.2", &allow, None, &[]);
    let records = |srvs: &[String]| {
        let mut r = vec![
            "host-record=h1.farm.test,127.0.0.1".to_owned(),
            "host-record=h1.farm.test,127.0.0.3".to_owned(),
            "host-record=h2.farm.test,127.0.0.2".to_owned(),
        ];
        r.extend_from_slice(srvs);
        r
    };
    let dns = Dnsmasq::start(&net, &dir, &records(&[srv("h2.farm.test", d2.port, 0)]));
    let sb = Sandbox::new("srv");
    let hosts = format!("{SRV}/2,lzo");

    // One record: every job goes to d2.
    build_in(&net.ns.name, &sb, &hosts, "src/util.c");
    d2.wait_log("util.c exit 0");
    assert!(!d1.log_text().contains("exit 0"), "d1 served a job");
    let cache = sb.distcc_dir.join("srv").join(format!("srv_{SRV}"));
    let cached = std::fs::read_to_string(&cache).expect("the SRV answer is cached");
    assert!(
        cached.ends_with(&format!("\n127.0.0.2 {}\n", d2.port)),
        "{cached}"
    );

    // The record now also names h1, a name with two addresses, first (lower priority
    // value); after the 1 s TTL the client asks again and builds there.
    drop(dns);
    let _dns = Dnsmasq::start(
        &net,
        &dir,
        &records(&[
            srv("h2.farm.test", d2.port, 1),
            srv("h1.farm.test", d1.port, 0),
        ]),
    );
    std::thread::sleep(Duration::from_millis(2100));
    let mut show = net.command(distcc_bin());
    show.arg("--show-hosts");
    sb.env(&mut show, &hosts);
    let shown = String::from_utf8(show.output().unwrap().stdout).unwrap();
    assert_eq!(
        shown,
        format!(
            "127.0.0.1:{p}/2,lzo\n127.0.0.3:{p}/2,lzo\n127.0.0.2:{}/2,lzo\n",
            d2.port,
            p = d1.port
        )
    );
    build_in(&net.ns.name, &sb, &hosts, "src/main.c");
    d1.wait_log("main.c exit 0");
    // distcc-farm shows the hosts the name stands for.
    let mut farm = net.command(env!("CARGO_BIN_EXE_distcc-farm"));
    farm.args(["--timeout", "0.5"]);
    sb.env(&mut farm, &hosts);
    let farm = String::from_utf8(farm.output().unwrap().stdout).unwrap();
    for port in [d1.port, d2.port] {
        assert!(farm.contains(&format!(":{port}")), "{farm}");
    }
}

#[test]
fn a_daemon_stopped_mid_build_under_an_srv_name_fails_no_compile() {
    if !have_tools() {
        return;
    }
    let net = DnsNetns::new();
    let dir = TempDir::new("dnsmasq");
    let allow = ["127.0.0.0/8"];
    let d1 = OurDaemon::start_in(Some(&net.ns.name), "127.0.0.1", &allow, None, &[]);
    let d2 = OurDaemon::start_in(Some(&net.ns.name), "127.0.0.2", &allow, None, &[]);
    let _dns = Dnsmasq::start(
        &net,
        &dir,
        &[
            "host-record=h1.farm.test,127.0.0.1".to_owned(),
            "host-record=h2.farm.test,127.0.0.2".to_owned(),
            srv("h1.farm.test", d1.port, 0),
            srv("h2.farm.test", d2.port, 0),
        ],
    );
    let sb = Sandbox::new("srvstop");
    // Files that take gcc -O2 a moment each, so the stop lands while jobs run.
    let files = bulky_sources(&sb);
    build_killing_d1_midway(&net.ns.name, &sb, &format!("{SRV}/2,lzo"), &files, &d1);
    // Some job lost d1 (mid-job or at connect) and went on to d2 instead of failing.
    let lost = format!("to 127.0.0.1:{}/2,lzo: ", d1.port);
    assert!(
        sb.log_text().contains(&lost),
        "no job was refused by the stopped d1:\n{}",
        sb.log_text()
    );
    assert!(
        d2.log_text().matches("exit 0").count() >= 12,
        "d2 did not take over: {}",
        d2.log_text()
    );
    assert_built_as_locally(&sb, &files);
}

/// Kills the `+zeroconf` browser a client started under `distcc_dir` (its pid file), on drop.
struct Browser(PathBuf);

impl Drop for Browser {
    fn drop(&mut self) {
        let pid_file = self.0.join("zeroconf").join("browser.pid");
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .filter(|&p| p > 1)
        {
            // SAFETY: plain syscall on the pid the browser wrote.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            // SAFETY: plain syscall.
            while unsafe { libc::kill(pid, 0) } == 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            // SAFETY: plain syscall.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// `distcc --show-hosts` with `+zeroconf` in namespace `ns`, until it lists `want` entries.
fn zeroconf_hosts(ns: &str, sb: &Sandbox, want: usize) -> Vec<String> {
    zeroconf_hosts_until(ns, sb, |l| l.len() >= want)
}

/// `distcc --show-hosts` with `+zeroconf` in namespace `ns`, until `done` holds of its lines.
fn zeroconf_hosts_until(ns: &str, sb: &Sandbox, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns])
            .arg(distcc_bin())
            .arg("--show-hosts");
        sb.env(&mut c, "+zeroconf");
        let out = c.output().unwrap();
        let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        if done(&lines) {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "+zeroconf found {lines:?}, not what was expected\nlog:\n{}",
            sb.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Compiles `files` with `hosts` in namespace `ns`, four at a time and with no local fallback
/// (a job that lost its host must be retried on another one); once `d1` has served a job,
/// SIGKILLs it while a batch is on its way. Every compile must still succeed.
fn build_killing_d1_midway(ns: &str, sb: &Sandbox, hosts: &str, files: &[String], d1: &OurDaemon) {
    let spawn = |f: &str| {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).arg(distcc_bin());
        let obj = format!("out/{}.o", f.trim_start_matches("src/"));
        c.args(["gcc", "-O2", "-c", f, "-o", &obj]);
        sb.env(&mut c, hosts);
        c.env("DISTCC_FALLBACK", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c.spawn().expect("running distcc")
    };
    let mut stopped = false;
    for batch in files.chunks(4) {
        let children: Vec<Child> = batch.iter().map(|f| spawn(f)).collect();
        if !stopped && d1.log_text().contains("exit 0") {
            // d1 has served jobs and this batch is on its way: stop d1 now.
            std::thread::sleep(Duration::from_millis(50));
            d1.signal(libc::SIGKILL);
            stopped = true;
        }
        for (c, f) in children.into_iter().zip(batch) {
            let out = c.wait_with_output().unwrap();
            sb.assert_ok(&out, format_args!("{f}"));
        }
    }
    assert!(stopped, "d1 never served a job before the end of the build");
}

/// Each of `files`, built remotely into `out/`, equals gcc -O2's local object.
fn assert_built_as_locally(sb: &Sandbox, files: &[String]) {
    for f in files {
        let obj = format!("out/{}.o", f.trim_start_matches("src/"));
        assert_same_as_local(sb, &[], f, &obj);
    }
}

/// One compile of `src` with `hosts` in namespace `ns`, no fallback, object equal to a local
/// one.
fn build_in(ns: &str, sb: &Sandbox, hosts: &str, src: &str) {
    let obj = format!("out/{}.o", src.trim_start_matches("src/"));
    let _ = std::fs::remove_file(sb.path().join(&obj));
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).arg(distcc_bin());
    c.args(["gcc", "-O2", "-Iinclude", "-c", src, "-o", &obj]);
    sb.env(&mut c, hosts);
    c.env("DISTCC_FALLBACK", "0");
    let out = c.output().expect("running distcc");
    sb.assert_ok(&out, format_args!("{src}"));
    assert_same_as_local(sb, &["-Iinclude"], src, &obj);
}

/// `obj` (built remotely) equals what `gcc -O2 FLAGS -c src` makes here.
fn assert_same_as_local(sb: &Sandbox, flags: &[&str], src: &str, obj: &str) {
    let remote = sb.read(obj);
    let st = Command::new("gcc")
        .arg("-O2")
        .args(flags)
        .args(["-c", src, "-o", "out/local.o"])
        .current_dir(sb.path())
        .status()
        .unwrap();
    assert!(st.success());
    assert!(
        remote == sb.read("out/local.o"),
        "{obj} differs from a local build"
    );
}

/// Writes 24 C files that take gcc -O2 a moment each; returns their names.
fn bulky_sources(sb: &Sandbox) -> Vec<String> {
    let files: Vec<String> = (0..24).map(|i| format!("src/gen{i}.c")).collect();
    for (i, f) in files.iter().enumerate() {
        let mut text = String::new();
        for j in 0..60 {
            text.push_str(&format!(
                "int f{j}(int *a, int n) {{ int s = {i}; for (int k = 0; k < n; k++) \
                 s += a[k] * {j} ^ (s >> 3); return s; }}\n"
            ));
        }
        std::fs::write(sb.path().join(f), text).unwrap();
    }
    files
}

#[test]
fn zeroconf_client_finds_our_daemons_follows_them_coming_and_going_and_a_killed_one_fails_no_compile()
 {
    if !require(&["gcc", "ip"]) {
        return;
    }
    if !netns::available() {
        assert!(!ci(), "CI=true but the zeroconf tests need root and ip(8)");
        eprintln!("skipping: the zeroconf tests need root and ip(8)");
        return;
    }
    // Two namespaces joined by a veth: mDNS stays on that link.
    let link = netns::Link::new().expect("making namespaces");
    let allow = format!("{}/32", link.client_addr);
    let start = || {
        OurDaemon::start_in(
            Some(&link.server.name),
            &link.server_addr,
            &[&allow],
            None,
            &["--zeroconf"],
        )
    };
    let d1 = start();
    let d2 = start();
    d1.wait_log("announced as distcc@");
    let sb = Sandbox::new("zeroconf");
    let _browser = Browser(sb.distcc_dir.clone());
    let mut shown = zeroconf_hosts(&link.client.name, &sb, 2);
    shown.sort();
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get()) + 2;
    let mut want = vec![
        format!("{}:{}/{jobs}", link.server_addr, d1.port),
        format!("{}:{}/{jobs}", link.server_addr, d2.port),
    ];
    want.sort();
    assert_eq!(shown, want);

    let files = bulky_sources(&sb);
    build_killing_d1_midway(&link.client.name, &sb, "+zeroconf", &files, &d1);
    // A daemon that starts is picked up; one that stops (SIGTERM: it says goodbye) is dropped.
    let d3 = start();
    let d3_entry = format!("{}:{}/{jobs}", link.server_addr, d3.port);
    zeroconf_hosts_until(&link.client.name, &sb, |l| l.contains(&d3_entry));
    let d2_entry = format!("{}:{}/{jobs}", link.server_addr, d2.port);
    let d2_log = d2.log_text();
    let mut d2 = d2;
    d2.terminate();
    zeroconf_hosts_until(&link.client.name, &sb, |l| {
        !l.contains(&d2_entry) && l.contains(&d3_entry)
    });
    build_in(&link.client.name, &sb, "+zeroconf", "src/util.c");
    d3.wait_log("util.c exit 0");
    assert!(
        d2_log.matches("exit 0").count() >= 12,
        "d2 did not take over: {d2_log}"
    );
    assert_built_as_locally(&sb, &files);
}

#[test]
fn zeroconf_browser_kept_to_one_interface_sees_nothing_on_another() {
    if !require(&["ip"]) {
        return;
    }
    if !netns::available() {
        assert!(!ci(), "CI=true but the zeroconf tests need root and ip(8)");
        eprintln!("skipping: the zeroconf tests need root and ip(8)");
        return;
    }
    let link = netns::Link::new().expect("making namespaces");
    let allow = format!("{}/32", link.client_addr);
    let d = OurDaemon::start_in(
        Some(&link.server.name),
        &link.server_addr,
        &[&allow],
        None,
        &["--zeroconf"],
    );
    d.wait_log("announced as distcc@");
    let sb = Sandbox::new("zcif");
    {
        // Kept to loopback, the browser never hears the daemon on the veth.
        let _browser = Browser(sb.distcc_dir.clone());
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &link.client.name])
                .arg(distcc_bin())
                .arg("--show-hosts");
            sb.env(&mut c, "+zeroconf");
            c.env("DISTCC_ZEROCONF_INTERFACE", "lo");
            let out = c.output().unwrap();
            assert!(
                out.stdout.is_empty(),
                "a loopback-only browser found {}",
                String::from_utf8_lossy(&out.stdout)
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    // The same browser on the veth finds it: the setup itself works.
    std::fs::remove_dir_all(sb.distcc_dir.join("zeroconf")).unwrap();
    let _browser = Browser(sb.distcc_dir.clone());
    let found = zeroconf_hosts_until(&link.client.name, &sb, |l| !l.is_empty());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with(&format!("{}:{}/", link.server_addr, d.port)));
}

#[test]
fn dns_sd_name_expands_to_its_instances_with_the_slots_their_txt_records_give() {
    if !have_tools() {
        return;
    }
    let net = DnsNetns::new();
    let dir = TempDir::new("dnsmasq");
    let allow = ["127.0.0.0/8"];
    let d1 = OurDaemon::start_in(Some(&net.ns.name), "127.0.0.1", &allow, None, &[]);
    let d2 = OurDaemon::start_in(Some(&net.ns.name), "127.0.0.2", &allow, None, &[]);
    let site = "_distcc._tcp.site.test";
    let _dns = Dnsmasq::start(
        &net,
        &dir,
        &[
            "host-record=h1.farm.test,127.0.0.1".to_owned(),
            "host-record=h2.farm.test,127.0.0.2".to_owned(),
            // For Dnsmasq::start's readiness probe.
            srv("h1.farm.test", d1.port, 0),
            // DNS-SD (RFC 6763): the type's instances, each with SRV and (one) TXT.
            format!("ptr-record={site},a.{site}"),
            format!("ptr-record={site},b.{site}"),
            format!("srv-host=a.{site},h1.farm.test,{},0,10", d1.port),
            format!("srv-host=b.{site},h2.farm.test,{},0,10", d2.port),
            format!("txt-record=a.{site},\"txtvers=1\",\"jobs=3\""),
        ],
    );
    let sb = Sandbox::new("dnssd");
    let mut show = net.command(distcc_bin());
    show.arg("--show-hosts");
    sb.env(&mut show, &format!("{site}/2"));
    let out = show.output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("127.0.0.1:{}/3\n127.0.0.2:{}/2\n", d1.port, d2.port),
        "log:\n{}",
        sb.log_text()
    );
    for src in ["src/util.c", "src/main.c"] {
        build_in(&net.ns.name, &sb, &format!("{site}/2"), src);
    }
}
