//! `distccmon-text`'s output: one line per job that is not done, then a blank line, exactly
//! as 3.4 prints it with `printf("%6ld  %-10.10s  %-30.30s %24.24s[%d]\n", …)`.
//!
//! C's `%-30.30s` counts bytes, and file and host names are bytes, so this module pads and
//! cuts bytes, not characters, and never assumes UTF-8. Reading the state is `read`'s job.

use proto::state::{Phase, StateRecord};

/// Appends one poll's output: a line per unfinished job, then the blank line that ends the
/// block.
pub fn render(jobs: &[StateRecord], out: &mut Vec<u8>) {
    for job in jobs.iter().filter(|j| j.phase != Phase::Done) {
        render_line(job, out);
    }
    out.push(b'\n');
}

fn render_line(job: &StateRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{:6}  ", job.pid).as_bytes());
    field(out, job.phase.name().as_bytes(), 10, Align::Left);
    out.extend_from_slice(b"  ");
    field(out, &job.file, 30, Align::Left);
    out.push(b' ');
    field(out, &job.host, 24, Align::Right);
    out.extend_from_slice(format!("[{}]\n", job.slot).as_bytes());
}

enum Align {
    Left,
    Right,
}

/// `%-W.Ws` or `%W.Ws`: at most `width` bytes, padded with spaces to `width`.
fn field(out: &mut Vec<u8>, s: &[u8], width: usize, align: Align) {
    let s = &s[..s.len().min(width)];
    let pad = width - s.len();
    if let Align::Right = align {
        out.resize(out.len() + pad, b' ');
    }
    out.extend_from_slice(s);
    if let Align::Left = align {
        out.resize(out.len() + pad, b' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(pid: u64, phase: Phase, file: &[u8], host: &[u8], slot: i32) -> StateRecord {
        StateRecord {
            pid,
            file: file.to_vec(),
            host: host.to_vec(),
            slot,
            phase,
        }
    }

    #[test]
    fn matches_3_4_line_for_the_captured_job() {
        // distccmon-text 3.4's output for testdata/binstate_3.4.bin (pid 7675).
        let mut out = Vec::new();
        render(
            &[job(7675, Phase::Compile, b"x.c", b"127.0.0.1", 0)],
            &mut out,
        );
        assert_eq!(
            out,
            b"  7675  Compile     x.c                                           127.0.0.1[0]\n\n"
        );
    }

    #[test]
    fn long_fields_are_cut_by_bytes_and_done_jobs_hidden() {
        let mut out = Vec::new();
        let long_file = [b'f'; 40];
        let long_host = b"a-very-long-host-name.example.org:3632";
        render(
            &[
                job(1234567, Phase::Cpp, &long_file, long_host, 12),
                job(5, Phase::Done, b"gone.c", b"h", 0),
            ],
            &mut out,
        );
        let line = String::from_utf8(out).unwrap();
        assert_eq!(
            line,
            format!(
                "1234567  Preprocess  {} a-very-long-host-name.ex[12]\n\n",
                "f".repeat(30)
            )
        );
    }

    #[test]
    fn no_jobs_is_a_blank_line() {
        let mut out = Vec::new();
        render(&[], &mut out);
        assert_eq!(out, b"\n");
    }

    #[test]
    fn non_utf8_names_pass_through() {
        let mut out = Vec::new();
        render(&[job(1, Phase::Send, b"\xff.c", b"h\xfe", 0)], &mut out);
        assert!(out.windows(3).any(|w| w == b"\xff.c"));
        assert!(out.windows(2).any(|w| w == b"h\xfe"));
    }
}
